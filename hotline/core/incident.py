"""The incident state machine: how a notice ends, and how both sides come to agree on it.

Theory of operation. `TRANSITIONS` maps (state, input) to the next state and is the only
place the machine's shape is written down; protocol/states.md is generated from it.
`HANDLERS` maps each message kind to the one method that takes it, and `ROUTES` says
which view of an incident a kind is for; the endpoint only verifies, routes by `ROUTES`,
calls `Incident.take` and signs what comes back. Both views run the same table:

* the **originator** view, held by the station that sent the notice, spans every line
  the incident visits (the ladder air -> general-officer, say); it is the incident's
  record of authority: its outcome is the incident's outcome;
* a **responder** view, held by an addressed station, covers one line: the exchange on
  that line only. It is keyed by (incident id, channel) at the responder, so a party
  whose station sits on several lines keeps one view per line.

An input has a direction: `CAUSED_BY` says which role produces it (a responder
acknowledges; an originator retries, falls back and withdraws). Each side feeds the
same input to its own view — the originator when it receives the ack, the responder
when it sends it — so the two views move in step when messages arrive.

Agreement. Messages cross: an acknowledgement and an escalation, a withdrawal and an
acknowledgement, a resolution and a dispute. So when the originator's view ends, it
works out, for every station it addressed on every line, the outcome that station's
view holds from what the station itself said (an ack: acknowledged; a resolution:
resolved) and sends a closing message to each station whose view would disagree, to
each station that disputed (its view stays open, waiting for the originator's
decision), and to each station it heard no final answer from (silence may be an answer
lost on the way, so what that view holds is not known): ``close`` with the outcome,
``withdraw`` for a withdrawal, ``resolve`` for a resolution. The responder's view takes
the originator's word from whatever state it is in (inputs ``close-*``) and answers
``confirm``; unconfirmed closing messages are sent again at the line's deadline, as
notices are. In the common case (the station that answered is the one that settled
it) nothing extra is sent. An answer that arrives after the incident moved on is a
signed fact: it is recorded, the line's ``late_answer`` doctrine decides its effect,
and its sender is told the outcome if its view would disagree.

Guards that depend on data, not on state (attempts left, a next line on the ladder,
every addressee answered, the dispute policy), are computed here and select *which*
input to apply; the table then decides whether that input is legal. A missing
(state, input) pair is an `IllegalTransition` for local calls and a refused message
(reason ``illegal-transition``) for received ones — never a crash.

Timers are data: `Incident.deadline` is the next instant the incident needs `on_timer`
(an answer deadline, a lapse, or a closing message to send again); nothing here reads a
clock or sleeps. Every method that can make the station speak returns `Send` actions;
the endpoint signs them and tells the incident each digest (`signed`).

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple

from hotline.core.channels import ChannelDoctrine, DisputePolicy, Doctrine, LateAnswer
from hotline.core.errors import IllegalTransition, InvalidEnvelope, Reason, RefusedMessage
from hotline.core.names import (
    CLOSING_KINDS,
    NOTICE_KINDS,
    OPENING_KINDS,
    Channel,
    DisputeReason,
    Kind,
    Precedence,
)
from hotline.core.where import Where


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
    LATE_ACK = "late-ack"  # an ack from a line the incident left closes it
    LATE_ANSWER = "late-answer"  # an answer from a line left behind, or after the end: recorded
    CORRECT = "correct"  # a responder amends an answer it gave; the outcome stands
    CONFIRM = "confirm"  # a station confirmed the originator's closing message
    CLOSE_ACKNOWLEDGED = "close-acknowledged"  # the originator's word: acknowledged
    CLOSE_DISPUTED = "close-disputed"  # the originator's word: disputed
    CLOSE_UNRESOLVED = "close-unresolved"  # the originator's word: unresolved
    CLOSE_WITHDRAWN = "close-withdrawn"  # the originator's word: withdrawn
    CLOSE_RESOLVED = "close-resolved"  # the originator's word: resolved


_S, _I = State, Input
_OPEN: Final = (_S.NOTIFIED, _S.STANDBY, _S.DISPUTED)
TERMINAL: Final = frozenset(
    {State.ACKNOWLEDGED, State.CLOSED_DISPUTED, State.RESOLVED, State.WITHDRAWN, State.UNRESOLVED}
)
#: The state each closing input leads to.
CLOSES: Final[Mapping[Input, State]] = {
    _I.CLOSE_ACKNOWLEDGED: _S.ACKNOWLEDGED,
    _I.CLOSE_DISPUTED: _S.CLOSED_DISPUTED,
    _I.CLOSE_UNRESOLVED: _S.UNRESOLVED,
    _I.CLOSE_WITHDRAWN: _S.WITHDRAWN,
    _I.CLOSE_RESOLVED: _S.RESOLVED,
}
_ENDED: Final = tuple(sorted(TERMINAL))
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
    (_S.FALLBACK, _I.ACCEPT): _S.CLOSED_DISPUTED,  # no line left: a dispute given stands
    # a responder repeats its final answer when the notice comes again
    (_S.ACKNOWLEDGED, _I.RETRY): _S.ACKNOWLEDGED,
    (_S.CLOSED_DISPUTED, _I.RETRY): _S.CLOSED_DISPUTED,
    (_S.RESOLVED, _I.RETRY): _S.RESOLVED,
    # an acknowledgement from a line the incident left closes it (late_answer = close)
    # an acknowledgement from a line the incident left closes it (late_answer = close),
    # unless a dispute is held open above it: a desk's receipt does not overrule a no
    **{(state, _I.LATE_ACK): _S.ACKNOWLEDGED for state in (_S.NOTIFIED, _S.STANDBY)},
    # recorded without changing the outcome: late answers, corrections, confirmations
    **{(state, _I.LATE_ANSWER): state for state in (*_OPEN, *_ENDED)},
    **{(state, _I.CORRECT): state for state in (*_OPEN, *_ENDED)},
    **{(state, _I.CONFIRM): state for state in _ENDED},
    # a responder's view takes the originator's closing message from any state
    **{
        (state, event): after
        for state in (_S.NEW, *_OPEN, *_ENDED)
        for event, after in CLOSES.items()
    },
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
    Input.LATE_ACK: _R,
    Input.LATE_ANSWER: _R,
    Input.CORRECT: _R,
    Input.CONFIRM: _R,
    **dict.fromkeys(CLOSES, _O),
}

#: The outcome names of the exercise JSON contract.
OUTCOMES: Final[Mapping[State, str]] = {
    State.ACKNOWLEDGED: "acknowledged",
    State.CLOSED_DISPUTED: "disputed",
    State.RESOLVED: "resolved",
    State.WITHDRAWN: "withdrawn",
    State.UNRESOLVED: "unresolved",
}
_STATE_OF: Final = {name: state for state, name in OUTCOMES.items()}
_CLOSE_INPUT: Final = {after: event for event, after in CLOSES.items()}
_FINAL_ANSWERS: Final = frozenset({Kind.ACK, Kind.DISPUTE, Kind.RESOLVE})
#: The outcome a station's own view holds after its last final answer: an ack or a
#: resolution closes it. A dispute leaves it open (``disputed``, waiting for the
#: originator's decision), so a disputer is always told how the incident ended.
_EXPECTED: Final = {Kind.ACK: "acknowledged", Kind.RESOLVE: "resolved"}
_ANSWER_INPUT: Final = {
    Kind.STANDBY: Input.STANDBY,
    Kind.ACK: Input.ACK,
    Kind.DISPUTE: Input.DISPUTE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """What a notice announces.

    Args:
        activity: what will happen: ``strike``, ``flight``, ``patrol``, ``movement``...
            (doctrine sets a minimum lead time per activity).
        starts_at: when it starts (Unix seconds); the notice's lead time is measured to it.
        ends_at: when it ends.
        area: where, as the older body map: a point or circle (``lat``, ``lon``,
            optional ``radius_km`` and ``note``) or a route (``route``: [lat, lon]
            points, optional ``width_km`` and ``note``). Still sent when given.
        where: where, canonically (the ``where`` body map, PROTOCOL.md 3.4): what the
            protocol reads when a notice carries both. A received notice without one
            has its ``area`` converted here.
        text: free text.
    """

    activity: str
    starts_at: float | None = None
    ends_at: float | None = None
    area: Mapping[str, object] | None = None
    where: Where | None = None
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
        if self.where is not None:
            body["where"] = self.where.to_body()
        if self.text:
            body["text"] = self.text
        return body

    def located(self) -> Where | None:
        """Where the notice says its activity is: its ``where``, else its older ``area``
        read as one (read when asked: most notices are never asked)."""
        if self.where is not None or self.area is None:
            return self.where
        return Where.from_area(self.area)

    @classmethod
    def from_body(cls, body: Mapping[str, object]) -> Notice:
        """Read a received notice body leniently: fields of the wrong type are ignored."""
        activity = body.get("activity")
        starts, ends, area, text = (body.get(k) for k in ("starts_at", "ends_at", "area", "text"))
        where: Where | None = None
        if "where" in body:
            # Received notices passed the wire check, which refuses a bad `where`; one
            # built locally is read as leniently as the other fields.
            try:
                where = Where.from_body(body["where"])
            except InvalidEnvelope:
                where = None
        return cls(
            activity=activity if isinstance(activity, str) else "",
            starts_at=starts / 1000 if type(starts) is int else None,
            ends_at=ends / 1000 if type(ends) is int else None,
            area=area if isinstance(area, dict) else None,
            where=where,
            text=text if isinstance(text, str) else "",
        )


#: The notice of a responder view no notice has opened yet (a notice is immutable).
_NO_NOTICE: Final = Notice(activity="")


class Send:
    """An action: the station must send this message (the endpoint signs and queues it).

    Read-only, compared by value. Its attributes are ``Final`` (enforced by mypy, and at
    run time when compiled): a plain class, not a frozen dataclass, is several times
    cheaper to make, and one is made for nearly every message sent.
    """

    __slots__ = ("body", "channel", "kind", "recipients", "ref")

    def __init__(
        self,
        kind: Kind,
        channel: Channel,
        recipients: tuple[str, ...],
        ref: bytes | None,
        body: Mapping[str, Any],
    ) -> None:
        self.kind: Final = kind
        self.channel: Final = channel
        self.recipients: Final = recipients
        self.ref: Final = ref
        self.body: Final = body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Send):
            return NotImplemented
        return (self.kind, self.channel, self.recipients, self.ref, self.body) == (
            other.kind,
            other.channel,
            other.recipients,
            other.ref,
            other.body,
        )

    def __hash__(self) -> int:  # as a frozen dataclass's: unhashable with a dict body
        return hash((self.kind, self.channel, self.recipients, self.ref, self.body))

    def __repr__(self) -> str:
        return (
            f"Send(kind={self.kind!r}, channel={self.channel!r}, recipients={self.recipients!r},"
            f" ref={self.ref!r}, body={self.body!r})"
        )


class Heard:
    """A verified message, as the incident it concerns sees it.

    Read-only, as `Send` (a plain class, not a named tuple, for the same reason: one is
    made for every message taken).
    """

    __slots__ = ("body", "channel", "digest", "kind", "ref", "sender", "sent_at")

    def __init__(  # noqa: PLR0917 (positional, as in the named tuple it once was)
        self,
        kind: Kind,
        sender: str,
        channel: Channel,
        ref: bytes | None,
        digest: bytes,
        body: Mapping[str, Any],
        sent_at: float,  # the sender's signed time, Unix seconds
    ) -> None:
        self.kind: Final = kind
        self.sender: Final = sender
        self.channel: Final = channel
        self.ref: Final = ref
        self.digest: Final = digest
        self.body: Final = body
        self.sent_at: Final = sent_at

    def __repr__(self) -> str:
        return (
            f"Heard({self.kind!r}, {self.sender!r}, {self.channel!r}, {self.ref!r}, "
            f"{self.digest!r}, {self.body!r}, {self.sent_at!r})"
        )


class Step(NamedTuple):
    """One transition, as recorded in an incident's history (a tuple: cheap to record)."""

    at: float
    before: State
    input: Input
    after: State
    channel: Channel
    by: str  # the station whose message, decision or timer caused it


