"""The incident state machine: table structure, every state x operation, and a model."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hotline.core.errors import IllegalTransition, RefusedMessage
from hotline.core.incident import (
    CAUSED_BY,
    CLOSES,
    TERMINAL,
    TRANSITIONS,
    Heard,
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
    """Stand in for the endpoint: give each message sent a digest."""
    for send in sends:
        incident.signed(send, fake_digest())
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


def heard(
    kind: Kind,
    sender: str,
    channel: Channel,
    *,
    ref: bytes | None = None,
    body: Mapping[str, Any] | None = None,
    at: float = T0,
) -> Heard:
    return Heard(kind, sender, channel, ref, fake_digest(), dict(body or {}), at)


def responder(doctrine: Any = DOCTRINE, channel: Channel = Channel.AIR) -> Incident:
    stations = doctrine[channel].stations
    incident = Incident.responder_view(
        incident_id="US:1",
        party="RU",
        station=stations["RU"],
        originator=stations["US"],
        channel=channel,
        precedence=Precedence.FLASH,
        doctrine=doctrine,
        now=T0,
    )
    incident.take(heard(Kind.NOTIFY, stations["US"], channel, body=NOTICE.to_body()), T0)
    return incident


def answer(incident: Incident, kind: Kind, now: float = T0 + 1) -> list[Send]:
    """An answer from the first addressee of the current line, as its originator hears it."""
    body = {"reason": "other"} if kind is Kind.DISPUTE else {}
    message = heard(
        kind,
        incident.leg.recipients[0],
        incident.channel,
        ref=incident._latest_notice(),
        body=body,
        at=now,
    )
    return record(incident, incident.take(message, now).sends)


def from_originator(incident: Incident, kind: Kind, now: float, **body: Any) -> list[Send]:
    """A message from the originator, as a responder's view hears it."""
    message = heard(kind, incident.originator, incident.channel, ref=bytes(32), body=body, at=now)
    return incident.take(message, now).sends


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
        responder(), lambda i: from_originator(i, Kind.WITHDRAW, T0 + 1)
    ),
    (Role.RESPONDER, State.RESOLVED): lambda: _then(
        responder(DOCTRINE, Channel.GENERAL_OFFICER), lambda i: i.resolve({"RU": "hold"}, T0 + 1)
    ),
    (Role.RESPONDER, State.UNRESOLVED): lambda: _then(responder(), run_out),
}


def _then(incident: Incident, action: Callable[[Incident], object]) -> Incident:
    action(incident)
    return incident


def _received(kind: Kind, **body: Any) -> Callable[[Incident], object]:
    """``kind`` arriving from the other side of the view (an addressee, or the originator)."""

    def deliver(i: Incident) -> object:
        if i.role is Role.ORIGINATOR:
            ref = next(iter(i.closings), None) if kind is Kind.CONFIRM else i._latest_notice()
            sender = i.leg.recipients[0]
        else:
            ref, sender = i.last_notice, i.originator
        return i.take(heard(kind, sender, i.channel, ref=ref, body=body, at=T0 + 2), T0 + 2)

    return deliver


