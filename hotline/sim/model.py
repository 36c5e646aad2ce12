"""The validated model of a scenario: what a run needs, and nothing that can be wrong.

`hotline.sim.scenario` builds these from a file and refuses anything invalid, so code
holding a `Scenario` never checks it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hotline.core.channels import Doctrine
from hotline.core.names import Channel, DisputeReason, Kind, Precedence
from hotline.core.where import Where
from hotline.faults import Fault
from hotline.geo.agreed import MapSpec
from hotline.sim.distributions import Distribution, Fixed
from hotline.sim.durations import format_duration

_ONE_SECOND: Final = Fixed(1.0)
_ONE_MINUTE: Final = Fixed(60.0)
_TEN_MINUTES: Final = Fixed(600.0)
_NO_DELAY: Final = Fixed(0.0)


#: Scripted acts that open an incident, and the message kind each sends.
NOTICE_ACTIONS: Final[Mapping[str, Kind]] = {
    "notify": Kind.NOTIFY,
    "protest": Kind.PROTEST,
    "report": Kind.REPORT,
    "relay": Kind.RELAY,
}


@dataclass(frozen=True, slots=True)
class Link:
    """One line's network: delay per message, random loss, and outages."""

    latency: Distribution = _ONE_SECOND
    loss: float = 0.0
    outages: tuple[tuple[float, float], ...] = ()
    detect_outages: bool = False

    def up(self, at: float) -> bool:
        """Whether the bearer carries traffic at exercise time ``at``."""
        return not self.outages or not any(start <= at < end for start, end in self.outages)

    def resumes(self, at: float) -> float:
        """When the bearer, down at ``at``, carries traffic again (``at`` if it is up)."""
        while not self.up(at):
            at = max(end for start, end in self.outages if start <= at < end)
        return at


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponderRule:
    """How one station answers calls that match this rule."""

    station: str
    action: str
    delay: Distribution = _ONE_MINUTE
    final_delay: Distribution = _TEN_MINUTES
    reason: DisputeReason | None = None
    probability: float = 1.0
    misroute: float = 0.0
    misroute_delay: Distribution = _NO_DELAY
    start: float = 0.0
    until: float = float("inf")
    activity: str | None = None
    text: str = ""
    actions: Mapping[str, str] = field(default_factory=dict)
    #: the answers it may give, when several (``action`` is then the first): a run draws
    #: one per call, the explorer tries each
    answers: tuple[str, ...] = ()
    #: answers decided on the agreed map, before ``action``: dispute (``too-close``) a
    #: notice whose area comes within this many km of the station's party's positions
    dispute_near_km: float | None = None
    #: dispute (``inside-agreed-zone``) a notice whose area enters a zone the party owns
    #: or shares
    dispute_in_zone: bool = False
    #: dispute (``location-wrong``) a notice placed more than this many km from where
    #: the activity really is (the event's ``actual``)
    location_wrong_km: float | None = None
    #: a dispute's distance in metres (set on the rule the map's judgement made)
    distance_m: int | None = None

    @property
    def judges_geometry(self) -> bool:
        """Whether the rule's answer depends on the agreed map."""
        return (
            self.dispute_near_km is not None
            or self.dispute_in_zone
            or self.location_wrong_km is not None
        )

    def matches(self, at: float, activity: str) -> bool:
        """Whether this rule governs a call ringing at ``at`` about ``activity``."""
        return self.start <= at < self.until and self.activity in (None, activity)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptEvent:
    """Something a party does at a scripted time."""

    at: float
    action: str
    party: str
    originator: str
    channel: Channel
    incident: str
    to: tuple[str, ...] = ()
    activity: str = ""
    area: Mapping[str, object] | None = None
    where: Where | None = None  # the notice's area as the protocol carries it
    actual: tuple[float, float] | None = None  # where the activity really is (lon, lat)
    starts_in: float | None = None
    lasts: float | None = None
    precedence: Precedence = Precedence.PRIORITY
    text: str = ""
    actions: Mapping[str, str] = field(default_factory=dict)
    reason: str = "manual"
    kind: Kind = Kind.NOTIFY  # what a notice event sends: notify, protest, report, relay
    relay_for: str = ""  # a relay: the party it is meant for
    answer: Kind | None = None  # a correction: the answer it now gives
    dispute: DisputeReason | None = None  # a correction to a dispute: its reason

    def located(self) -> Where | None:
        """Where the notice says its activity is: its ``where``, else its older
        ``area`` read as one (None: it says nowhere)."""
        if self.where is not None or self.area is None:
            return self.where
        return Where.from_area(self.area)


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    """Something the run must show; ``incident`` ``*`` applies to every incident."""

    incident: str
    description: str
    outcome: str | None = None
    within: float | None = None
    max_fallbacks: int | None = None
    min_fallbacks: int | None = None
    channel: Channel | None = None
    late_notice: bool | None = None
    dispute_reason: DisputeReason | None = None
    views: Mapping[str, str] = field(default_factory=dict)  # party -> outcome of its view
    answers: Mapping[str, str] = field(default_factory=dict)  # party -> its answer, or none


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    """A path `hotline explore` found, every choice pinned: run, it takes these steps."""

    property: str  # what the path violates
    steps: tuple[str, ...]
    max_loss: int = 0
    max_duplicates: int = 0
    max_reorder: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A validated scenario, ready to run."""

    name: str
    source: str
    description: str
    start: float
    seed: int
    duration: float
    signing: str
    parties: Mapping[str, Mapping[Channel, str]]
    doctrine: Doctrine
    max_age: float
    max_skew: float
    network: Mapping[Channel, Link]
    responders: tuple[ResponderRule, ...]
    events: tuple[ScriptEvent, ...]
    expectations: tuple[Expectation, ...]
    faults: tuple[Fault, ...] = ()
    replay: Replay | None = None
    #: groups of parties the explorer may treat as interchangeable (``[explore]``)
    symmetric: tuple[tuple[str, ...], ...] = ()
    #: the agreed map (``[geometry]``): lines, zones, positions
    geometry: MapSpec | None = None
    #: the document it was read from (another process reads it again from this)
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def logs_faults(self) -> bool:
        """Whether a run lists the faults each incident's copies met: it has faults to
        inject, or lines that lose or go down."""
        return bool(self.faults) or any(link.loss or link.outages for link in self.network.values())

    def actual_places(self) -> dict[str, tuple[float, float]]:
        """Where each incident's activity really is, for those the script says (its
        events' ``actual``): what a responder checks a notice's place against."""
        return {e.incident: e.actual for e in self.events if e.actual is not None}

    def stations(self) -> dict[str, tuple[str, frozenset[Channel]]]:
        """Every station: its party and the lines it sits on."""
        found: dict[str, tuple[str, set[Channel]]] = {}
        for party, table in self.parties.items():
            for channel, station in table.items():
                found.setdefault(station, (party, set()))[1].add(channel)
        return {s: (p, frozenset(c)) for s, (p, c) in sorted(found.items())}


def describe(expectation: Expectation) -> str:
    """A readable sentence for an expectation without a description."""
    subject = "every incident" if expectation.incident == "*" else expectation.incident
    parts = []
    if expectation.outcome:
        parts.append(expectation.outcome)
    if expectation.channel:
        parts.append(f"on {expectation.channel}")
    if expectation.within is not None:
        parts.append(f"within {format_duration(expectation.within)}")
    if expectation.max_fallbacks is not None:
        parts.append(f"with at most {expectation.max_fallbacks} fallbacks")
    if expectation.min_fallbacks is not None:
        parts.append(f"with at least {expectation.min_fallbacks} fallbacks")
    if expectation.late_notice is not None:
        parts.append("flagged late" if expectation.late_notice else "not flagged late")
    if expectation.dispute_reason:
        parts.append(f"disputed as {expectation.dispute_reason}")
    for party, outcome in expectation.views.items():
        parts.append(f"{party}'s record {outcome}")
    for party, answer in expectation.answers.items():
        parts.append(f"{party} answering {answer}")
    return f"{subject} {', '.join(parts)}"