class Answer(NamedTuple):
    """An answer the originator heard, counted or not: a signed fact on record."""

    at: float
    station: str
    channel: Channel
    kind: Kind  # standby, ack, dispute, resolve, or correct
    reason: str = ""  # a dispute's reason (a correction's, when it corrects to a dispute)
    effect: str = "taken"  # taken; recorded (late, beside the outcome); refused (late)
    corrects_to: str = ""  # a correction: the answer it now gives (ack or dispute)


@dataclass(slots=True, init=False)
class Leg:
    """The incident's stretch on one line.

    The ``__init__`` is written out (a compiled one is several times cheaper than the
    generated one), and what each station confirmed is kept only once one has.
    """

    channel: Channel
    recipients: tuple[str, ...]
    opened_at: float
    calls: int = 0  # notices sent (originator) or received (responder) on this line
    standbys: int = 0
    answers: dict[str, Kind] = field(default_factory=dict)  # final answers by station
    _told: dict[str, str] | None = None  # outcome each station confirmed (`told`)

    def __init__(
        self,
        channel: Channel,
        recipients: tuple[str, ...],
        opened_at: float,
        *,
        calls: int = 0,
        standbys: int = 0,
        answers: dict[str, Kind] | None = None,
        told: Mapping[str, str] | None = None,
    ) -> None:
        self.channel = channel
        self.recipients = recipients
        self.opened_at = opened_at
        self.calls = calls
        self.standbys = standbys
        self.answers = {} if answers is None else answers
        self._told = dict(told) if told else None

    @property
    def told(self) -> Mapping[str, str]:
        """The outcome each station confirmed (read-only; `tell` records one)."""
        return {} if self._told is None else self._told

    @told.setter
    def told(self, value: Mapping[str, str]) -> None:
        self._told = dict(value) if value else None

    def tell(self, station: str, outcome: str) -> None:
        """Record that ``station`` confirmed ``outcome``."""
        if self._told is None:
            self._told = {station: outcome}
        else:
            self._told[station] = outcome


