"""What a run's timeline holds: each message copy on the network, and notes.

Simulated runs (`hotline.sim.exercise.Exercise`, when asked to record) and live runs
(`hotline.live.LiveExercise`, always) both keep one; the terminal timeline and the
HTML report's sequence diagrams read any `Timeline`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hotline.core.signing import StationKey
from hotline.sim.model import Scenario


@dataclass(slots=True)
class MessageRecord:
    """One copy of one message on the network (times in exercise seconds)."""

    sent_at: float
    channel: str
    kind: str
    incident: str
    sender: str
    recipient: str
    fate: str = "in-flight"  # delivered, dropped (why), rejected (reason)
    arrived_at: float | None = None


@dataclass(slots=True)
class Note:
    """Something worth a line in the timeline that is not a message: decisions, script."""

    at: float
    party: str
    incident: str
    text: str


class Timeline(Protocol):
    """A run that kept its timeline (``records`` is None when it did not)."""

    @property
    def scenario(self) -> Scenario:
        """The scenario run."""

    @property
    def records(self) -> Sequence[MessageRecord] | None:
        """Every message copy, in the order sent."""

    @property
    def notes(self) -> Sequence[Note]:
        """Decisions and script actions, in the order made."""

    @property
    def kept_journals(self) -> Sequence[tuple[Path, Path]]:
        """Journals earlier runs left where this one writes, and where they were moved."""

    @property
    def station_keys(self) -> Mapping[str, StationKey]:
        """The private key of each station, by station id."""

    @property
    def head_refusals(self) -> Sequence[str]:
        """Journal heads left uncountersigned as the run ended, and why."""
