"""The incident state machine: table structure, every state x operation, and a model."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hotline.core.errors import IllegalTransition, RefusedMessage
from hotline.core.incident import (
    CAUSED_BY,
    TERMINAL,
    TRANSITIONS,
    Incident,
    Input,
    Notice,
    Role,
    Send,
    State,
)
from hotline.core.names import Channel, DisputeReason, Kind, Precedence
from tests.harness import T0, make_doctrine

DOCTRINE = make_doctrine()
HELD = make_doctrine(channels={"air": {"on_dispute": "hold"}})
NOTICE = Notice(activity="strike", starts_at=T0 + 7200)
_digests = itertools.count(1)


def fake_digest() -> bytes:
    return next(_digests).to_bytes(32, "big")


def record(incident: Incident, sends: list[Send]) -> list[Send]:
    """Stand in for the endpoint: give each notice sent a digest."""
    for send in sends:
        if send.kind in (Kind.NOTIFY, Kind.ESCALATE):
            incident.notice_sent(fake_digest())
    return sends


def originator(doctrine: Any = DOCTRINE, channel: Channel = Channel.AIR) -> Incident:
    stations = doctrine[channel].stations
    incident, sends = Incident.originate(
        incident_id="US:1",
        party="US",
        station=stations["US"],
        channel=channel,
        recipients=(stations["RU"],),
        precedence=Precedence.FLASH,
        notice=NOTICE,
        doctrine=doctrine,
        now=T0,
    )
    record(incident, sends)
    return incident


def responder(doctrine: Any = DOCTRINE, channel: Channel = Channel.AIR) -> Incident:
    stations = doctrine[channel].stations
    return Incident.answering(
        incident_id="US:1",
        party="RU",
        station=stations["RU"],
        originator=stations["US"],
        channel=channel,
        kind=Kind.NOTIFY,
        precedence=Precedence.FLASH,
        notice=NOTICE,
        digest=fake_digest(),
        sent_at=T0,
        doctrine=doctrine,
        now=T0,
    )


def answer(incident: Incident, kind: Kind, now: float = T0 + 1) -> list[Send]:
    body = {"reason": "other"} if kind is Kind.DISPUTE else {}
    return record(
        incident,
        incident.on_answer(
            kind,
            incident.leg.recipients[0],
            ref=incident._latest_notice(),
            channel=incident.channel,
            body=body,
            now=now,
        ),
    )


def expire(incident: Incident) -> list[Send]:
    assert incident.deadline is not None
    return record(incident, incident.on_timer(incident.deadline))


def run_out(incident: Incident) -> None:
    while incident.deadline is not None:
        expire(incident)


# How to bring a fresh view of each role into each observable state, by real operations.
REACH: dict[tuple[Role, State], Callable[[], Incident]] = {
    (Role.ORIGINATOR, State.NOTIFIED): originator,
    (Role.ORIGINATOR, State.STANDBY): lambda: _then(
        originator(), lambda i: answer(i, Kind.STANDBY)
    ),
    (Role.ORIGINATOR, State.DISPUTED): lambda: _then(
        originator(HELD), lambda i: answer(i, Kind.DISPUTE)
    ),
    (Role.ORIGINATOR, State.ACKNOWLEDGED): lambda: _then(
        originator(), lambda i: answer(i, Kind.ACK)
    ),
    (Role.ORIGINATOR, State.CLOSED_DISPUTED): lambda: _then(
        originator(DOCTRINE, Channel.GENERAL_OFFICER), lambda i: answer(i, Kind.DISPUTE)
    ),
    (Role.ORIGINATOR, State.WITHDRAWN): lambda: _then(originator(), lambda i: i.withdraw(T0 + 1)),
    (Role.ORIGINATOR, State.RESOLVED): lambda: _then(
        originator(DOCTRINE, Channel.GENERAL_OFFICER), lambda i: i.resolve({"US": "hold"}, T0 + 1)
    ),
    (Role.ORIGINATOR, State.UNRESOLVED): lambda: _then(originator(), run_out),
    (Role.RESPONDER, State.NOTIFIED): responder,
    (Role.RESPONDER, State.STANDBY): lambda: _then(
        responder(), lambda i: i.answer(Kind.STANDBY, T0 + 1)
    ),
    (Role.RESPONDER, State.DISPUTED): lambda: _then(
        responder(), lambda i: i.answer(Kind.DISPUTE, T0 + 1, reason=DisputeReason.OTHER)
    ),
    (Role.RESPONDER, State.ACKNOWLEDGED): lambda: _then(
        responder(), lambda i: i.answer(Kind.ACK, T0 + 1)
    ),
    (Role.RESPONDER, State.CLOSED_DISPUTED): lambda: _then(
        _then(responder(), lambda i: i.answer(Kind.DISPUTE, T0 + 1, reason=DisputeReason.OTHER)),
        run_out,
    ),
    (Role.RESPONDER, State.WITHDRAWN): lambda: _then(
        responder(), lambda i: i.on_withdraw(i.originator, T0 + 1)
    ),
    (Role.RESPONDER, State.RESOLVED): lambda: _then(
        responder(DOCTRINE, Channel.GENERAL_OFFICER), lambda i: i.resolve({"RU": "hold"}, T0 + 1)
    ),
    (Role.RESPONDER, State.UNRESOLVED): lambda: _then(responder(), run_out),
}


def _then(incident: Incident, action: Callable[[Incident], object]) -> Incident:
    action(incident)
    return incident


# Every operation either role's caller or network can apply to a view.
OPERATIONS: dict[str, Callable[[Incident], object]] = {
    "receive standby": lambda i: answer(i, Kind.STANDBY, T0 + 2),
    "receive ack": lambda i: answer(i, Kind.ACK, T0 + 2),
    "receive dispute": lambda i: answer(i, Kind.DISPUTE, T0 + 2),
    "receive repeat": lambda i: i.on_repeat(fake_digest(), T0 + 2),
    "receive withdraw": lambda i: i.on_withdraw(i.originator, T0 + 2),
    "receive resolve": lambda i: i.on_resolve(
        i.leg.recipients[0] if i.role is Role.ORIGINATOR else i.originator, {"actions": {}}, T0 + 2
    ),
    "send standby": lambda i: i.answer(Kind.STANDBY, T0 + 2),
    "send ack": lambda i: i.answer(Kind.ACK, T0 + 2),
    "send dispute": lambda i: i.answer(Kind.DISPUTE, T0 + 2, reason=DisputeReason.OTHER),
    "withdraw": lambda i: i.withdraw(T0 + 2),
    "escalate": lambda i: i.escalate(T0 + 2),
    "accept dispute": lambda i: i.accept_dispute(T0 + 2),
    "resolve": lambda i: i.resolve({"US": "x"}, T0 + 2),
    "deadline": lambda i: i.on_timer(i.deadline if i.deadline is not None else T0 + 2),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize(("role", "state"), list(REACH), ids=[f"{r}-{s}" for r, s in REACH])
def test_every_state_and_operation_is_a_table_transition_or_a_typed_refusal(
    role: Role, state: State, operation: str
) -> None:
    incident = REACH[(role, state)]()
    assert (incident.role, incident.state) == (role, state)
    before = (incident.state, len(incident.history), incident.deadline)
    try:
        OPERATIONS[operation](incident)
    except (IllegalTransition, RefusedMessage):
        assert (incident.state, len(incident.history), incident.deadline) == before
        return
    for step in incident.history[before[1] :]:
        assert TRANSITIONS[(step.before, step.input)] == step.after
    closed = incident.state in TERMINAL
    assert (incident.deadline is None) == closed
    assert (incident.closed_at is not None) == closed


def test_all_observable_states_are_reached_for_both_roles() -> None:
    observable = set(State) - {State.NEW, State.FALLBACK}
    for role in Role:
        assert {s for r, s in REACH if r is role} == observable


def test_table_shape() -> None:
    states_with_exits = {before for before, _ in TRANSITIONS}
    assert set(State) - TERMINAL <= states_with_exits
    # terminal states take nothing but a repeated notice (answered again by a responder)
    for (before, event), after in TRANSITIONS.items():
        if before in TERMINAL:
            assert (event, after) == (Input.RETRY, before)
    # every state is reachable from NEW, and every state can reach a terminal one
    reachable, frontier = {State.NEW}, [State.NEW]
    while frontier:
        current = frontier.pop()
        for (before, _), after in TRANSITIONS.items():
            if before is current and after not in reachable:
                reachable.add(after)
                frontier.append(after)
    assert reachable == set(State)
    for state in set(State) - TERMINAL:
        seen, todo = {state}, [state]
        while todo and not (seen & TERMINAL):
            current = todo.pop()
            for (before, _), after in TRANSITIONS.items():
                if before is current and after not in seen:
                    seen.add(after)
                    todo.append(after)
        assert seen & TERMINAL, state
    assert set(CAUSED_BY) == set(Input)


def test_local_calls_by_the_wrong_role_are_typed_errors() -> None:
    with pytest.raises(IllegalTransition, match="responder"):
        originator().answer(Kind.ACK, T0)
    with pytest.raises(IllegalTransition):
        responder().withdraw(T0)
    with pytest.raises(IllegalTransition):
        responder().escalate(T0)
    with pytest.raises(ValueError, match="reason"):
        responder().answer(Kind.DISPUTE, T0)
    with pytest.raises(ValueError, match="not an answer"):
        responder().answer(Kind.NOTIFY, T0)


def test_answers_must_name_a_notice_of_this_incident_and_come_from_an_addressee() -> None:
    incident = originator()
    with pytest.raises(RefusedMessage) as caught:
        incident.on_answer(
            Kind.ACK, "RU-HMEIMIM", ref=bytes(32), channel=Channel.AIR, body={}, now=T0
        )
    assert caught.value.reason == "unknown-reference"
    with pytest.raises(RefusedMessage) as caught:
        incident.on_answer(
            Kind.ACK, "TR-AIR", ref=incident._latest_notice(), channel=Channel.AIR, body={}, now=T0
        )
    assert caught.value.reason == "not-an-addressee"
    assert incident.state is State.NOTIFIED


class OriginatorModel(RuleBasedStateMachine):
    """The originator view against a plain model of the default two-line ladder."""

    def __init__(self) -> None:
        super().__init__()
        self.incident = originator()
        self.now = T0
        # the model
        self.state = "notified"
        self.leg = 0  # 0 air, 1 general-officer
        self.calls = 1
        self.standbys = 0
        self.last_answer: Kind | None = None
        self.deadline: float | None = T0 + 600

    def _open(self) -> bool:
        return self.state in {"notified", "standby"}

    def _expect_refusal(self, action: Callable[[], object], error: type[Exception]) -> None:
        with pytest.raises(error):
            action()

    def _fallback(self) -> None:
        if self.leg == 0:
            self.leg, self.calls, self.standbys, self.state = 1, 1, 0, "notified"
            self.last_answer, self.deadline = None, self.now + 600
        else:
            self.state, self.deadline = "unresolved", None

    @rule(kind=st.sampled_from([Kind.ACK, Kind.STANDBY, Kind.DISPUTE]), wait=st.floats(0, 300))
    def responder_answers(self, kind: Kind, wait: float) -> None:
        self.now += wait
        if self.deadline is not None and self.now >= self.deadline:
            self.now = self.deadline - 0.5
        if not self._open():
            if kind is self.last_answer:
                assert answer(self.incident, kind, self.now) == []
            else:
                self._expect_refusal(lambda: answer(self.incident, kind, self.now), RefusedMessage)
            return
        answer(self.incident, kind, self.now)
        if kind is Kind.ACK:
            self.state, self.deadline, self.last_answer = "acknowledged", None, kind
        elif kind is Kind.STANDBY:
            self.state = "standby"
            if self.standbys < 2:
                self.standbys += 1
                self.deadline = self.now + 600
        elif self.leg == 0:  # air escalates a dispute
            self._fallback()
        else:  # the general officers' dispute is final
            self.state, self.deadline, self.last_answer = "closed-disputed", None, kind

    @precondition(lambda self: self.deadline is not None)
    @rule()
    def deadline_passes(self) -> None:
        assert self.deadline is not None
        self.now = self.deadline
        expire(self.incident)
        if self.calls < 2:
            self.calls += 1
            self.deadline = self.now + 600
        else:
            self._fallback()

    @rule()
    def originator_withdraws(self) -> None:
        if self._open():
            self.incident.withdraw(self.now)
            self.state, self.deadline = "withdrawn", None
        else:
            self._expect_refusal(lambda: self.incident.withdraw(self.now), IllegalTransition)

    @rule()
    def originator_escalates(self) -> None:
        if self._open():
            record(self.incident, self.incident.escalate(self.now))
            self._fallback()
        else:
            self._expect_refusal(lambda: self.incident.escalate(self.now), IllegalTransition)

    @rule()
    def originator_resolves(self) -> None:
        if self._open() and self.leg == 1:
            self.incident.resolve({"US": "x"}, self.now)
            self.state, self.deadline = "resolved", None
        else:
            self._expect_refusal(
                lambda: self.incident.resolve({"US": "x"}, self.now), IllegalTransition
            )

    @invariant()
    def agrees_with_the_model(self) -> None:
        incident = self.incident
        assert incident.state == self.state
        assert incident.deadline == self.deadline
        assert incident.path == [Channel.AIR, Channel.GENERAL_OFFICER][: self.leg + 1]
        assert (incident.closed_at is not None) == (incident.state in TERMINAL)
        for a, b in itertools.pairwise(incident.history):
            assert a.after == b.before
        if incident.closed_at is not None:
            assert incident.closed_at <= T0 + DOCTRINE.bound(Channel.AIR, Precedence.FLASH)


TestOriginatorModel = OriginatorModel.TestCase
TestOriginatorModel.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
