"""Responder behaviour: the operators at the other end of the line, as policies.

The protocol core never decides how a responder answers; in an exercise these policies
do, from the scenario's ``[[responders]]`` rules and the run's one RNG. Each time a
notice rings at a station (first call, or a retry of an unanswered one), the first rule
for that station matching the time and activity decides: whether anyone picks up
(``probability``), whether the call first reaches the wrong officer (``misroute``, who
hands it on after ``misroute_delay``), and what the right officer answers after
``delay``. A station without a matching rule stays silent.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple, Protocol

from hotline.core.endpoint import StationEndpoint
from hotline.core.errors import IllegalTransition, UnknownIncident
from hotline.core.events import Event, Received
from hotline.core.incident import Incident, State
from hotline.core.names import NOTICE_KINDS, Channel, DisputeReason, Precedence
from hotline.core.where import Where
from hotline.geo.agreed import AgreedMap, agreed_map
from hotline.sim.kernel import Priority
from hotline.sim.model import ResponderRule, Scenario


class Agenda(Protocol):
    """Where decisions are scheduled: the simulator's `Kernel`, or a live run's clock."""

    @property
    def now(self) -> float:
        """The time now (exercise clock, Unix seconds)."""
        ...

    def schedule(self, at: float, priority: Priority, action: Callable[[], None]) -> int:
        """Run ``action`` at ``at``."""
        ...


#: Called after a decision ran (or became moot): party, incident view, what was done.
Decided = Callable[[str, Incident, str], None]
#: The time on a party's post clock (clock skew included).
Clock = Callable[[str], float]
#: When a station that is down now is back (infinity: never); None when it is up.
BackAt = Callable[[str], float | None]
_RANK: Final = {precedence: rank for rank, precedence in enumerate(Precedence)}


class _Call(NamedTuple):
    party: str
    view: Incident
    rule: ResponderRule


class Responders:
    """Every responding station's operator.

    A station works as many calls at once as its line's doctrine gives it desks
    (``desks``); a call that rings while every desk is busy waits, most urgent
    precedence first, then in the order it rang, and its answer delay starts when a
    desk takes it. A call whose answer falls due while the station is down is answered
    once the station is back.

    Args:
        scenario: the rules.
        rng: the run's random generator.
        kernel: where decisions are scheduled.
        endpoints: each party's endpoint.
        after: told about each decision, to pump the endpoint's outbox and log it.
        clock: each post's own time, for the calls it makes.
        back_at: when a station that is down now is back (None when it is up).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        rng: random.Random,
        kernel: Agenda,
        endpoints: Mapping[str, StationEndpoint],
        after: Decided,
        clock: Clock,
        back_at: BackAt,
    ) -> None:
        self._rules: dict[str, list[ResponderRule]] = {}
        for rule in scenario.responders:
            self._rules.setdefault(rule.station, []).append(rule)
        self._map = None if scenario.geometry is None else agreed_map(scenario.geometry)
        self._actual = scenario.actual_places()
        self._start = scenario.start
        self._rng = rng
        self._kernel = kernel
        self._endpoints = endpoints
        self._after = after
        self._clock = clock
        self._back_at = back_at
        self._pending: set[tuple[str, str, Channel]] = set()
        self._busy: dict[str, int] = {}  # station -> calls being worked
        self._waiting: dict[str, list[tuple[int, float, int, _Call]]] = {}  # station -> heap
        self._order = itertools.count()

    def heard(self, party: str, event: Event) -> None:
        """Ring for a notice that reached ``party`` (``event`` is anything its endpoint
        reported). Every notice rings: the first call, which also opened the view, and
        each retry, so an operator who missed one call may pick up the next."""
        if isinstance(event, Received) and event.envelope.kind in NOTICE_KINDS:
            envelope = event.envelope
            self.ring(party, self._endpoints[party].answering(envelope.incident, envelope.channel))

    def ring(self, party: str, view: Incident) -> None:
        """A notice rang at ``view``'s station: first call, or a repeat of an unanswered one."""
        key = _key(party, view)
        if key in self._pending or not _unanswered(view):
            return
        if self._back_at(view.station) is not None:
            return  # nobody is there
        now = self._kernel.now
        rule = self._rule(view.station, now - self._start, view.notice.activity)
        if rule is not None and rule.answers:  # one of the answers it may give, drawn
            rule = dataclasses.replace(rule, action=self._rng.choice(rule.answers))
        if rule is None or rule.action == "silent":
            return
        if rule.probability < 1.0 and self._rng.random() >= rule.probability:
            return  # nobody picked up this time
        self._pending.add(key)
        call = _Call(party, view, rule)
        station = view.station
        if self._busy.get(station, 0) < view.rules.desks:
            self._take(call)
            return
        queue = self._waiting.setdefault(station, [])
        heapq.heappush(queue, (_RANK[view.precedence], now, next(self._order), call))
        self._after(party, view, f"waits for a desk ({len(queue)} waiting at {station})")

    def _take(self, call: _Call) -> None:
        """A desk takes the call: the answer comes after the rule's delay."""
        rng, rule, station = self._rng, call.rule, call.view.station
        self._busy[station] = self._busy.get(station, 0) + 1
        delay = rule.delay.sample(rng)
        if rule.misroute > 0.0 and rng.random() < rule.misroute:
            delay += rule.misroute_delay.sample(rng)
        self._kernel.schedule(
            self._kernel.now + delay, Priority.DECISION, lambda: self._decide(call)
        )

    def _free(self, station: str) -> None:
        """A desk at ``station`` is free: it takes the most urgent call still waiting."""
        self._busy[station] -= 1
        queue = self._waiting.get(station)
        while queue:
            call = heapq.heappop(queue)[3]
            if _unanswered(call.view):
                self._take(call)
                return
            self._pending.discard(_key(call.party, call.view))  # it ended while waiting

    def _rule(self, station: str, at: float, activity: str) -> ResponderRule | None:
        for rule in self._rules.get(station, ()):
            if rule.matches(at, activity):
                return rule
        return None

    def _decide(self, call: _Call) -> None:
        view, action = call.view, call.rule.action
        back = self._back_at(view.station)
        if back is not None and back != math.inf:  # answered once the station is back
            self._after(call.party, view, f"{action} waits: {view.station} is down")
            self._kernel.schedule(back, Priority.DECISION, lambda: self._decide(call))
            return
        later = None
        if back is not None:
            self._after(call.party, view, f"{action} not made: {view.station} is down")
        else:
            later = self._answer(call)
        if later is not None:  # standby given; the same desk acknowledges later
            ack = _Call(call.party, view, _ACK)
            self._kernel.schedule(later, Priority.DECISION, lambda: self._decide(ack))
            return
        self._pending.discard(_key(call.party, view))
        self._free(view.station)

    def _answer(self, call: _Call) -> float | None:
        """Give the rule's answer; for standby-then-ack, the time the ack is due. A rule
        that judges the notice on the agreed map disputes it when the map says so."""
        endpoint, view, rule = self._endpoints[call.party], call.view, call.rule
        if self._map is not None and rule.judges_geometry:  # most answers judge no map
            at, actual = self._kernel.now - self._start, self._actual.get(view.id)
            rule = on_the_map(self._map, rule, view, party=call.party, at=at, actual=actual)
        now, action = self._clock(call.party), rule.action
        if action == "resolve" and not view.rules.resolves:
            self._after(call.party, view, "no answer (resolves only on a resolving line)")
            return None
        try:
            give(endpoint, view.id, view.channel, action, rule=rule, now=now)
        except (IllegalTransition, UnknownIncident) as exc:
            self._after(call.party, view, f"{action} moot: {exc}")
            return None
        self._after(call.party, view, action)
        if action == "standby-then-ack":  # true time; `now` is the post's clock
            return self._kernel.now + rule.final_delay.sample(self._rng)
        return None