# Every operation either role's caller or network can apply to a view.
OPERATIONS: dict[str, Callable[[Incident], object]] = {
    "receive notice": _received(Kind.NOTIFY, activity="strike"),
    "receive standby": _received(Kind.STANDBY),
    "receive ack": _received(Kind.ACK),
    "receive dispute": _received(Kind.DISPUTE, reason="other"),
    "receive withdraw": _received(Kind.WITHDRAW),
    "receive resolve": _received(Kind.RESOLVE, actions={}),
    "receive close": _received(Kind.CLOSE, outcome="acknowledged"),
    "receive confirm": _received(Kind.CONFIRM, outcome="withdrawn"),
    "receive correct": _received(Kind.CORRECT, answer="ack"),
    "send standby": lambda i: i.answer(Kind.STANDBY, T0 + 2),
    "send ack": lambda i: i.answer(Kind.ACK, T0 + 2),
    "send dispute": lambda i: i.answer(Kind.DISPUTE, T0 + 2, reason=DisputeReason.OTHER),
    "send correct": lambda i: i.correct(Kind.DISPUTE, T0 + 2, reason=DisputeReason.OTHER),
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
        outcome = OPERATIONS[operation](incident)
    except (IllegalTransition, RefusedMessage, ValueError):
        assert (incident.state, len(incident.history), incident.deadline) == before
        return
    if getattr(outcome, "refused", None) is not None:  # refused, yet acted on: told the end
        assert (incident.state, len(incident.history)) == before[:2]
    for step in incident.history[before[1] :]:
        assert TRANSITIONS[(step.before, step.input)] == step.after
    closed = incident.state in TERMINAL
    if not closed:
        assert incident.deadline is not None
    elif role is Role.RESPONDER:
        assert incident.deadline is None
    else:  # an ended originator waits only for closing messages to be confirmed
        assert (incident.deadline is None) == (not incident.closing)
    assert (incident.closed_at is not None) == closed


def test_all_observable_states_are_reached_for_both_roles() -> None:
    observable = set(State) - {State.NEW, State.FALLBACK}
    for role in Role:
        assert {s for r, s in REACH if r is role} == observable


_KEEPS_OUTCOME = {Input.RETRY, Input.LATE_ANSWER, Input.CORRECT, Input.CONFIRM}


def test_table_shape() -> None:
    states_with_exits = {before for before, _ in TRANSITIONS}
    assert set(State) - TERMINAL <= states_with_exits
    # an ended view keeps its outcome, except on the originator's closing word
    for (before, event), after in TRANSITIONS.items():
        if before in TERMINAL:
            if event in CLOSES:
                assert after is CLOSES[event]
            else:
                assert event in _KEEPS_OUTCOME, (before, event)
                assert after is before, (before, event)
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
    with pytest.raises(IllegalTransition, match="no final answer"):
        responder().correct(Kind.ACK, T0)


def test_answers_must_name_a_notice_of_this_incident_and_come_from_an_addressee() -> None:
    incident = originator()
    wrong_ref = heard(Kind.ACK, "RU-HMEIMIM", Channel.AIR, ref=bytes(32))
    with pytest.raises(RefusedMessage) as caught:
        incident.take(wrong_ref, T0)
    assert caught.value.reason == "unknown-reference"
    stranger = heard(Kind.ACK, "TR-AIR", Channel.AIR, ref=incident._latest_notice())
    with pytest.raises(RefusedMessage) as caught:
        incident.take(stranger, T0)
    assert caught.value.reason == "not-an-addressee"
    assert incident.state is State.NOTIFIED


def _air_notice(incident: Incident) -> bytes:
    digest = incident._latest_notice(0)
    assert digest is not None
    return digest


def _escalated_on_silence(doctrine: Any = DOCTRINE) -> Incident:
    incident = originator(doctrine)
    while incident.channel is Channel.AIR:
        expire(incident)
    assert incident.state is State.NOTIFIED
    return incident


def _late_air_answer(incident: Incident, kind: Kind, now: float) -> Any:
    body = {"reason": "other"} if kind is Kind.DISPUTE else {}
    message = heard(kind, "RU-HMEIMIM", Channel.AIR, ref=_air_notice(incident), body=body, at=now)
    verdict = incident.take(message, now)
    record(incident, verdict.sends)
    return verdict


def test_a_late_receipt_closes_the_incident_and_stands_the_escalation_down() -> None:
    incident = _escalated_on_silence()
    verdict = _late_air_answer(incident, Kind.ACK, incident.leg.opened_at + 30)
    assert incident.state is State.ACKNOWLEDGED
    assert "late acknowledgement on air" in incident.ending
    # the general officers, asked and silent, are told it is over
    assert [(s.kind, s.channel, s.recipients) for s in verdict.sends] == [
        (Kind.CLOSE, Channel.GENERAL_OFFICER, ("RU-GENSTAFF",))
    ]
    assert verdict.sends[0].body["outcome"] == "acknowledged"
    assert incident.answers[-1].effect == "taken"


def test_a_late_receipt_can_be_kept_beside_the_escalation_or_refused() -> None:
    kept = _escalated_on_silence(make_doctrine(channels={"air": {"late_answer": "record"}}))
    verdict = _late_air_answer(kept, Kind.ACK, kept.leg.opened_at + 30)
    assert (kept.state, verdict.sends, verdict.refused) == (State.NOTIFIED, [], None)
    assert kept.answers[-1][1:3] == ("RU-HMEIMIM", Channel.AIR)
    assert kept.answers[-1].effect == "recorded"

    refused = _escalated_on_silence(make_doctrine(channels={"air": {"late_answer": "refuse"}}))
    verdict = _late_air_answer(refused, Kind.ACK, refused.leg.opened_at + 30)
    assert refused.state is State.NOTIFIED
    assert verdict.refused is not None
    assert verdict.refused.reason == "late"
    assert refused.answers[-1].effect == "refused"  # refused, and still on record


def test_a_dispute_met_by_silence_above_stands() -> None:
    incident = originator()
    answer(incident, Kind.DISPUTE)  # air escalates a dispute
    assert incident.channel is Channel.GENERAL_OFFICER
    run_out_open(incident)
    assert incident.state is State.CLOSED_DISPUTED
    assert incident.outcome == "disputed"
    assert "RU-HMEIMIM's dispute on air (other) stands" in incident.ending
    assert "no-answer" in incident.ending  # and why the line above ended


def run_out_open(incident: Incident) -> None:
    while incident.is_open:
        expire(incident)


def test_silence_on_every_line_is_unresolved_and_says_so() -> None:
    incident = originator()
    run_out_open(incident)
    assert (incident.outcome, incident.ending) == ("unresolved", "general-officer: no-answer")


def test_a_withdrawal_is_sent_until_confirmed_then_nothing_is_owed() -> None:
    incident = originator()
    sends = record(incident, incident.withdraw(T0 + 10, "strike postponed"))
    assert [(s.kind, s.recipients, dict(s.body)) for s in sends] == [
        (Kind.WITHDRAW, ("RU-HMEIMIM",), {"text": "strike postponed"})
    ]
    assert incident.deadline is not None
    assert not incident.settled
    resent = expire(incident)
    assert [s.kind for s in resent] == [Kind.WITHDRAW]
    confirm = heard(
        Kind.CONFIRM,
        "RU-HMEIMIM",
        Channel.AIR,
        ref=next(iter(incident.closings)),
        body={"outcome": "withdrawn"},
    )
    assert incident.take(confirm, T0 + 20).sends == []
    assert incident.settled
    assert incident.deadline is None
    assert incident.legs[0].told == {"RU-HMEIMIM": "withdrawn"}


def test_a_closing_message_never_confirmed_is_reported_unconfirmed() -> None:
    incident = originator()
    record(incident, incident.withdraw(T0 + 10))
    sends = 1
    while incident.deadline is not None:
        sends += len(expire(incident))
    assert sends == DOCTRINE[Channel.AIR].retries + 1
    assert incident.unconfirmed == [("RU-HMEIMIM", Channel.AIR)]
    assert incident.state is State.WITHDRAWN


def test_an_answer_that_settles_it_needs_no_closing_message() -> None:
    incident = originator()
    assert answer(incident, Kind.ACK) == []
    assert incident.settled


def test_a_responder_view_takes_the_originators_word_and_confirms() -> None:
    view = responder()
    view.answer(Kind.DISPUTE, T0 + 1, reason=DisputeReason.LOCATION_CONFLICT)
    sends = from_originator(view, Kind.CLOSE, T0 + 5, outcome="acknowledged")
    assert view.state is State.ACKNOWLEDGED
    assert [(s.kind, dict(s.body)) for s in sends] == [(Kind.CONFIRM, {"outcome": "acknowledged"})]
    with pytest.raises(RefusedMessage, match="no outcome"):
        from_originator(responder(), Kind.CLOSE, T0 + 5, outcome="open")


def test_a_correction_is_on_record_and_the_outcome_stands() -> None:
    view = responder()
    view.answer(Kind.ACK, T0 + 1)
    [correction] = view.correct(Kind.DISPUTE, T0 + 60, reason=DisputeReason.LOCATION_CONFLICT)
    assert dict(correction.body) == {"answer": "dispute", "reason": "location-conflict"}
    incident = originator()
    answer(incident, Kind.ACK)
    message = heard(
        Kind.CORRECT,
        "RU-HMEIMIM",
        Channel.AIR,
        ref=incident._latest_notice(),
        body=correction.body,
        at=T0 + 60,
    )
    incident.take(message, T0 + 61)
    assert incident.outcome == "acknowledged"
    assert incident.answers[-1][3:] == (Kind.CORRECT, "location-conflict", "recorded", "dispute")


@pytest.mark.parametrize(
    ("notice", "lead"),
    [
        (Notice(activity="strike", starts_at=T0 + 7200), ""),
        (Notice(activity="strike", starts_at=T0 + 60), "short-notice"),
        (Notice(activity="strike"), "no-start-time"),
    ],
)
def test_a_notice_that_leaves_too_little_time_or_does_not_say_when_is_flagged(
    notice: Notice, lead: str
) -> None:
    incident, _ = Incident.originate(
        incident_id="US:2",
        party="US",
        station="US-CAOC",
        channel=Channel.AIR,
        recipients=("RU-HMEIMIM",),
        precedence=Precedence.FLASH,
        notice=notice,
        doctrine=DOCTRINE,
        now=T0,
    )
    assert (incident.lead, incident.late_notice) == (lead, bool(lead))


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
        self.answers: dict[int, Kind] = {}  # the final answer given on each line
        self.last_final: Kind | None = None  # the last final answer given on any line
        self.deadline: float | None = T0 + 600

    def _open(self) -> bool:
        return self.state in {"notified", "standby"}

    def _fallback(self) -> None:
        if self.leg == 0:
            self.leg, self.calls, self.standbys, self.state = 1, 1, 0, "notified"
            self.deadline = self.now + 600
        else:  # no line left: a dispute given on the way stands
            disputed = self.last_final is Kind.DISPUTE
            self.state = "closed-disputed" if disputed else "unresolved"
            self.deadline = None

    @rule(kind=st.sampled_from([Kind.ACK, Kind.STANDBY, Kind.DISPUTE]), wait=st.floats(0, 300))
    def responder_answers(self, kind: Kind, wait: float) -> None:
        self.now += wait
        due = self.incident.deadline
        if due is not None and self.now >= due:
            self.now = due - 0.5
        given = self.answers.get(self.leg)
        if not self._open():  # after the end: recorded, the outcome stands
            if given is not None and kind is not given:
                with pytest.raises(RefusedMessage):
                    answer(self.incident, kind, self.now)
                return
            answer(self.incident, kind, self.now)
            if kind is not Kind.STANDBY and given is None:
                self.answers[self.leg] = self.last_final = kind
            return
        answer(self.incident, kind, self.now)
        if kind is not Kind.STANDBY:
            self.answers[self.leg] = self.last_final = kind
        if kind is Kind.ACK:
            self.state, self.deadline = "acknowledged", None
        elif kind is Kind.STANDBY:
            self.state = "standby"
            if self.standbys < 2:
                self.standbys += 1
                self.deadline = self.now + 600
        elif self.leg == 0:  # air escalates a dispute
            self._fallback()
        else:  # the general officers' dispute is final
            self.state, self.deadline = "closed-disputed", None

    @precondition(lambda self: self.incident.deadline is not None)
    @rule()
    def deadline_passes(self) -> None:
        assert self.incident.deadline is not None
        self.now = self.incident.deadline
        expire(self.incident)
        if not self._open():
            return  # a closing message sent again, or given up on
        if self.calls < 2:
            self.calls += 1
            self.deadline = self.now + 600
        else:
            self.calls = 1
            self._fallback()

    @rule()
    def originator_withdraws(self) -> None:
        if self._open():
            record(self.incident, self.incident.withdraw(self.now))
            self.state, self.deadline = "withdrawn", None
        else:
            with pytest.raises(IllegalTransition):
                self.incident.withdraw(self.now)

    @rule()
    def originator_escalates(self) -> None:
        if self._open():
            record(self.incident, self.incident.escalate(self.now))
            self.calls = 1
            self._fallback()
        else:
            with pytest.raises(IllegalTransition):
                self.incident.escalate(self.now)

    @rule()
    def originator_resolves(self) -> None:
        if self._open() and self.leg == 1:
            record(self.incident, self.incident.resolve({"US": "x"}, self.now))
            self.state, self.deadline = "resolved", None
        else:
            with pytest.raises(IllegalTransition):
                self.incident.resolve({"US": "x"}, self.now)

    @invariant()
    def agrees_with_the_model(self) -> None:
        incident = self.incident
        assert incident.state == self.state
        if self._open():
            assert incident.deadline == self.deadline
        else:  # ended: it waits only for closing messages to be confirmed
            assert (incident.deadline is None) == (not incident.closing)
        assert incident.path == [Channel.AIR, Channel.GENERAL_OFFICER][: self.leg + 1]
        assert (incident.closed_at is not None) == (incident.state in TERMINAL)
        for a, b in itertools.pairwise(incident.history):
            assert a.after == b.before
        if incident.closed_at is not None:
            assert incident.closed_at <= T0 + DOCTRINE.bound(Channel.AIR, Precedence.FLASH)


TestOriginatorModel = OriginatorModel.TestCase
TestOriginatorModel.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)


def test_a_station_told_again_after_it_went_unconfirmed_is_cleared_by_its_confirm() -> None:
    incident = originator()
    record(incident, incident.withdraw(T0 + 10))
    while incident.deadline is not None:
        expire(incident)
    assert incident.unconfirmed == [("RU-HMEIMIM", Channel.AIR)]
    # its answer, sent before it heard the withdrawal, arrives: it is told again
    late = heard(Kind.ACK, "RU-HMEIMIM", Channel.AIR, ref=_air_notice(incident), at=T0 + 5000)
    [again] = record(incident, incident.take(late, T0 + 5000).sends)
    assert again.kind is Kind.WITHDRAW
    ref = list(incident.closings)[-1]
    confirm = heard(Kind.CONFIRM, "RU-HMEIMIM", Channel.AIR, ref=ref, body={"outcome": "withdrawn"})
    incident.take(confirm, T0 + 5010)
    assert (incident.unconfirmed, incident.closing) == ([], [])
    assert incident.legs[0].told == {"RU-HMEIMIM": "withdrawn"}
