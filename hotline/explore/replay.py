"""A counterexample, run: the scenario's world driven along a pinned path.

`hotline explore --counterexamples DIR` writes each violation as the scenario with a
``[replay]`` table: the path's steps, as the explorer printed them. `replay` starts the
same world (`hotline.explore.world`), takes at each step the one next step whose words
match, and stops when the path does; the run it returns is read as any run is
(`hotline.sim.result.build_result`: invariants, expectations, outcomes), so the
violation shows where a run would show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.core.errors import HotlineError
from hotline.core.incident import Incident, Role
from hotline.core.names import Channel
from hotline.core.signing import StationKey
from hotline.explore.world import Bounds, World, initial_world
from hotline.sim.exercise import Tally
from hotline.sim.invariants import Watch
from hotline.sim.model import Replay, Scenario
from hotline.sim.timeline import MessageRecord, Note


class ReplayError(HotlineError):
    """The path does not take the scenario where it says (the scenario or the protocol
    changed since it was written)."""


@dataclass(slots=True)
class Replayed:
    """A run along a pinned path, read as a simulated run is."""

    scenario: Scenario
    world: World  # where the path ends
    tally: Tally  # the copies sent, delivered, lost and refused along it
    watch: Watch  # what the posts accepted along it
    notes: list[Note]  # its steps
    seed: int = 0

    @property
    def elapsed(self) -> float:
        """Exercise seconds from the start to the path's last step."""
        return self.world.now - self.scenario.start

    @property
    def records(self) -> Sequence[MessageRecord] | None:
        """Every copy sent along the path, and its fate, in the order sent."""
        timeline = self.world.timeline
        return None if timeline is None else list(timeline.values())

    @property
    def kept_journals(self) -> Sequence[tuple[Path, Path]]:
        """A replay writes no journals."""
        return ()

    @property
    def station_keys(self) -> dict[str, StationKey]:
        """A replay signs nothing."""
        return {}

    @property
    def head_refusals(self) -> Sequence[str]:
        """A replay exchanges no journal heads."""
        return ()

    def incidents(self) -> list[Incident]:
        """Every incident, from its originator's view."""
        return [i for i in self.world.incidents() if i.role is Role.ORIGINATOR]

    def views(self) -> list[tuple[str, Incident]]:
        """Every responder view, with its party."""
        return [
            (party, view)
            for party, endpoint in self.world.endpoints.items()
            for view in endpoint.incidents()
            if view.role is Role.RESPONDER
        ]

    def local_ends(self) -> dict[str, float]:
        """Where the path stopped, on each post's clock (one clock: no skew)."""
        return dict.fromkeys(self.world.endpoints, self.world.now)

    def declared(self) -> dict[str, dict[Channel, str]]:
        """What each party last declared of its lines."""
        return {
            party: {line: state for (who, line), state in ep.declared.items() if who == party}
            for party, ep in self.world.endpoints.items()
        }


def replay(scenario: Scenario) -> Replayed:
    """Run ``scenario`` along its ``[replay]`` path.

    Raises:
        ReplayError: a step no next step matches (naming it and what could come next).
    """
    pinned = scenario.replay
    assert pinned is not None  # callers run replays only
    world = initial_world(scenario, bounds_of(pinned))
    world.timeline = {}  # every copy's fate, for the timeline and the report
    notes = []
    for number, step in enumerate(pinned.steps, 1):
        chosen = None
        options = []
        for label, after in world.successors():
            options.append(label)
            if label == step:
                chosen = after
                break
        if chosen is None:
            could = "; ".join(_short(o) for o in options[:5]) or "nothing: the run is over"
            raise ReplayError(
                f"{scenario.source}: replay.steps[{number - 1}]: {_short(step)!r} is not a "
                f"next step here (the scenario or the protocol changed?); what could come "
                f"next: {could}"
            )
        world = chosen
        text = step.split(" ", 1)[-1]  # its time is the note's
        notes.append(Note(world.now - scenario.start, f"step {number}", "", text))
    return Replayed(scenario, world, world.tally, world.watch, notes)


def _short(text: str) -> str:
    return text if len(text) <= 160 else text[:157] + "..."


def bounds_of(pinned: Replay) -> Bounds:
    """The bounds a path was found within (it takes the steps they allowed)."""
    return Bounds(
        max_loss=pinned.max_loss,
        max_duplicates=pinned.max_duplicates,
        max_reorder=pinned.max_reorder,
    )


def replay_table(property_name: str, steps: Sequence[str], bounds: Bounds) -> dict[str, Any]:
    """The ``[replay]`` table of a counterexample."""
    table: dict[str, Any] = {
        "property": property_name,
        "max_loss": bounds.max_loss,
        "max_duplicates": bounds.max_duplicates,
    }
    if bounds.max_reorder is not None:
        table["max_reorder"] = bounds.max_reorder
    table["steps"] = list(steps)
    return table
