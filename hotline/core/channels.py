"""Doctrine: how each hotline behaves, as data.

A `Doctrine` says, for each channel, who sits on it (one station per party), how long a
responder has to answer at each precedence, how many times the originator calls again
before falling back, which line it falls back to, what it does with a dispute, whether
an exchange on this line can end in an agreed resolution, and — across channels — the
minimum notice lead time per activity. The default values live in
``hotline/data/doctrine.toml`` with their sources; a scenario overrides any of them
through `Doctrine.from_mapping` (pure: it parses a mapping, it never opens a file).

Time bounds follow from the data. One channel leg lasts at most
``deadline * (retries + 1 + max_standbys + hold)`` where ``hold`` is 1 when disputes are
held for a decision; an incident lasts at most the sum of its ladder's legs
(`Doctrine.bound`). Those bounds are what the liveness tests hold the state machine to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from hotline.core.errors import HotlineError
from hotline.core.names import Channel, Precedence, check_station_id


class DoctrineError(HotlineError, ValueError):
    """Doctrine data that cannot be used; names the field path and the reason."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}" if field else detail)
        self.field = field
        self.detail = detail


class LateAnswer(StrEnum):
    """What an originator does with an answer from a line its incident has left."""

    CLOSE = "close"  # an acknowledgement closes the incident; the escalation stands down
    RECORD = "record"  # recorded beside the escalation; the incident goes on
    REFUSE = "refuse"  # refused as late (still journaled, and the sender is told the outcome)


class WhenSuspended(StrEnum):
    """What an originator does on a line another party has declared suspended."""

    CONTINUE = "continue"  # keep calling: a declaration is not an outage (2017)
    FALL_BACK = "fall-back"  # go straight to the next line of the ladder


class DisputePolicy(StrEnum):
    """What an originator does when an addressee disputes its notice."""

    ESCALATE = "escalate"  # fall back to the next line (accept if there is none)
    ACCEPT = "accept"  # close the incident as disputed
    HOLD = "hold"  # wait one deadline for the caller to decide, then accept


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDoctrine:
    """The rules of one line.

    Args:
        channel: which line.
        deadlines: seconds an addressee has to answer one call, per precedence.
        retries: calls made again after the first before falling back.
        fallback: the next line of the ladder, or None at the top.
        on_dispute: what the originator does with a dispute.
        max_standbys: how many standbys may each extend the deadline by one deadline.
        resolves: whether an exchange on this line may end in an agreed resolution.
        late_answer: what an answer on this line does once the incident has left it.
        desks: how many calls one station on this line handles at once.
        when_suspended: what an originator does when an addressee declared the line
            suspended.
        stations: the station of each party on this line.
    """

    channel: Channel
    deadlines: Mapping[Precedence, float]
    retries: int = 1
    fallback: Channel | None = None
    on_dispute: DisputePolicy = DisputePolicy.ESCALATE
    max_standbys: int = 2
    resolves: bool = False
    late_answer: LateAnswer = LateAnswer.CLOSE
    desks: int = 1
    when_suspended: WhenSuspended = WhenSuspended.CONTINUE
    stations: Mapping[str, str] = field(default_factory=dict)

    def deadline(self, precedence: Precedence) -> float:
        """Seconds an addressee has to answer one call at ``precedence``."""
        return self.deadlines[precedence]

    def leg_bound(self, precedence: Precedence) -> float:
        """Longest an incident can stay open on this line without input."""
        holds = 1 if self.on_dispute is DisputePolicy.HOLD else 0
        return self.deadline(precedence) * (self.retries + 1 + self.max_standbys + holds)

    def party_of(self, station: str) -> str | None:
        """The party whose station ``station`` is on this line, or None."""
        for party, candidate in self.stations.items():
            if candidate == station:
                return party
        return None


@dataclass(frozen=True, slots=True)
class GeometryRules:
    """How a notice's area is judged against the agreed map (see hotline.geo): a notice
    whose area crosses a deconfliction line, reaches into its buffer or enters a zone
    that is not its sender's needs ``crossing_lead`` seconds of notice and goes on
    ``crossing_line`` (None: no such rule); an activity within ``near_km`` of another
    party's declared positions is flagged (None: not judged); a notice placed more than
    ``misplaced_km`` from where the activity really is is flagged (None: not judged)."""

    crossing_lead: float | None = None
    crossing_line: Channel | None = None
    near_km: float | None = None
    misplaced_km: float | None = None


