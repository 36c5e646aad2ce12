"""The incident state machine: how a notice ends.

Theory of operation. `TRANSITIONS` maps (state, input) to the next state and is the only
place the machine's shape is written down; protocol/states.md is generated from it. Both
views of an incident run the same table:

* the **originator** view, held by the station that sent the notice, spans every line
  the incident visits (the ladder air -> general-officer, say); its inputs are the
  answers it receives, its own decisions and its timers;
* a **responder** view, held by an addressed station, covers one line: the exchange on
  that line only. It is keyed by (incident id, channel) at the responder, so a party
  whose station sits on several lines keeps one view per line.

An input has a direction: `CAUSED_BY` says which role produces it (a responder
acknowledges; an originator retries, falls back and withdraws). Each side feeds the
same input to its own view — the originator when it receives the ack, the responder
when it sends it — so the two views move in step when messages arrive.

Guards that depend on data, not on state (attempts left, a next line on the ladder,
every addressee answered, the dispute policy), are computed here and select *which*
input to apply; the table then decides whether that input is legal. A missing
(state, input) pair is an `IllegalTransition` for local calls and a refused message
(reason ``illegal-transition``) for received ones — never a crash.

Timers are data: `Incident.deadline` is the next instant the incident needs `on_timer`;
nothing here reads a clock or sleeps. Every method that can make the station speak
returns `Send` actions; the endpoint signs and queues them.

More than two parties. A notice may address several parties on one line. Then:

* **acknowledged** means every addressee acknowledged; until then each ack is recorded
  (input ``partial-ack``) and the call stays open;
* **disputed**: one dispute from any addressee moves the incident to DISPUTED, and the
  dispute policy applies to the whole incident (a single party saying "the location is
  wrong" is enough to stop a deconfliction);
* retries go only to addressees without a final answer, and a fallback addresses, on
  the next line, the parties that had not acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple

from hotline.core.channels import ChannelDoctrine, DisputePolicy, Doctrine
from hotline.core.errors import IllegalTransition, Reason, RefusedMessage
from hotline.core.names import Channel, DisputeReason, Kind, Precedence


class Role(StrEnum):
    """Which side of an incident a view belongs to."""

    ORIGINATOR = "originator"
    RESPONDER = "responder"


class State(StrEnum):
    """Where an incident stands."""

    NEW = "new"
    NOTIFIED = "notified"
    STANDBY = "standby"
    DISPUTED = "disputed"
    FALLBACK = "fallback"
    ACKNOWLEDGED = "acknowledged"
    CLOSED_DISPUTED = "closed-disputed"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    UNRESOLVED = "unresolved"


class Input(StrEnum):
    """What can happen to an incident."""

    NOTIFY = "notify"  # the notice, first call on a line
    RETRY = "retry"  # the notice again, deadline passed with calls left
    STANDBY = "standby"  # received, working on it
    ACK = "ack"  # acknowledged (by every addressee)
    PARTIAL_ACK = "partial-ack"  # one addressee of several acknowledged
    DISPUTE = "dispute"  # an answer that is not a yes
    FALLBACK = "fallback"  # this line failed: no answer, dispute escalated, link down
    ESCALATE = "escalate"  # the notice goes up the ladder to the next line
    GIVE_UP = "give-up"  # no line left to fall back to
    ACCEPT = "accept"  # the originator takes the dispute as the final answer
    WITHDRAW = "withdraw"  # the originator cancels its notice
    RESOLVE = "resolve"  # agreed mutual action ends the exchange
    LAPSE = "lapse"  # a responder's line went quiet past the originator's bound


_S, _I = State, Input
TRANSITIONS: Final[Mapping[tuple[State, Input], State]] = {
    (_S.NEW, _I.NOTIFY): _S.NOTIFIED,
    (_S.NEW, _I.ESCALATE): _S.NOTIFIED,
    (_S.NOTIFIED, _I.RETRY): _S.NOTIFIED,
    (_S.NOTIFIED, _I.STANDBY): _S.STANDBY,
    (_S.NOTIFIED, _I.ACK): _S.ACKNOWLEDGED,
    (_S.NOTIFIED, _I.PARTIAL_ACK): _S.NOTIFIED,
    (_S.NOTIFIED, _I.DISPUTE): _S.DISPUTED,
    (_S.NOTIFIED, _I.FALLBACK): _S.FALLBACK,
    (_S.NOTIFIED, _I.WITHDRAW): _S.WITHDRAWN,
    (_S.NOTIFIED, _I.RESOLVE): _S.RESOLVED,
    (_S.NOTIFIED, _I.LAPSE): _S.UNRESOLVED,
    (_S.STANDBY, _I.RETRY): _S.STANDBY,
    (_S.STANDBY, _I.STANDBY): _S.STANDBY,
    (_S.STANDBY, _I.ACK): _S.ACKNOWLEDGED,
    (_S.STANDBY, _I.PARTIAL_ACK): _S.STANDBY,
    (_S.STANDBY, _I.DISPUTE): _S.DISPUTED,
    (_S.STANDBY, _I.FALLBACK): _S.FALLBACK,
    (_S.STANDBY, _I.WITHDRAW): _S.WITHDRAWN,
    (_S.STANDBY, _I.RESOLVE): _S.RESOLVED,
    (_S.STANDBY, _I.LAPSE): _S.UNRESOLVED,
    (_S.DISPUTED, _I.RETRY): _S.DISPUTED,
    (_S.DISPUTED, _I.STANDBY): _S.DISPUTED,
    (_S.DISPUTED, _I.PARTIAL_ACK): _S.DISPUTED,
    (_S.DISPUTED, _I.DISPUTE): _S.DISPUTED,
    (_S.DISPUTED, _I.FALLBACK): _S.FALLBACK,
    (_S.DISPUTED, _I.ACCEPT): _S.CLOSED_DISPUTED,
    (_S.DISPUTED, _I.LAPSE): _S.CLOSED_DISPUTED,
    (_S.DISPUTED, _I.WITHDRAW): _S.WITHDRAWN,
    (_S.DISPUTED, _I.RESOLVE): _S.RESOLVED,
    (_S.FALLBACK, _I.ESCALATE): _S.NOTIFIED,
    (_S.FALLBACK, _I.GIVE_UP): _S.UNRESOLVED,
    (_S.ACKNOWLEDGED, _I.RETRY): _S.ACKNOWLEDGED,
    (_S.CLOSED_DISPUTED, _I.RETRY): _S.CLOSED_DISPUTED,
}
del _S, _I

_O, _R = frozenset({Role.ORIGINATOR}), frozenset({Role.RESPONDER})
#: Which role produces each input (by sending a message, deciding, or its own timer).
CAUSED_BY: Final[Mapping[Input, frozenset[Role]]] = {
    Input.NOTIFY: _O,
    Input.RETRY: _O,
    Input.FALLBACK: _O,
    Input.ESCALATE: _O,
    Input.GIVE_UP: _O,
    Input.ACCEPT: _O,
    Input.WITHDRAW: _O,
    Input.STANDBY: _R,
    Input.ACK: _R,
    Input.PARTIAL_ACK: _R,
    Input.DISPUTE: _R,
    Input.LAPSE: _R,
    Input.RESOLVE: _O | _R,
}

TERMINAL: Final = frozenset(
    {State.ACKNOWLEDGED, State.CLOSED_DISPUTED, State.RESOLVED, State.WITHDRAWN, State.UNRESOLVED}
)
#: The outcome names of the exercise JSON contract.
OUTCOMES: Final[Mapping[State, str]] = {
    State.ACKNOWLEDGED: "acknowledged",
    State.CLOSED_DISPUTED: "disputed",
    State.RESOLVED: "resolved",
    State.WITHDRAWN: "withdrawn",
    State.UNRESOLVED: "unresolved",
}
_FINAL_ANSWERS: Final = frozenset({Kind.ACK, Kind.DISPUTE})


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """What a notice announces.

    Args:
        activity: what will happen: ``strike``, ``flight``, ``patrol``, ``movement``...
            (doctrine sets a minimum lead time per activity).
        starts_at: when it starts (Unix seconds); the notice's lead time is measured to it.
        ends_at: when it ends.
        area: where: a point, an area or a route, as a body map.
        text: free text.
    """

    activity: str
    starts_at: float | None = None
    ends_at: float | None = None
    area: Mapping[str, object] | None = None
    text: str = ""

    def to_body(self) -> dict[str, Any]:
        """The notice as envelope body fields (times in milliseconds)."""
        body: dict[str, Any] = {"activity": self.activity}
        if self.starts_at is not None:
            body["starts_at"] = round(self.starts_at * 1000)
        if self.ends_at is not None:
            body["ends_at"] = round(self.ends_at * 1000)
        if self.area is not None:
            body["area"] = self.area if type(self.area) is dict else dict(self.area)
        if self.text:
            body["text"] = self.text
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Notice:
        """Read a received notice body leniently: fields of the wrong type are ignored."""
        activity = body.get("activity")
        starts, ends, area, text = (body.get(k) for k in ("starts_at", "ends_at", "area", "text"))
        return cls(
            activity=activity if isinstance(activity, str) else "",
            starts_at=starts / 1000 if type(starts) is int else None,
            ends_at=ends / 1000 if type(ends) is int else None,
            area=area if isinstance(area, dict) else None,
            text=text if isinstance(text, str) else "",
        )


@dataclass(frozen=True, slots=True)
class Send:
    """An action: the station must send this message (the endpoint signs and queues it)."""

    kind: Kind
    channel: Channel
    recipients: tuple[str, ...]
    ref: bytes | None
    body: Mapping[str, Any]


class Step(NamedTuple):
    """One transition, as recorded in an incident's history (a tuple: cheap to record)."""

    at: float
    before: State
    input: Input
    after: State
    channel: Channel
    by: str  # the station whose message, decision or timer caused it