@dataclass(slots=True)
class Closing:
    """A closing message owed to one station until it confirms (originator only)."""

    station: str
    channel: Channel
    kind: Kind  # close, withdraw or resolve
    left: int  # sends still allowed
    due: float  # when it is (next) sent; after the last send, when to stop waiting


class Verdict:
    """What taking a message did: messages to send, and whether the message was refused
    (read-only, as `Send`)."""

    __slots__ = ("refused", "sends")

    def __init__(self, sends: list[Send], refused: RefusedMessage | None = None) -> None:
        self.sends: Final = sends
        self.refused: Final = refused

    def __repr__(self) -> str:
        return f"Verdict({self.sends!r}, {self.refused!r})"


@dataclass(slots=True, init=False)
class Incident:
    """One incident as one station sees it. Build with `originate` or `responder_view`.

    The ``__init__`` is written out: a compiled one is several times cheaper than the
    generated one, and two incidents (the originator's and a responder's view) are made
    for every notice. What most incidents never fill (`disputes`, `answers`, `closing`,
    `closings`, `unconfirmed`) is made on first use, and read through read-only
    properties: an incident acknowledged at the first call would otherwise carry
    several empty containers per view.
    """

    id: str
    role: Role
    party: str  # this station's party
    station: str  # this station (on the first line)
    originator: str  # the originating station (on the first line)
    precedence: Precedence
    notice: Notice
    doctrine: Doctrine
    opened_at: float
    kind: Kind = Kind.NOTIFY  # what opened it: notify, protest, report or relay
    relay_for: str = ""  # a relay: the party the notice is meant for
    state: State = State.NEW
    legs: list[Leg] = field(default_factory=list)
    channel: Channel = Channel.AIR  # the line it is on now (set by `_enter`)
    rules: ChannelDoctrine = field(init=False)  # that line's doctrine
    deadline: float | None = None
    closed_at: float | None = None  # when it first reached a terminal state
    outcome_at: float | None = None  # when it reached the outcome it holds now
    fallbacks: int = 0
    escalation: str = ""  # why the last fallback happened: no-answer, dispute, link-down...
    ending: str = ""  # why it ended where it did, when that is not plain from the outcome
    late_notice: bool = False
    lead: str = ""  # short-notice, no-start-time, or "" (enough lead, or none needed)
    resolution: Mapping[str, object] | None = None
    withdrawal: str = ""  # the text of a withdrawal
    history: list[Step] = field(default_factory=list)
    notices: dict[bytes, int] = field(default_factory=dict)  # digest -> leg index
    last_notice: bytes | None = None  # responder: digest of the latest notice received
    closed_by: Kind | None = None  # responder: the closing message it took, if any
    # made on first use (None: empty); read them through the properties of their names
    _disputes: list[tuple[str, DisputeReason]] | None = None  # (station, reason), in order
    _answers: list[Answer] | None = None  # originator: every answer heard
    _closing: list[Closing] | None = None  # originator: owed, unconfirmed
    _closings: dict[bytes, Channel] | None = None  # closing digests sent
    _unconfirmed: list[tuple[str, Channel]] | None = None  # told, never confirmed

    def __init__(
        self,
        *,
        id: str,
        role: Role,
        party: str,
        station: str,
        originator: str,
        precedence: Precedence,
        notice: Notice,
        doctrine: Doctrine,
        opened_at: float,
        kind: Kind = Kind.NOTIFY,
        relay_for: str = "",
    ) -> None:
        self.id = id
        self.role = role
        self.party = party
        self.station = station
        self.originator = originator
        self.precedence = precedence
        self.notice = notice
        self.doctrine = doctrine
        self.opened_at = opened_at
        self.kind = kind
        self.relay_for = relay_for
        self.state = State.NEW
        self.legs = []
        self.channel = Channel.AIR
        self.deadline = None
        self.closed_at = None
        self.outcome_at = None
        self.fallbacks = 0
        self.escalation = ""
        self.ending = ""
        self.late_notice = False
        self.lead = ""
        self.resolution = None
        self.withdrawal = ""
        self.history = []
        self.notices = {}
        self.last_notice = None
        self.closed_by = None
        self._disputes = None
        self._answers = None
        self._closing = None
        self._closings = None
        self._unconfirmed = None

    # -- what is made on first use ------------------------------------------------------

    @property
    def disputes(self) -> Sequence[tuple[str, DisputeReason]]:
        """Every dispute given, in order: (station, reason)."""
        return [] if self._disputes is None else self._disputes

    @disputes.setter
    def disputes(self, value: Sequence[tuple[str, DisputeReason]]) -> None:
        self._disputes = list(value) if value else None

    def _dispute(self, station: str, reason: DisputeReason) -> None:
        if self._disputes is None:
            self._disputes = [(station, reason)]
        else:
            self._disputes.append((station, reason))

    @property
    def answers(self) -> Sequence[Answer]:
        """Originator: every answer heard, counted or not, in order."""
        return [] if self._answers is None else self._answers

    @answers.setter
    def answers(self, value: Sequence[Answer]) -> None:
        self._answers = list(value) if value else None

    @property
    def closing(self) -> Sequence[Closing]:
        """Originator: the closing messages owed, not yet confirmed."""
        return [] if self._closing is None else self._closing

    @closing.setter
    def closing(self, value: Sequence[Closing]) -> None:
        self._closing = list(value) if value else None

    @property
    def closings(self) -> Mapping[bytes, Channel]:
        """Originator: the digest of every closing message sent, and its line."""
        return {} if self._closings is None else self._closings

    @closings.setter
    def closings(self, value: Mapping[bytes, Channel]) -> None:
        self._closings = dict(value) if value else None

    @property
    def unconfirmed(self) -> Sequence[tuple[str, Channel]]:
        """Originator: (station, line) told the outcome every time allowed, never
        confirming it."""
        return [] if self._unconfirmed is None else self._unconfirmed

    @unconfirmed.setter
    def unconfirmed(self, value: Sequence[tuple[str, Channel]]) -> None:
        self._unconfirmed = list(value) if value else None

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
        kind: Kind = Kind.NOTIFY,
        relay_for: str = "",
    ) -> tuple[Incident, list[Send]]:
        """Open an incident as its originator; returns it and the first notice to send.

        Raises:
            ValueError: ``kind`` does not open an incident, or a relay names no party.
        """
        if kind not in OPENING_KINDS:
            raise ValueError(f"{kind} does not open an incident ({', '.join(OPENING_KINDS)})")
        if (kind is Kind.RELAY) != bool(relay_for):
            raise ValueError("a relay, and only a relay, names the party it is for")
        incident = Incident(  # (not cls: a call of the class itself compiles to a native one)
            id=incident_id,
            role=Role.ORIGINATOR,
            party=party,
            station=station,
            originator=station,
            precedence=precedence,
            notice=notice,
            doctrine=doctrine,
            opened_at=now,
            kind=kind,
            relay_for=relay_for,
        )
        incident._judge_lead(now)
        incident._enter(Leg(channel, recipients, now, calls=1))
        incident._apply(Input.NOTIFY, now, station)
        incident.deadline = now + incident.rules.deadline(precedence)
        return incident, [incident._call(kind, recipients)]

    @classmethod
    def responder_view(
        cls,
        *,
        incident_id: str,
        party: str,
        station: str,
        originator: str,
        channel: Channel,
        precedence: Precedence,
        doctrine: Doctrine,
        now: float,
    ) -> Incident:
        """An empty responder view (state ``new``) for the first message of an incident
        on a line: a notice opens it, a closing message closes it at once."""
        incident = Incident(  # (not cls: see `originate`)
            id=incident_id,
            role=Role.RESPONDER,
            party=party,
            station=station,
            originator=originator,
            precedence=precedence,
            notice=_NO_NOTICE,  # until a notice opens it
            doctrine=doctrine,
            opened_at=now,
        )
        incident._enter(Leg(channel, (station,), now))
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
        """Whether the incident is still waiting for an outcome."""
        return self.state not in TERMINAL

    @property
    def settled(self) -> bool:
        """Ended, and no closing message is still owed to anyone."""
        return self.state in TERMINAL and not self._closing

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

    def leg_on(self, channel: Channel) -> Leg | None:
        """The leg on ``channel``, if the incident has been there."""
        for leg in self.legs:
            if leg.channel == channel:
                return leg
        return None

    # -- the table --------------------------------------------------------------------

    def _apply(self, event: Input, now: float, by: str, channel: Channel | None = None) -> State:
        before = self.state
        after = TRANSITIONS.get((before, event))
        if after is None:
            raise IllegalTransition(before, event, f"not allowed for incident {self.id}")
        # (tuple.__new__ is what Step(...) calls, without the call in between)
        step = (now, before, event, after, channel or self.channel, by)
        self.history.append(tuple.__new__(Step, step))
        self.state = after
        if after in TERMINAL:
            if self.closed_at is None:
                self.closed_at = now
            if after is not before or self.outcome_at is None:
                self.outcome_at = now
            if self.role is Role.RESPONDER or before not in TERMINAL:
                self.deadline = None
        return after

    def _check(self, event: Input, role: Role) -> None:
        if role not in CAUSED_BY[event]:
            raise IllegalTransition(self.state, event, f"a {role} cannot {event}")
        if (self.state, event) not in TRANSITIONS:
            raise IllegalTransition(self.state, event, f"not allowed for incident {self.id}")

    def _allowed(self, event: Input) -> None:
        if (self.state, event) not in TRANSITIONS:
            raise RefusedMessage(Reason.ILLEGAL_TRANSITION, f"{event} not allowed in {self.state}")

    def _call(self, kind: Kind, recipients: tuple[str, ...], **extra: object) -> Send:
        body = self.notice.to_body()
        body["attempt"] = self.leg.calls
        if self.relay_for:
            body["for"] = self.relay_for
        if self.leg.calls > 1 or len(self.legs) > 1:
            # when the first call went: a retry or an escalation opening a view is
            # judged for lead time from it, as the originator judged it
            body["noticed_at"] = round(self.opened_at * 1000)
        body.update(extra)
        ref = None if kind in OPENING_KINDS and len(self.legs) == 1 else self._latest_notice()
        return Send(kind, self.channel, recipients, ref, body)

    def _latest_notice(self, leg_index: int | None = None) -> bytes | None:
        if leg_index is None:
            return next(reversed(self.notices), None) if self.notices else None
        found = [d for d, i in self.notices.items() if i == leg_index]
        return found[-1] if found else None

    def _judge_lead(self, sent_at: float) -> None:
        """Flag a notice that leaves too little time, or does not say when."""
        if self.kind not in (Kind.NOTIFY, Kind.RELAY):
            return  # a protest is about what is under way, a report about what is done
        minimum = self.doctrine.min_lead_time(self.notice.activity)
        if minimum is None:
            return
        if self.notice.starts_at is None:
            self.lead = "no-start-time"
        elif self.notice.starts_at - sent_at < minimum:
            self.lead = "short-notice"
        self.late_notice = bool(self.lead)

    # -- messages in ------------------------------------------------------------------

    def take(self, heard: Heard, now: float) -> Verdict:
        """Take a verified message about this incident (the one place each kind is handled).

        A refusal that changes nothing raises; one the incident still acts on (a late
        answer refused by doctrine, whose sender must be told the outcome) comes back
        in the verdict.

        Raises:
            RefusedMessage: the message does not fit this incident (see PROTOCOL.md 7.2).
        """
        handler = HANDLERS.get(heard.kind)
        if handler is None:
            raise RefusedMessage(Reason.ILLEGAL_TRANSITION, f"{heard.kind} belongs to no incident")
        return handler(self, heard, now)

    def signed(self, send: Send, digest: bytes) -> None:
        """Record the digest of a message this view sent (notices and closing messages)."""
        if self.role is not Role.ORIGINATOR:
            return
        if send.kind in NOTICE_KINDS:
            self.notices[digest] = len(self.legs) - 1
        elif send.kind in CLOSING_KINDS:
            if self._closings is None:
                self._closings = {}
            self._closings[digest] = send.channel

    # -- originator: answers ------------------------------------------------------------

    def _answered_leg(self, heard: Heard) -> tuple[int, Leg]:
        if self.role is not Role.ORIGINATOR:
            raise RefusedMessage(
                Reason.ILLEGAL_TRANSITION, f"{heard.kind} sent to a responder of {self.id}"
            )
        leg_index = self.notices.get(heard.ref) if heard.ref is not None else None
        if leg_index is None:
            raise RefusedMessage(
                Reason.UNKNOWN_REFERENCE, f"{heard.kind} refers to no notice of {self.id}"
            )
        leg = self.legs[leg_index]
        if heard.sender not in leg.recipients or heard.channel != leg.channel:
            raise RefusedMessage(
                Reason.NOT_AN_ADDRESSEE, f"{heard.sender} was not addressed by that notice"
            )
        return leg_index, leg

    def _on_answer(self, heard: Heard, now: float) -> Verdict:
        """A standby, ack, dispute, or a responder's resolution, from an addressee."""
        kind, sender = heard.kind, heard.sender
        if kind is Kind.RESOLVE and self.role is Role.RESPONDER:
            return self._on_closing(heard, now)
        _, leg = self._answered_leg(heard)
        previous = leg.answers.get(sender)
        if previous is kind:
            return Verdict([])  # the same final answer again: a retry crossed it in flight
        # a resolution may follow a dispute (it is how the dispute is settled); any other
        # change of a final answer is a correction
        if previous is not None and (previous, kind) != (Kind.DISPUTE, Kind.RESOLVE):
            raise RefusedMessage(Reason.ILLEGAL_TRANSITION, f"{sender} already answered {previous}")
        reason = ""
        if kind is Kind.DISPUTE:
            reason = DisputeReason(str(heard.body.get("reason"))).value
        if self.is_open and leg is self.leg:
            return Verdict(self._current_answer(heard, leg, reason, now))
        return self._late_answer(heard, leg, reason, now)

    def _current_answer(self, heard: Heard, leg: Leg, reason: str, now: float) -> list[Send]:
        kind, sender = heard.kind, heard.sender
        if kind is Kind.STANDBY:
            self._allowed(Input.STANDBY)
            self._log(heard, now, reason)
            self._apply(Input.STANDBY, now, sender)
            if leg.standbys < self.rules.max_standbys and self.state is State.STANDBY:
                leg.standbys += 1
                self.deadline = now + self.rules.deadline(self.precedence)
            return []
        if kind is Kind.RESOLVE:
            if not self.rules.resolves:
                raise RefusedMessage(
                    Reason.ILLEGAL_TRANSITION, f"the {self.channel} line does not resolve"
                )
            self._allowed(Input.RESOLVE)
            leg.answers[sender] = kind
            self._log(heard, now, reason)
            self.resolution = dict(heard.body)
            self._apply(Input.RESOLVE, now, sender)
            return self._settle(now)
        if kind is Kind.ACK:
            everyone = all(leg.answers.get(s) is Kind.ACK or s == sender for s in leg.recipients)
            event = Input.ACK if everyone else Input.PARTIAL_ACK
            self._allowed(event)
            leg.answers[sender] = kind
            self._log(heard, now, reason)
            self._apply(event, now, sender)
            return self._settle(now) if not self.is_open else []
        # a dispute
        self._allowed(Input.DISPUTE)
        leg.answers[sender] = kind
        self._log(heard, now, reason)
        self._dispute(sender, DisputeReason(reason))
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
        return self._settle(now)

    def _late_answer(self, heard: Heard, leg: Leg, reason: str, now: float) -> Verdict:
        """An answer from a line the incident has left, or after it ended: a signed fact
        on record; its line's ``late_answer`` doctrine decides what it does."""
        kind, sender = heard.kind, heard.sender
        if kind in _FINAL_ANSWERS:
            leg.answers[sender] = kind  # what the sender's own view now holds
        policy = self.doctrine[leg.channel].late_answer
        where = "after it ended" if not self.is_open else f"after it left {leg.channel}"
        if policy is LateAnswer.REFUSE:
            self._log(heard, now, reason, "refused")
            refusal = RefusedMessage(
                Reason.LATE, f"{kind} from {sender} {where} ({self.id}, {self.state})"
            )
            return Verdict(self._owe_closing(leg, sender, now), refusal)
        everyone = all(leg.answers.get(s) is Kind.ACK for s in leg.recipients)
        closes = (self.state, Input.LATE_ACK) in TRANSITIONS  # open, and no dispute held
        if policy is LateAnswer.CLOSE and kind is Kind.ACK and everyone and closes:
            self._log(heard, now, reason)
            self._apply(Input.LATE_ACK, now, sender, leg.channel)
            self.ending = f"late acknowledgement on {leg.channel} stood the escalation down"
            return Verdict(self._settle(now))
        self._log(heard, now, reason, "recorded")
        if kind is Kind.DISPUTE:
            self._dispute(sender, DisputeReason(reason))
        self._apply(Input.LATE_ANSWER, now, sender, leg.channel)
        return Verdict(self._owe_closing(leg, sender, now) if not self.is_open else [])

    def _on_correction(self, heard: Heard, now: float) -> Verdict:
        """A responder amends an answer it gave: on record beside it; the outcome stands."""
        _, leg = self._answered_leg(heard)
        if leg.answers.get(heard.sender) not in (Kind.ACK, Kind.DISPUTE):
            raise RefusedMessage(
                Reason.ILLEGAL_TRANSITION, f"{heard.sender} gave no answer on {leg.channel}"
            )
        to = str(heard.body.get("answer", ""))
        reason = str(heard.body.get("reason", "")) if to == Kind.DISPUTE else ""
        late = not self.is_open or leg is not self.leg
        self._record(
            Answer(
                now,
                heard.sender,
                leg.channel,
                Kind.CORRECT,
                reason,
                "recorded" if late else "taken",
                to,
            )
        )
        self._apply(Input.CORRECT, now, heard.sender, leg.channel)
        return Verdict([])

    def _on_confirm(self, heard: Heard, now: float) -> Verdict:
        """A station confirms a closing message: it owes nothing more."""
        if self.role is not Role.ORIGINATOR:
            raise RefusedMessage(
                Reason.ILLEGAL_TRANSITION, f"confirm sent to a responder of {self.id}"
            )
        closings = self._closings
        if heard.ref is None or closings is None or closings.get(heard.ref) != heard.channel:
            raise RefusedMessage(
                Reason.UNKNOWN_REFERENCE, f"confirm refers to no closing message of {self.id}"
            )
        leg = self.leg_on(heard.channel)
        if leg is None or heard.sender not in leg.recipients:
            raise RefusedMessage(
                Reason.NOT_AN_ADDRESSEE, f"{heard.sender} was sent no closing message"
            )
        where = (heard.sender, heard.channel)
        owed = self._owed_to(heard.sender, heard.channel)
        unconfirmed = self._unconfirmed
        late = unconfirmed is not None and where in unconfirmed
        if owed is None and not late:
            return Verdict([])  # confirmed before: a closing message sent again crossed it
        if owed is not None:
            self._drop_closing(owed)
        if late:  # a confirmation that came after the originator stopped waiting counts
            assert unconfirmed is not None
            unconfirmed.remove(where)
            if not unconfirmed:
                self._unconfirmed = None
        # what the station says its view now holds (its own word, if it gives one)
        said = heard.body.get("outcome")
        leg.tell(
            heard.sender, said if isinstance(said, str) and said in _STATE_OF else self.outcome
        )
        self._apply(Input.CONFIRM, now, heard.sender, heard.channel)
        self._schedule_closing()
        return Verdict([])

    def _log(self, heard: Heard, now: float, reason: str, effect: str = "taken") -> None:
        self._record(Answer(now, heard.sender, heard.channel, heard.kind, reason, effect))

    def _record(self, answer: Answer) -> None:
        if self._answers is None:
            self._answers = [answer]
        else:
            self._answers.append(answer)

    # -- originator: the end, and telling everyone ---------------------------------------

    def _expected(self, leg: Leg, station: str) -> str | None:
        """The outcome ``station``'s view of ``leg`` holds, from what it said and was told;
        None when it is not known: no final answer was heard, and the station may have
        given one that was lost (so it is always told the outcome)."""
        told = None if leg._told is None else leg._told.get(station)
        if told is not None:
            return told
        answered = leg.answers.get(station)
        return None if answered is None else _EXPECTED.get(answered)

    def _settle(self, now: float) -> list[Send]:
        """The incident ended: owe a closing message to every view that would disagree
        (none, in the common case: the answer that settled it was every answer)."""
        outcome = self.outcome
        owed: list[Closing] | None = None
        for leg in self.legs:
            for station in leg.recipients:
                if self._expected(leg, station) != outcome:
                    closing = self._owed(leg, station, now)
                    if closing is None:
                        continue
                    if owed is None:
                        owed = [closing]
                    else:
                        owed.append(closing)
        if owed is None and self._closing is None:
            self.deadline = None  # nothing owed, nothing to wait for: the common case
            return []
        if owed is not None:
            self._owe(owed)
        return self._closing_due(now)

    def _owe_closing(self, leg: Leg, station: str, now: float) -> list[Send]:
        """After the end: tell ``station`` the outcome again if its view would disagree."""
        if self.is_open or self._expected(leg, station) == self.outcome:
            return []
        closing = self._owed(leg, station, now)
        if closing is not None:
            self._owe([closing])
        return self._closing_due(now)

    def _owed(self, leg: Leg, station: str, now: float) -> Closing | None:
        """A closing message to ``station`` on ``leg``, unless one is owed already."""
        if self._owed_to(station, leg.channel) is not None:
            return None
        kind = Kind.CLOSE
        if self.state is State.WITHDRAWN:
            kind = Kind.WITHDRAW
        elif self.state is State.RESOLVED and leg is self.leg and self.resolution is not None:
            kind = Kind.RESOLVE
        retries = self.doctrine[leg.channel].retries
        return Closing(station, leg.channel, kind, retries + 1, now)

    def _owed_to(self, station: str, channel: Channel) -> Closing | None:
        """The closing message owed to ``station`` on ``channel``, if any."""
        for closing in self._closing or ():
            if closing.station == station and closing.channel == channel:
                return closing
        return None

    def _owe(self, owed: list[Closing]) -> None:
        if self._closing is None:
            self._closing = owed
        else:
            self._closing.extend(owed)

    def _drop_closing(self, owed: Closing) -> None:
        closing = self._closing
        if closing is not None:
            closing.remove(owed)
            if not closing:
                self._closing = None

    def _closing_due(self, now: float) -> list[Send]:
        """Send every closing message that is due, grouped per line and kind."""
        if self._closing is None:  # nothing owed: the common case
            self._schedule_closing()
            return []
        groups: dict[tuple[Channel, Kind], list[str]] = {}
        for owed in list(self._closing):
            if owed.due > now:
                continue
            if owed.left == 0:  # sent every time allowed, never confirmed
                self._drop_closing(owed)
                if self._unconfirmed is None:
                    self._unconfirmed = []
                self._unconfirmed.append((owed.station, owed.channel))
                continue
            owed.left -= 1
            owed.due = now + self.doctrine[owed.channel].deadline(self.precedence)
            groups.setdefault((owed.channel, owed.kind), []).append(owed.station)
        sends = []
        for (channel, kind), stations in groups.items():
            body: dict[str, object] = {}
            if kind is Kind.CLOSE:
                body["outcome"] = self.outcome
                if self.state is State.CLOSED_DISPUTED:
                    body.update(self._dispute_fields())
            elif kind is Kind.RESOLVE and self.resolution is not None:
                body = dict(self.resolution)
            elif kind is Kind.WITHDRAW and self.withdrawal:
                body["text"] = self.withdrawal
            leg = self.leg_on(channel)
            ref = None if leg is None else self._latest_notice(self.legs.index(leg))
            sends.append(Send(kind, channel, tuple(stations), ref, body))
        self._schedule_closing()
        return sends

    def _schedule_closing(self) -> None:
        if self.state in TERMINAL:
            closing = self._closing
            self.deadline = None if closing is None else min(c.due for c in closing)

    # -- originator: time and decisions -------------------------------------------------

    def on_timer(self, now: float) -> list[Send]:
        """Act on a deadline that has passed (a no-op before it)."""
        if self.deadline is None or now < self.deadline:
            return []
        if self.role is Role.RESPONDER:
            self._apply(Input.LAPSE, now, self.station)
            return []
        if self.state in TERMINAL:
            return self._closing_due(now)
        me = self.station_on(self.channel)
        if self.state is State.DISPUTED:  # held for a decision that never came
            self._apply(Input.ACCEPT, now, me)
            return self._settle(now)
        leg = self.leg
        if leg.calls < self.rules.retries + 1:
            leg.calls += 1
            self._apply(Input.RETRY, now, me)
            self.deadline = now + self.rules.deadline(self.precedence)
            unanswered = tuple(s for s in leg.recipients if s not in leg.answers)
            if len(self.legs) == 1:
                return [self._call(self.kind, unanswered)]
            return [self._call(Kind.ESCALATE, unanswered, **self._escalation_fields())]
        return self._fall_back(now, "no-answer")

    def _escalation_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "escalated_from": self.legs[-2].channel.value,
            "escalation": self.escalation,
        }
        if self.kind is not Kind.NOTIFY:
            fields["carries"] = self.kind.value
        return fields

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
        if nxt is None or not recipients:
            standing = self._standing_dispute()
            me = self.station_on(old.channel)
            if standing is not None:
                station, channel, why = standing
                self.ending = f"{station}'s dispute on {channel} ({why}) stands"
                if old.channel != channel:
                    self.ending += f"; {old.channel}: {reason}"
                self._apply(Input.ACCEPT, now, me)
            else:
                self.ending = f"{old.channel}: {reason}"
                self._apply(Input.GIVE_UP, now, me)
            return self._settle(now)
        self.escalation = reason
        self._enter(Leg(nxt, recipients, now, calls=1))
        self.fallbacks += 1
        self._apply(Input.ESCALATE, now, self.station_on(nxt))
        self.deadline = now + self.rules.deadline(self.precedence)
        return [self._call(Kind.ESCALATE, recipients, **self._escalation_fields())]

    def _dispute_fields(self) -> dict[str, object]:
        """A close's account of the dispute the incident ended on: its reason, and the
        station that gave it (the standing dispute, else the last one)."""
        standing = self._standing_dispute()
        if standing is not None:
            return {"reason": standing[2], "disputed_by": standing[0]}
        if self._disputes:
            station, why = self._disputes[-1]
            return {"reason": why.value, "disputed_by": station}
        return {}

    def _standing_dispute(self) -> tuple[str, Channel, str] | None:
        """A dispute that stands, if any: (station, line, reason) of the latest dispute
        that is some party's last final answer (not refused). Each party speaks for
        itself: another party's acknowledgement does not take back this one's dispute."""
        last: dict[str, Answer] = {}
        for answer in self._answers or ():
            if answer.kind in _FINAL_ANSWERS and answer.effect != "refused":
                party = self.doctrine[answer.channel].party_of(answer.station) or answer.station
                last[party] = answer
        standing = [a for a in last.values() if a.kind is Kind.DISPUTE]
        if not standing:
            return None
        latest = max(standing, key=lambda a: a.at)
        return latest.station, latest.channel, latest.reason

    def escalate(self, now: float, reason: str = "manual") -> list[Send]:
        """Fall back to the next line now (the caller's decision, or a link found down).

        Raises:
            IllegalTransition: not the originator, or the incident is closed.
        """
        self._require(Role.ORIGINATOR, Input.FALLBACK)
        self._check(Input.FALLBACK, Role.ORIGINATOR)
        return self._fall_back(now, reason)

    def accept_dispute(self, now: float) -> list[Send]:
        """Take the dispute as the final answer (closes the incident as disputed)."""
        self._require(Role.ORIGINATOR, Input.ACCEPT)
        self._check(Input.ACCEPT, Role.ORIGINATOR)
        self._apply(Input.ACCEPT, now, self.station_on(self.channel))
        return self._settle(now)

    def withdraw(self, now: float, text: str = "") -> list[Send]:
        """Cancel the notice; every station addressed on any line is told.

        Raises:
            IllegalTransition: not the originator, or the incident is closed.
        """
        self._require(Role.ORIGINATOR, Input.WITHDRAW)
        self._check(Input.WITHDRAW, Role.ORIGINATOR)
        self.withdrawal = text
        self._apply(Input.WITHDRAW, now, self.station_on(self.channel))
        return self._settle(now)

    # -- responder --------------------------------------------------------------------

    def _on_notice(self, heard: Heard, now: float) -> Verdict:
        """A notice on this line: the first call opens the view; a repeat (a retry) gets
        the final answer already given, if any, again."""
        self._require_view(heard)
        if self.state is State.NEW:
            return Verdict(self._open_view(heard, now))
        if heard.sender != self.originator:
            raise RefusedMessage(Reason.NOT_AN_ADDRESSEE, f"{heard.sender} did not open {self.id}")
        if self.closed_by is not None or (self.state, Input.RETRY) not in TRANSITIONS:
            raise RefusedMessage(
                Reason.LATE, f"notice repeated after {self.id} closed ({self.state})"
            )
        self.leg.calls += 1
        self.notices[heard.digest] = 0
        self.last_notice = heard.digest
        self._apply(Input.RETRY, now, self.originator)
        given = self.leg.answers.get(self.station)
        if given is None:
            return Verdict([])
        body: dict[str, object] = {}
        if given is Kind.DISPUTE:
            body["reason"] = self.disputes[-1][1].value
        elif given is Kind.RESOLVE and self.resolution is not None:
            body = dict(self.resolution)
        return Verdict([Send(given, self.channel, (self.originator,), heard.digest, body)])

    def _open_view(self, heard: Heard, now: float) -> list[Send]:
        body = heard.body
        self.notice = Notice.from_body(body)
        if heard.kind is Kind.ESCALATE:
            carried = body.get("carries", Kind.NOTIFY.value)
            self.kind = Kind(carried) if carried in OPENING_KINDS else Kind.NOTIFY
        else:
            self.kind = heard.kind
        target = body.get("for")
        if self.kind is Kind.RELAY and isinstance(target, str):
            self.relay_for = target
        noticed = body.get("noticed_at")
        self._judge_lead(noticed / 1000 if type(noticed) is int else heard.sent_at)
        self.leg.calls = 1
        self.notices[heard.digest] = 0
        self.last_notice = heard.digest
        event = Input.ESCALATE if heard.kind is Kind.ESCALATE else Input.NOTIFY
        self._apply(event, now, self.originator)
        self.deadline = now + self.doctrine.leg_bound(self.channel, self.precedence)
        return []

    def _on_closing(self, heard: Heard, now: float) -> Verdict:
        """The originator's closing message: its word on the outcome is the record's."""
        self._require_view(heard)
        if heard.sender != self.originator:
            raise RefusedMessage(Reason.NOT_AN_ADDRESSEE, f"{heard.sender} did not open {self.id}")
        if heard.kind is Kind.WITHDRAW:
            outcome = "withdrawn"
        elif heard.kind is Kind.RESOLVE:
            outcome = "resolved"
            if not self.rules.resolves and self.state is not State.NEW:
                raise RefusedMessage(
                    Reason.ILLEGAL_TRANSITION, f"the {self.channel} line does not resolve"
                )
        else:
            outcome = str(heard.body.get("outcome", ""))
        target = _STATE_OF.get(outcome)
        if target is None:
            raise RefusedMessage(Reason.ILLEGAL_TRANSITION, f"no outcome {outcome!r} to close on")
        if heard.kind is Kind.RESOLVE:
            self.resolution = dict(heard.body)
        elif heard.kind is Kind.WITHDRAW and isinstance(heard.body.get("text"), str):
            self.withdrawal = str(heard.body["text"])
        reason = heard.body.get("reason")
        known = isinstance(reason, str) and reason in DisputeReason.__members__.values()
        if target is State.CLOSED_DISPUTED and known and not self._disputes:
            by = heard.body.get("disputed_by")  # the closer is not the one who disputed
            self._dispute(by if isinstance(by, str) else "", DisputeReason(str(reason)))
        self._apply(_CLOSE_INPUT[target], now, heard.sender)
        self.closed_by = heard.kind
        confirm = Send(
            Kind.CONFIRM, self.channel, (heard.sender,), heard.digest, {"outcome": outcome}
        )
        return Verdict([confirm])

    def _require_view(self, heard: Heard) -> None:
        if self.role is not Role.RESPONDER:
            raise RefusedMessage(
                Reason.ILLEGAL_TRANSITION, f"{self.id} is this station's own incident"
            )

    def answer(
        self,
        kind: Kind,
        now: float,
        *,
        reason: DisputeReason | None = None,
        text: str = "",
        distance_m: int | None = None,
    ) -> list[Send]:
        """Answer the notice as this responder: standby, ack or dispute (with a reason,
        and for a dispute about where, ``distance_m``: how far off, or how close).

        Raises:
            IllegalTransition: not a responder, or the answer is not allowed now.
            ValueError: a dispute without a reason, or an answer kind that is none of these.
        """
        event = _ANSWER_INPUT.get(kind)
        if event is None:
            raise ValueError(f"{kind} is not an answer (standby, ack or dispute)")
        self._require(Role.RESPONDER, event)
        self._check(event, Role.RESPONDER)
        body: dict[str, object] = {"text": text} if text else {}
        if kind is Kind.DISPUTE:
            if reason is None:
                raise ValueError("a dispute needs a reason")
            body["reason"] = DisputeReason(reason).value
            if distance_m is not None:
                body["distance_m"] = distance_m
            self._dispute(self.station, DisputeReason(reason))
        if kind in _FINAL_ANSWERS:
            self.leg.answers[self.station] = kind
        self._apply(event, now, self.station)
        return [Send(kind, self.channel, (self.originator,), self.last_notice, body)]

    def correct(
        self, answer: Kind, now: float, *, reason: DisputeReason | None = None, text: str = ""
    ) -> list[Send]:
        """Amend the final answer this responder gave (a disavowal later contradicted, say).

        The correction goes on record on both sides; the incident's outcome stands.

        Raises:
            IllegalTransition: not a responder, or no final answer was given to correct.
            ValueError: not ack or dispute, the same answer as given, or a dispute
                without a reason.
        """
        self._require(Role.RESPONDER, Input.CORRECT)
        given = self.leg.answers.get(self.station)
        if given not in (Kind.ACK, Kind.DISPUTE):
            raise IllegalTransition(self.state, Input.CORRECT, "no final answer to correct")
        if answer not in (Kind.ACK, Kind.DISPUTE):
            raise ValueError(f"a correction gives ack or dispute, not {answer}")
        body: dict[str, object] = {"answer": answer.value}
        if answer is Kind.DISPUTE:
            if reason is None:
                raise ValueError("a correction to a dispute needs a reason")
            body["reason"] = DisputeReason(reason).value
        elif given is Kind.ACK:
            raise ValueError("the answer given was already ack")
        if text:
            body["text"] = text
        self._check(Input.CORRECT, Role.RESPONDER)
        self._apply(Input.CORRECT, now, self.station)
        return [Send(Kind.CORRECT, self.channel, (self.originator,), self.last_notice, body)]

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
        if self.role is Role.ORIGINATOR:
            return self._settle(now)
        self.leg.answers[self.station] = Kind.RESOLVE
        return [Send(Kind.RESOLVE, self.channel, (self.originator,), self.last_notice, body)]

    def _require(self, role: Role, event: Input | None = None) -> None:
        if self.role is not role:
            what = event or "this"
            raise IllegalTransition(self.state, what, f"only the {role} view takes {what}")


