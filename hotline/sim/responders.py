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

import random
from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

from hotline.core.endpoint import StationEndpoint
from hotline.core.errors import IllegalTransition, UnknownIncident
from hotline.core.events import Event, Received
from hotline.core.incident import Incident, State
from hotline.core.names import NOTICE_KINDS, Channel, DisputeReason
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
#: Whether a station is down now.
Down = Callable[[str], bool]


class _Call(NamedTuple):
    party: str
    view: Incident
    rule: ResponderRule


class Responders:
    """Every responding station's operator.

    Args:
        scenario: the rules.
        rng: the run's random generator.
        kernel: where decisions are scheduled.
        endpoints: each party's endpoint.
        after: told about each decision, to pump the endpoint's outbox and log it.
        clock: each post's own time, for the calls it makes.
        down: whether a station is down (it then answers nothing).
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
        down: Down,
    ) -> None:
        self._rules: dict[str, list[ResponderRule]] = {}
        for rule in scenario.responders:
            self._rules.setdefault(rule.station, []).append(rule)
        self._start = scenario.start
        self._rng = rng
        self._kernel = kernel
        self._endpoints = endpoints
        self._after = after
        self._clock = clock
        self._down = down
        self._pending: set[tuple[str, str, Channel]] = set()

    def heard(self, party: str, event: Event) -> None:
        """Ring for a notice that reached ``party`` (``event`` is anything its endpoint
        reported). Every notice rings: the first call, which also opened the view, and
        each retry, so an operator who missed one call may pick up the next."""
        if isinstance(event, Received) and event.envelope.kind in NOTICE_KINDS:
            envelope = event.envelope
            self.ring(party, self._endpoints[party].answering(envelope.incident, envelope.channel))

    def ring(self, party: str, view: Incident) -> None:
        """A notice rang at ``view``'s station: first call, or a repeat of an unanswered one."""
        key = (party, view.id, view.channel)
        if key in self._pending or view.state not in (State.NOTIFIED, State.STANDBY):
            return
        if view.station in view.leg.answers or self._down(view.station):
            return  # already answered (the endpoint repeats it), or nobody is there
        now = self._kernel.now
        rule = self._rule(view.station, now - self._start, view.notice.activity)
        if rule is None or rule.action == "silent":
            return
        rng = self._rng
        if rule.probability < 1.0 and rng.random() >= rule.probability:
            return  # nobody picked up this time
        delay = rule.delay.sample(rng)
        if rule.misroute > 0.0 and rng.random() < rule.misroute:
            delay += rule.misroute_delay.sample(rng)
        self._pending.add(key)
        call = _Call(party, view, rule)
        self._kernel.schedule(now + delay, Priority.DECISION, lambda: self._decide(call, key))

    def _rule(self, station: str, at: float, activity: str) -> ResponderRule | None:
        for rule in self._rules.get(station, ()):
            if rule.matches(at, activity):
                return rule
        return None

    def _decide(self, call: _Call, key: tuple[str, str, Channel]) -> None:
        endpoint, view, rule = self._endpoints[call.party], call.view, call.rule
        now, channel, action = self._clock(call.party), view.channel, rule.action
        self._pending.discard(key)
        if self._down(view.station):
            self._after(call.party, view, f"{action} not made: {view.station} is down")
            return
        try:
            if action == "ack":
                endpoint.acknowledge(view.id, now, channel=channel, text=rule.text)
            elif action in ("standby", "standby-then-ack"):
                endpoint.standby(view.id, now, channel=channel, text=rule.text)
                if action == "standby-then-ack":
                    self._pending.add(key)
                    later = _Call(call.party, view, _ACK)
                    delay = rule.final_delay.sample(self._rng)
                    at = self._kernel.now + delay  # true time; `now` is the post's clock
                    self._kernel.schedule(at, Priority.DECISION, lambda: self._decide(later, key))
            elif action in ("dispute", "disavow"):
                reason = rule.reason or DisputeReason.OTHER
                endpoint.dispute(view.id, reason, now, channel=channel, text=rule.text)
            elif action == "resolve":
                if not view.rules.resolves:
                    self._after(call.party, view, "no answer (resolves only on a resolving line)")
                    return
                endpoint.resolve(view.id, rule.actions, now, channel=channel, text=rule.text)
        except (IllegalTransition, UnknownIncident) as exc:
            self._after(call.party, view, f"{action} moot: {exc}")
            return
        self._after(call.party, view, action)


_ACK = ResponderRule(station="-", action="ack")