@dataclass(slots=True)
class Leg:
    """The incident's stretch on one line."""

    channel: Channel
    recipients: tuple[str, ...]
    opened_at: float
    calls: int = 0  # notices sent (originator) or received (responder) on this line
    standbys: int = 0
    answers: dict[str, Kind] = field(default_factory=dict)  # final answers by station


@dataclass(slots=True)
class Incident:
    """One incident as one station sees it. Build with `originate` or `answering`."""

    id: str
    role: Role
    party: str  # this station's party
    station: str  # this station (on the first line)
    originator: str  # the originating station (on the first line)
    precedence: Precedence
    notice: Notice
    doctrine: Doctrine
    opened_at: float
    state: State = State.NEW
    legs: list[Leg] = field(default_factory=list)
    channel: Channel = Channel.AIR  # the line it is on now (set by `_enter`)
    rules: ChannelDoctrine = field(init=False)  # that line's doctrine
    deadline: float | None = None
    closed_at: float | None = None
    fallbacks: int = 0
    escalation: str = ""  # why the last fallback happened: no-answer, dispute, link-down...
    late_notice: bool = False
    disputes: list[tuple[str, DisputeReason]] = field(default_factory=list)
    resolution: Mapping[str, object] | None = None
    history: list[Step] = field(default_factory=list)
    notices: dict[bytes, int] = field(default_factory=dict)  # digest -> leg index
    last_notice: bytes | None = None  # responder: digest of the latest notice received

    # -- construction ---------------------------------------------------------------

    @classmethod
    def originate(
        cls,
        *,
        incident_id: str,
        party: str,
        station: str,
        channel: Channel,
        recipients: tuple[str, ...],
        precedence: Precedence,
        notice: Notice,
        doctrine: Doctrine,
        now: float,
    ) -> tuple[Incident, list[Send]]:
        """Open an incident as its originator; returns it and the first notice to send."""
        incident = cls(
            id=incident_id,
            role=Role.ORIGINATOR,
            party=party,
            station=station,
            originator=station,
            precedence=precedence,
            notice=notice,
            doctrine=doctrine,
            opened_at=now,
        )
        incident.late_notice = _is_late(notice, doctrine, now)
        incident._enter(Leg(channel, recipients, now, calls=1))
        incident._apply(Input.NOTIFY, now, station)
        incident.deadline = now + incident.rules.deadline(precedence)
        return incident, [incident._call(Kind.NOTIFY, recipients)]

    @classmethod
    def answering(
        cls,
        *,
        incident_id: str,
        party: str,
        station: str,
        originator: str,
        channel: Channel,
        kind: Kind,
        precedence: Precedence,
        notice: Notice,
        digest: bytes,
        sent_at: float,
        doctrine: Doctrine,
        now: float,
    ) -> Incident:
        """Open a responder view on receiving a notice (``kind`` notify or escalate)."""
        incident = cls(
            id=incident_id,
            role=Role.RESPONDER,
            party=party,
            station=station,
            originator=originator,
            precedence=precedence,
            notice=notice,
            doctrine=doctrine,
            opened_at=now,
        )
        incident.late_notice = _is_late(notice, doctrine, sent_at)
        incident._enter(Leg(channel, (station,), now, calls=1))
        incident.notices[digest] = 0
        incident.last_notice = digest
        incident._apply(Input.ESCALATE if kind is Kind.ESCALATE else Input.NOTIFY, now, originator)
        incident.deadline = now + doctrine.leg_bound(channel, precedence)
        return incident

    # -- views ----------------------------------------------------------------------

    @property
    def leg(self) -> Leg:
        """The current line's leg."""
        return self.legs[-1]

    def _enter(self, leg: Leg) -> None:
        self.legs.append(leg)
        self.channel = leg.channel
        self.rules = self.doctrine[leg.channel]

    @property
    def path(self) -> list[Channel]:
        """Every line the incident has been on, in order."""
        return [leg.channel for leg in self.legs]

    @property
    def attempts(self) -> int:
        """Notices sent (or received) over all lines."""
        return sum(leg.calls for leg in self.legs)

    @property
    def is_open(self) -> bool:
        """Whether the incident is still waiting for something."""
        return self.state not in TERMINAL

    def next_deadline(self) -> float | None:
        """When `on_timer` must next be called for this incident, or None."""
        return self.deadline

    @property
    def outcome(self) -> str:
        """The outcome name of the exercise JSON (``open`` while not terminal)."""
        return OUTCOMES.get(self.state, "open")

    def station_on(self, channel: Channel) -> str:
        """This party's station on ``channel`` (this station itself on the first line)."""
        if channel == self.legs[0].channel:
            return self.station
        return self.doctrine[channel].stations.get(self.party, self.station)

    # -- the table --------------------------------------------------------------------

    def _apply(self, event: Input, now: float, by: str) -> State:
        after = TRANSITIONS.get((self.state, event))
        if after is None:
            raise IllegalTransition(self.state, event, f"not allowed for incident {self.id}")
        self.history.append(Step(now, self.state, event, after, self.channel, by))
        self.state = after
        if after in TERMINAL and self.closed_at is None:
            self.closed_at = now
            self.deadline = None
        return after

    def _check(self, event: Input, role: Role) -> None:
        if role not in CAUSED_BY[event]:
            raise IllegalTransition(self.state, event, f"a {role} cannot {event}")
        if (self.state, event) not in TRANSITIONS:
            raise IllegalTransition(self.state, event, f"not allowed for incident {self.id}")

    def _call(self, kind: Kind, recipients: tuple[str, ...], **extra: object) -> Send:
        body = self.notice.to_body()
        body["attempt"] = self.leg.calls
        body.update(extra)
        ref = None if kind is Kind.NOTIFY and len(self.legs) == 1 else self._latest_notice()
        return Send(kind, self.channel, recipients, ref, body)

    def _latest_notice(self) -> bytes | None:
        return next(reversed(self.notices), None) if self.notices else None

    # -- originator -------------------------------------------------------------------

    def notice_sent(self, digest: bytes) -> None:
        """Record the digest of a notice this originator sent on the current line."""
        self.notices[digest] = len(self.legs) - 1

    def on_answer(
        self,
        kind: Kind,
        sender: str,
        *,
        ref: bytes | None,
        channel: Channel,
        body: Mapping[str, object],
        now: float,
    ) -> list[Send]:
        """Take a standby, ack or dispute received from ``sender`` on ``channel``.

        Raises:
            RefusedMessage: unknown reference, not an addressee, late, or illegal here.
        """
        if self.role is not Role.ORIGINATOR:
            raise RefusedMessage(
                Reason.ILLEGAL_TRANSITION, f"{kind} sent to a responder of {self.id}"
            )
        leg_index = self.notices.get(ref) if ref is not None else None
        if leg_index is None:
            raise RefusedMessage(
                Reason.UNKNOWN_REFERENCE, f"{kind} refers to no notice of {self.id}"
            )
        leg = self.legs[leg_index]
        if sender not in leg.recipients or channel != leg.channel:
            raise RefusedMessage(
                Reason.NOT_AN_ADDRESSEE, f"{sender} was not addressed by that notice"
            )
        previous = leg.answers.get(sender)
        if previous is kind:
            return []  # the same final answer again: a retry crossed it in flight
        if not self.is_open or leg is not self.leg:
            raise RefusedMessage(
                Reason.LATE, f"{kind} from {sender} after {self.id} moved on ({self.state})"
            )
        if previous is not None:
            raise RefusedMessage(Reason.ILLEGAL_TRANSITION, f"{sender} already answered {previous}")
        if kind is Kind.STANDBY:
            self._refuse_unless(Input.STANDBY)
            self._apply(Input.STANDBY, now, sender)
            if leg.standbys < self.rules.max_standbys and self.state is State.STANDBY:
                leg.standbys += 1
                self.deadline = now + self.rules.deadline(self.precedence)
            return []
        if kind is Kind.ACK:
            leg.answers[sender] = Kind.ACK
            everyone = all(leg.answers.get(s) is Kind.ACK for s in leg.recipients)
            event = Input.ACK if everyone else Input.PARTIAL_ACK
            self._refuse_unless(event, undo=(leg, sender))
            self._apply(event, now, sender)
            return []
        # a dispute
        reason = DisputeReason(str(body.get("reason")))
        self._refuse_unless(Input.DISPUTE)
        leg.answers[sender] = Kind.DISPUTE
        self.disputes.append((sender, reason))
        first = self.state is not State.DISPUTED
        self._apply(Input.DISPUTE, now, sender)
        if not first:
            return []
        policy = self.rules.on_dispute
        if policy is DisputePolicy.HOLD:
            self.deadline = now + self.rules.deadline(self.precedence)
            return []
        if policy is DisputePolicy.ESCALATE and self.rules.fallback is not None:
            return self._fall_back(now, "dispute")
        self._apply(Input.ACCEPT, now, self.station_on(self.channel))
        return []

    def _refuse_unless(self, event: Input, undo: tuple[Leg, str] | None = None) -> None:
        if (self.state, event) not in TRANSITIONS:
            if undo is not None:
                del undo[0].answers[undo[1]]
            raise RefusedMessage(Reason.ILLEGAL_TRANSITION, f"{event} not allowed in {self.state}")

    def on_timer(self, now: float) -> list[Send]:
        """Act on a deadline that has passed (a no-op before it)."""
        if self.deadline is None or now < self.deadline:
            return []
        if self.role is Role.RESPONDER:
            self._apply(Input.LAPSE, now, self.station)
            return []
        me = self.station_on(self.channel)
        if self.state is State.DISPUTED:  # held for a decision that never came
            self._apply(Input.ACCEPT, now, me)
            return []
        leg = self.leg
        if leg.calls < self.rules.retries + 1:
            leg.calls += 1
            self._apply(Input.RETRY, now, me)
            self.deadline = now + self.rules.deadline(self.precedence)
            unanswered = tuple(s for s in leg.recipients if s not in leg.answers)
            if len(self.legs) == 1:
                return [self._call(Kind.NOTIFY, unanswered)]
            return [self._call(Kind.ESCALATE, unanswered, **self._escalation_fields())]
        return self._fall_back(now, "no-answer")

    def _escalation_fields(self) -> dict[str, object]:
        return {"escalated_from": self.legs[-2].channel.value, "escalation": self.escalation}

    def _fall_back(self, now: float, reason: str) -> list[Send]:
        old = self.leg
        self._apply(Input.FALLBACK, now, self.station_on(old.channel))
        rules = self.rules
        nxt = rules.fallback
        parties = [
            party
            for station in old.recipients
            if old.answers.get(station) is not Kind.ACK
            and (party := rules.party_of(station)) is not None
        ]
        recipients: tuple[str, ...] = ()
        if nxt is not None:
            stations = self.doctrine[nxt].stations
            recipients = tuple(stations[p] for p in parties if p in stations)
        self.escalation = reason
        if nxt is None or not recipients:
            self._apply(Input.GIVE_UP, now, self.station_on(old.channel))
            return []
        self._enter(Leg(nxt, recipients, now, calls=1))
        self.fallbacks += 1
        self._apply(Input.ESCALATE, now, self.station_on(nxt))
        self.deadline = now + self.rules.deadline(self.precedence)
        return [self._call(Kind.ESCALATE, recipients, **self._escalation_fields())]

    def escalate(self, now: float, reason: str = "manual") -> list[Send]:
        """Fall back to the next line now (the caller's decision, or a link found down).

        Raises:
            IllegalTransition: not the originator, or the incident is closed.
        """
        self._require(Role.ORIGINATOR, Input.FALLBACK)
        self._check(Input.FALLBACK, Role.ORIGINATOR)
        return self._fall_back(now, reason)

    def accept_dispute(self, now: float) -> None:
        """Take the dispute as the final answer (closes the incident as disputed)."""
        self._require(Role.ORIGINATOR, Input.ACCEPT)
        self._check(Input.ACCEPT, Role.ORIGINATOR)
        self._apply(Input.ACCEPT, now, self.station_on(self.channel))

    def withdraw(self, now: float, text: str = "") -> list[Send]:
        """Cancel the notice; tells the current line's addressees."""
        self._check(Input.WITHDRAW, self.role)
        self._apply(Input.WITHDRAW, now, self.station_on(self.channel))
        body = {"text": text} if text else {}
        return [Send(Kind.WITHDRAW, self.channel, self.leg.recipients, self._latest_notice(), body)]

    # -- responder --------------------------------------------------------------------

    def on_repeat(self, digest: bytes, now: float) -> list[Send]:
        """The notice came again on this line (a retry): repeat a final answer already given.

        Raises:
            RefusedMessage: the view is closed without an answer to repeat (late).
        """
        self._require(Role.RESPONDER)
        if (self.state, Input.RETRY) not in TRANSITIONS:
            raise RefusedMessage(
                Reason.LATE, f"notice repeated after {self.id} closed ({self.state})"
            )
        self.leg.calls += 1
        self.notices[digest] = 0
        self.last_notice = digest
        self._apply(Input.RETRY, now, self.originator)
        given = self.leg.answers.get(self.station)
        if given is None:
            return []
        body: dict[str, object] = {}
        if given is Kind.DISPUTE:
            body["reason"] = self.disputes[-1][1].value
        return [Send(given, self.channel, (self.originator,), digest, body)]

    def answer(
        self, kind: Kind, now: float, *, reason: DisputeReason | None = None, text: str = ""
    ) -> list[Send]:
        """Answer the notice as this responder: standby, ack or dispute (with a reason).

        Raises:
            IllegalTransition: not a responder, or the answer is not allowed now.
            ValueError: a dispute without a reason, or an answer kind that is none of these.
        """
        event = {Kind.STANDBY: Input.STANDBY, Kind.ACK: Input.ACK, Kind.DISPUTE: Input.DISPUTE}.get(
            kind
        )
        if event is None:
            raise ValueError(f"{kind} is not an answer (standby, ack or dispute)")
        self._require(Role.RESPONDER, event)
        self._check(event, Role.RESPONDER)
        body: dict[str, object] = {"text": text} if text else {}
        if kind is Kind.DISPUTE:
            if reason is None:
                raise ValueError("a dispute needs a reason")
            body["reason"] = DisputeReason(reason).value
            self.disputes.append((self.station, DisputeReason(reason)))
        if kind in _FINAL_ANSWERS:
            self.leg.answers[self.station] = kind
        self._apply(event, now, self.station)
        return [Send(kind, self.channel, (self.originator,), self.last_notice, body)]

    def on_withdraw(self, sender: str, now: float) -> None:
        """The originator withdrew its notice."""
        self._require(Role.RESPONDER)
        if sender != self.originator:
            raise RefusedMessage(Reason.NOT_AN_ADDRESSEE, f"{sender} did not send this notice")
        if not self.is_open:
            raise RefusedMessage(Reason.LATE, f"withdrawal after {self.id} closed ({self.state})")
        self._apply(Input.WITHDRAW, now, sender)

    # -- both -----------------------------------------------------------------------

    def resolve(self, actions: Mapping[str, str], now: float, text: str = "") -> list[Send]:
        """End the exchange with agreed mutual actions (party -> what it does).

        Raises:
            IllegalTransition: this line does not resolve, or the incident is closed.
        """
        self._check(Input.RESOLVE, self.role)
        if not self.rules.resolves:
            raise IllegalTransition(
                self.state, Input.RESOLVE, f"the {self.channel} line does not resolve"
            )
        body: dict[str, object] = {"actions": dict(actions)}
        if text:
            body["text"] = text
        self.resolution = body
        self._apply(Input.RESOLVE, now, self.station_on(self.channel))
        to = self.leg.recipients if self.role is Role.ORIGINATOR else (self.originator,)
        return [Send(Kind.RESOLVE, self.channel, to, self._latest_notice(), body)]

    def on_resolve(self, sender: str, body: Mapping[str, object], now: float) -> None:
        """The other side ended the exchange with agreed mutual actions."""
        allowed = self.leg.recipients if self.role is Role.ORIGINATOR else (self.originator,)
        if sender not in allowed:
            raise RefusedMessage(Reason.NOT_AN_ADDRESSEE, f"{sender} is not party to {self.id}")
        if not self.is_open:
            raise RefusedMessage(Reason.LATE, f"resolution after {self.id} closed ({self.state})")
        if not self.rules.resolves or (self.state, Input.RESOLVE) not in TRANSITIONS:
            raise RefusedMessage(
                Reason.ILLEGAL_TRANSITION, f"the {self.channel} line does not resolve"
            )
        self.resolution = dict(body)
        self._apply(Input.RESOLVE, now, sender)

    def _require(self, role: Role, event: Input | None = None) -> None:
        if self.role is not role:
            what = event or "this"
            raise IllegalTransition(self.state, what, f"only the {role} view takes {what}")


def _is_late(notice: Notice, doctrine: Doctrine, sent_at: float) -> bool:
    minimum = doctrine.min_lead_time(notice.activity)
    if minimum is None or notice.starts_at is None:
        return False
    return notice.starts_at - sent_at < minimum