@dataclass(frozen=True, slots=True)
class Doctrine:
    """Every channel's rules plus the minimum notice lead time per activity (seconds),
    and the rules a notice's area is judged by against the agreed map."""

    channels: Mapping[Channel, ChannelDoctrine]
    lead_times: Mapping[str, float]
    geometry: GeometryRules = GeometryRules()
    # derived once, read on every incident: ladders, and leg bounds per (line, precedence)
    _ladders: dict[Channel, tuple[Channel, ...]] = field(init=False, repr=False, compare=False)
    _leg_bounds: dict[tuple[Channel, Precedence], float] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for channel in Channel:
            if channel not in self.channels:
                raise DoctrineError(f"channels.{channel}", "missing")
        object.__setattr__(self, "_ladders", {c: self._walk(c) for c in Channel})
        bounds = {(c, p): self.channels[c].leg_bound(p) for c in Channel for p in Precedence}
        object.__setattr__(self, "_leg_bounds", bounds)

    def __getitem__(self, channel: Channel) -> ChannelDoctrine:
        return self.channels[channel]

    def ladder(self, start: Channel) -> tuple[Channel, ...]:
        """The channels an incident opened on ``start`` may visit, in order."""
        return self._ladders[start]

    def leg_bound(self, channel: Channel, precedence: Precedence) -> float:
        """Longest an incident stays open on ``channel`` without input (see module doc)."""
        return self._leg_bounds[(channel, precedence)]

    def _walk(self, start: Channel) -> tuple[Channel, ...]:
        path = [start]
        nxt = self.channels[start].fallback
        while nxt is not None:
            if nxt in path:
                raise DoctrineError(f"channels.{path[-1]}.fallback", f"ladder loops back to {nxt}")
            path.append(nxt)
            nxt = self.channels[nxt].fallback
        return tuple(path)

    def bound(self, start: Channel, precedence: Precedence) -> float:
        """Longest an incident opened on ``start`` stays open without further input."""
        return sum(self._leg_bounds[(c, precedence)] for c in self._ladders[start])

    def min_lead_time(self, activity: str) -> float | None:
        """Minimum notice lead time for ``activity``, or None if doctrine sets none."""
        return self.lead_times.get(activity)

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "doctrine") -> Doctrine:
        """A doctrine with ``overrides`` (same shape as the data file) merged over this one."""
        return _parse(overrides, self, source)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "doctrine") -> Doctrine:
        """Build a complete doctrine from a mapping shaped like the data file.

        Raises:
            DoctrineError: naming the field path (``channels.air.retries``) and the reason.
        """
        return _parse(data, None, source)


_TOP_KEYS: Final = frozenset({"precedence", "channels", "lead_times", "geometry"})
_GEOMETRY_KEYS: Final = frozenset({"crossing_lead", "crossing_line", "near_km", "misplaced_km"})
_CHANNEL_KEYS: Final = frozenset(
    {
        "deadlines",
        "retries",
        "fallback",
        "on_dispute",
        "max_standbys",
        "resolves",
        "late_answer",
        "desks",
        "when_suspended",
        "stations",
    }
)


def _parse(data: Mapping[str, Any], base: Doctrine | None, source: str) -> Doctrine:
    if not isinstance(data, Mapping):
        raise DoctrineError(source, "doctrine must be a table")
    _no_unknown(data, _TOP_KEYS, "")
    shared = _deadlines(data.get("precedence", {}), "precedence")
    channels_data = data.get("channels", {})
    if not isinstance(channels_data, Mapping):
        raise DoctrineError("channels", "must be a table of channel names")
    _no_unknown(channels_data, frozenset(Channel), "channels.")
    channels: dict[Channel, ChannelDoctrine] = {}
    for channel in Channel:
        where = f"channels.{channel}"
        entry = channels_data.get(channel.value, {})
        if not isinstance(entry, Mapping):
            raise DoctrineError(where, "must be a table")
        previous = base.channels[channel] if base else None
        if previous is None and len(shared) != len(Precedence) and "deadlines" not in entry:
            missing = [p.value for p in Precedence if p not in shared]
            raise DoctrineError(f"precedence.{missing[0]}", "no deadline for this precedence")
        channels[channel] = _channel(channel, entry, previous, shared, where)
    lead_times = dict(base.lead_times) if base else {}
    lead_data = data.get("lead_times", {})
    if not isinstance(lead_data, Mapping):
        raise DoctrineError("lead_times", "must be a table of activity = seconds")
    for activity, seconds in lead_data.items():
        lead_times[str(activity)] = _seconds(seconds, f"lead_times.{activity}", allow_zero=True)
    geometry = _geometry(data.get("geometry", {}), base.geometry if base else GeometryRules())
    return Doctrine(channels, lead_times, geometry)