#: The one method that takes each kind of message (`Incident.take`).
HANDLERS: Final[Mapping[Kind, Callable[[Incident, Heard, float], Verdict]]] = {
    **dict.fromkeys(NOTICE_KINDS, Incident._on_notice),
    Kind.STANDBY: Incident._on_answer,
    Kind.ACK: Incident._on_answer,
    Kind.DISPUTE: Incident._on_answer,
    Kind.RESOLVE: Incident._on_answer,  # a responder's answer, or the originator's closing
    Kind.CORRECT: Incident._on_correction,
    Kind.CONFIRM: Incident._on_confirm,
    Kind.CLOSE: Incident._on_closing,
    Kind.WITHDRAW: Incident._on_closing,
}


class Route(StrEnum):
    """Which view of an incident a message is for, at the station that receives it."""

    OPENS = "opens"  # a responder view on (incident, line), opened by the first notice
    ORIGINATOR = "originator"  # the incident this station originated
    RESPONDER = "responder"  # a responder view; made on the spot if none (told closed)
    EITHER = "either"  # the originated incident if this station has it, else a view


#: Where each kind goes (heartbeats belong to no incident).
ROUTES: Final[Mapping[Kind, Route]] = {
    **dict.fromkeys(NOTICE_KINDS, Route.OPENS),
    Kind.STANDBY: Route.ORIGINATOR,
    Kind.ACK: Route.ORIGINATOR,
    Kind.DISPUTE: Route.ORIGINATOR,
    Kind.CORRECT: Route.ORIGINATOR,
    Kind.CONFIRM: Route.ORIGINATOR,
    Kind.CLOSE: Route.RESPONDER,
    Kind.WITHDRAW: Route.RESPONDER,
    Kind.RESOLVE: Route.EITHER,
}