def on_the_map(
    agreed: AgreedMap | None,
    rule: ResponderRule,
    view: Incident,
    *,
    party: str,
    at: float,
    actual: tuple[float, float] | None,
) -> ResponderRule:
    """``rule``, or the dispute the agreed map has ``party`` answer the notice of
    ``view`` with instead (the simulator's responders and the explorer's answer alike).
    ``at``: seconds into the exercise (where the positions are); ``actual``: where the
    activity really is, if the script says."""
    if agreed is None or not rule.judges_geometry:
        return rule
    place = view.notice.located()
    found = (
        None
        if place is None
        else _map_dispute(agreed, rule, place, party=party, at=at, actual=actual)
    )
    if found is None:
        return rule
    reason, distance = found
    return dataclasses.replace(rule, action="dispute", reason=reason, distance_m=distance)


def _map_dispute(
    agreed: AgreedMap,
    rule: ResponderRule,
    place: Where,
    *,
    party: str,
    at: float,
    actual: tuple[float, float] | None,
) -> tuple[DisputeReason, int | None] | None:
    """The rule's tests in order: inside an agreed zone, too close to the party's
    positions, placed wrongly."""
    if rule.dispute_in_zone and agreed.zone_of(place, party) is not None:
        return DisputeReason.INSIDE_AGREED_ZONE, None
    if rule.dispute_near_km is not None:
        near = agreed.distance_to_positions(place, party, at)
        if near is not None and near <= rule.dispute_near_km:
            return DisputeReason.TOO_CLOSE, round(near * 1000)
    if rule.location_wrong_km is not None and actual is not None:
        off = agreed.misplaced_km(place, actual)
        if off > rule.location_wrong_km:
            return DisputeReason.LOCATION_WRONG, round(off * 1000)
    return None


def give(
    endpoint: StationEndpoint,
    incident: str,
    channel: Channel,
    action: str,
    *,
    rule: ResponderRule,
    now: float,
) -> None:
    """Give the answer ``action`` names (a rule's action, or one of its answers) to the
    view of ``incident`` on ``channel``, with the rule's text, reason and actions; a
    standby-then-ack gives its standby (the ack is the caller's to schedule), silent
    gives nothing.

    Raises:
        IllegalTransition: the view no longer takes that answer.
        UnknownIncident: there is no such view.
    """
    if action == "ack":
        endpoint.acknowledge(incident, now, channel=channel, text=rule.text)
    elif action in ("standby", "standby-then-ack"):
        endpoint.standby(incident, now, channel=channel, text=rule.text)
    elif action in ("dispute", "disavow"):
        reason = DisputeReason.NOT_OUR_FORCES if action == "disavow" else rule.reason
        endpoint.dispute(
            incident,
            reason or DisputeReason.OTHER,
            now,
            channel=channel,
            text=rule.text,
            distance_m=rule.distance_m,
        )
    elif action == "resolve":
        endpoint.resolve(incident, rule.actions, now, channel=channel, text=rule.text)


def _key(party: str, view: Incident) -> tuple[str, str, Channel]:
    return (party, view.id, view.channel)


def _unanswered(view: Incident) -> bool:
    """Still ringing: open on this line, and this station has given no final answer."""
    return view.state in (State.NOTIFIED, State.STANDBY) and view.station not in view.leg.answers


_ACK = ResponderRule(station="-", action="ack")