def _geometry(data: object, base: GeometryRules) -> GeometryRules:
    if not isinstance(data, Mapping):
        raise DoctrineError("geometry", "must be a table")
    _no_unknown(data, _GEOMETRY_KEYS, "geometry.")
    changes: dict[str, Any] = {}
    if "crossing_lead" in data:
        changes["crossing_lead"] = _seconds(data["crossing_lead"], "geometry.crossing_lead")
    if "crossing_line" in data:
        value = data["crossing_line"]
        if value not in Channel.__members__.values():
            raise DoctrineError("geometry.crossing_line", f"{value!r} is not a channel")
        changes["crossing_line"] = Channel(value)
    for key in ("near_km", "misplaced_km"):  # kilometres, positive and finite like seconds
        if key in data:
            changes[key] = _seconds(data[key], f"geometry.{key}")
    return replace(base, **changes)


def _channel(
    channel: Channel,
    entry: Mapping[str, Any],
    previous: ChannelDoctrine | None,
    shared: dict[Precedence, float],
    where: str,
) -> ChannelDoctrine:
    _no_unknown(entry, _CHANNEL_KEYS, f"{where}.")
    deadlines = dict(previous.deadlines) if previous else {}
    deadlines.update(shared)
    deadlines.update(_deadlines(entry.get("deadlines", {}), f"{where}.deadlines"))
    missing = [p.value for p in Precedence if p not in deadlines]
    if missing:
        raise DoctrineError(f"{where}.deadlines.{missing[0]}", "no deadline for this precedence")
    rules = previous or ChannelDoctrine(channel=channel, deadlines=deadlines)
    changes: dict[str, Any] = {"deadlines": deadlines}
    if "retries" in entry:
        changes["retries"] = _count(entry["retries"], f"{where}.retries")
    if "max_standbys" in entry:
        changes["max_standbys"] = _count(entry["max_standbys"], f"{where}.max_standbys")
    if "fallback" in entry:
        changes["fallback"] = _fallback(entry["fallback"], channel, f"{where}.fallback")
    for key, choices in _CHOICES.items():
        if key in entry:
            value = entry[key]
            if value not in choices.__members__.values():
                raise DoctrineError(
                    f"{where}.{key}", f"{value!r} is not one of {', '.join(choices)}"
                )
            changes[key] = choices(value)
    if "desks" in entry:
        changes["desks"] = _count(entry["desks"], f"{where}.desks")
        if changes["desks"] < 1:
            raise DoctrineError(f"{where}.desks", "a station needs at least one desk")
    if "resolves" in entry:
        if not isinstance(entry["resolves"], bool):
            raise DoctrineError(f"{where}.resolves", "must be true or false")
        changes["resolves"] = entry["resolves"]
    if "stations" in entry:
        changes["stations"] = _stations(entry["stations"], f"{where}.stations")
    return replace(rules, **changes)


_CHOICES: Final[Mapping[str, type[StrEnum]]] = {
    "on_dispute": DisputePolicy,
    "late_answer": LateAnswer,
    "when_suspended": WhenSuspended,
}


def _no_unknown(entry: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
    unknown = sorted(str(key) for key in entry if key not in allowed)
    if unknown:
        raise DoctrineError(
            f"{prefix}{unknown[0]}", f"unknown (expected one of {', '.join(sorted(allowed))})"
        )


def _deadlines(data: object, where: str) -> dict[Precedence, float]:
    if not isinstance(data, Mapping):
        raise DoctrineError(where, "must be a table of precedence = seconds")
    _no_unknown(data, frozenset(Precedence), f"{where}.")
    return {Precedence(name): _seconds(value, f"{where}.{name}") for name, value in data.items()}


def _seconds(value: object, where: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DoctrineError(where, f"must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise DoctrineError(where, f"must be a positive finite number of seconds, not {value!r}")
    return float(value)


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise DoctrineError(where, f"must be a whole number from 0 to 100, not {value!r}")
    return value


def _fallback(value: object, channel: Channel, where: str) -> Channel | None:
    if value in ("", "none", None):
        return None
    if not isinstance(value, str) or value not in Channel.__members__.values():
        raise DoctrineError(where, f'{value!r} is not a channel ({", ".join(Channel)}) or "none"')
    if value == channel:
        raise DoctrineError(where, "a channel cannot fall back to itself")
    return Channel(value)


def _stations(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DoctrineError(where, "must be a table of party = station id")
    stations: dict[str, str] = {}
    for party, station in value.items():
        try:
            check_station_id(party, f"{where}.{party}")
            stations[party] = check_station_id(station, f"{where}.{party}")
        except ValueError as exc:
            raise DoctrineError(f"{where}.{party}", str(getattr(exc, "detail", exc))) from None
    if len(set(stations.values())) != len(stations):
        raise DoctrineError(where, "two parties share one station")
    return stations
