"""The station endpoint, sans-IO: one party's hotline post.

Theory of operation. A `StationEndpoint` holds the keys of one party's stations (usually
one per line: the air-operations centre on ``air``, the chief of staff's office on
``general-officer``; one station may also sit on several lines), the keyring of every
trusted key, a `Verifier`, and the incidents it originated or is answering. It is
driven from outside, like h11 or aioquic:

* bytes in: ``receive(data, now, channel=...)`` verifies the message, hands it to its
  incident and returns `events`;
* decisions in: ``notify(...)`` opens an incident; ``acknowledge``, ``standby``,
  ``dispute``, ``withdraw``, ``escalate``, ``accept_dispute`` and ``resolve`` are the
  caller's choices — the core never decides how a responder answers;
* time in: ``next_deadline()`` says when to call ``on_timer(now)`` next;
* bytes out: ``outbox()`` drains the signed messages to publish, each with its channel
  and recipients (one inbox topic per recipient).

Message ids come from the ``message_ids`` callable the caller supplies (random bytes
live, a seeded generator in simulation), and sequence numbers from a counter per hosted
station starting at ``first_seq`` (a live station persists it, or starts it from its
clock: see protocol/PROTOCOL.md, section 6.2).

Incidents this endpoint originated are keyed by incident id and follow the ladder
across lines. Responder views are keyed by (incident id, channel): on each line the
responder sees only that line's exchange.

A long-lived post need not keep every incident in memory. Given a ``recall`` (a live
post reads its store), ``set_aside(before)`` lets go of incidents that closed before
then; a message or a call that names one again brings it back through ``recall``
first, so a late answer, a repeated notice or a reused incident id is judged exactly as
if it had never left.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from hotline.core.channels import Doctrine, WhenSuspended
from hotline.core.errors import (
    IllegalTransition,
    Reason,
    RefusedMessage,
    RejectedMessage,
    UnknownIncident,
    check_time,
)
from hotline.core.events import Closed, Event, NoticeReceived, Received, Rejected
from hotline.core.heads import COUNTERSIGNS, HEAD, INCIDENT_SUFFIX, head_body, read_head
from hotline.core.incident import ROUTES, Heard, Incident, Notice, Role, Route, Send, State
from hotline.core.keyring import Keyring
from hotline.core.names import (
    OPENING_KINDS,
    Channel,
    DisputeReason,
    Kind,
    Precedence,
    check_station_id,
    inbox_topic,
)
from hotline.core.records import incident_from_record, incident_record
from hotline.core.signing import StationKey
from hotline.core.verifier import Verifier, VerifierPolicy
from hotline.core.wire import MAX_SAFE_INTEGER, Envelope, encode_envelope
from hotline.core.wire import digest as digest_of


class Outgoing(NamedTuple):
    """A signed message to publish: once to each recipient's inbox on its channel.

    In an endpoint built with ``encode=False`` (protocol-only simulation) ``data`` is
    empty and ``digest`` a stand-in unique to the message: deliver ``envelope`` with
    `StationEndpoint.receive_envelope` instead.
    """

    channel: Channel
    recipients: tuple[str, ...]
    data: bytes
    envelope: Envelope
    digest: bytes

    @property
    def topics(self) -> tuple[str, ...]:
        """The inbox topics to publish ``data`` to."""
        return tuple(inbox_topic(self.channel, station) for station in self.recipients)


class StationEndpoint:
    """One party's stations, their incidents, and the protocol between them.

    Args:
        party: the party this endpoint speaks for (as in the doctrine's station tables).
        keys: private keys of the party's stations hosted here.
        keyring: every trusted public key (this party's and the others').
        doctrine: channels, deadlines, ladder and stations.
        message_ids: returns a fresh 16-byte message id on each call.
        policy: verifier limits (freshness, replay memory, size).
        first_seq: first sequence number for each hosted station.
        encode: encode and sign what it sends (the default). False is for
            protocol-only simulation: envelopes travel in memory to
            `receive_envelope`, and no bytes exist to sign, corrupt or forge.
        taken: a durable memory of message ids already taken (a live post's store):
            consulted after verification, so a message delivered again after a
            restart is refused as a replay instead of processed twice.
        track_changes: remember which incidents each call changed, for `changed` (a
            live post saves them, and `restore` brings them back after a restart).
        recall: the views of an incident id that `set_aside` let go of (from wherever
            the caller keeps them); without it, every incident stays in memory.

    Raises:
        ValueError: a key's station is not this party's station on any line.
    """

    def __init__(
        self,
        *,
        party: str,
        keys: Iterable[StationKey],
        keyring: Keyring,
        doctrine: Doctrine,
        message_ids: Callable[[], bytes],
        policy: VerifierPolicy | None = None,
        first_seq: int = 1,
        encode: bool = True,
        taken: Callable[[bytes], bool] | None = None,
        track_changes: bool = False,
        recall: Callable[[str], Iterable[Incident]] | None = None,
    ) -> None:
        self.party = check_station_id(party, "party")
        self.doctrine = doctrine
        self.verifier = Verifier(keyring, policy)
        self._ids = message_ids
        self._encode = encode
        self._taken = taken
        self._keys = {key.station: key for key in keys}
        if not self._keys:
            raise ValueError("an endpoint needs the key of at least one station")
        self._station_for: dict[Channel, str] = {}
        for channel in Channel:
            station = doctrine[channel].stations.get(party)
            if station is not None and station in self._keys:
                self._station_for[channel] = station
        for station in self._keys:
            if station not in self._station_for.values():
                raise ValueError(f"{station} is not {party}'s station on any line of the doctrine")
        # per line: the first ladder line above it this endpoint holds no station on
        self._unreachable = {
            channel: next(
                (ln for ln in doctrine.ladder(channel)[1:] if ln not in self._station_for), None
            )
            for channel in Channel
        }
        self._others = {
            channel: tuple(p for p in doctrine[channel].stations if p != party)
            for channel in Channel
        }
        if not 1 <= first_seq <= MAX_SAFE_INTEGER:
            raise ValueError("first_seq must be in 1 .. 2**53-1")
        self._seq = dict.fromkeys(self._keys, first_seq)
        self._originated: dict[str, Incident] = {}
        # responder views by (incident id, line): one flat index, lean at 100k incidents
        self._answering: dict[tuple[str, Channel], Incident] = {}
        self._outbox: list[Outgoing] = []
        self._timers: list[tuple[float, int, Incident]] = []
        self._scheduled: dict[int, float] = {}  # id(incident) -> deadline last pushed
        self._pushes = 0  # heap tie-breaker: equal deadlines fire in scheduling order
        self._counter = 0
        self._changed: dict[int, Incident] | None = {} if track_changes else None
        self._recall = recall
        self._closed: deque[tuple[float, Incident]] = deque()  # to set aside, oldest first
        #: what each party has declared of each line (``suspended`` or ``working``)
        self.declared: dict[tuple[str, Channel], str] = {}

    # -- what it holds --------------------------------------------------------------

    @property
    def stations(self) -> Mapping[Channel, str]:
        """The hosted station on each line this endpoint serves."""
        return dict(self._station_for)

    def incidents(self) -> Iterator[Incident]:
        """Every incident view held in memory: originated first, then responder views."""
        yield from self._originated.values()
        yield from self._answering.values()

    def originated(self, incident_id: str) -> Incident:
        """The incident this endpoint originated with that id (`UnknownIncident` if none)."""
        found = self._origin(incident_id)
        if found is None:
            raise UnknownIncident(f"no incident {incident_id!r} originated here")
        return found

    def answering(self, incident_id: str, channel: Channel | None = None) -> Incident:
        """The responder view of an incident; name ``channel`` when several lines carry it."""
        if channel is not None:
            found = self._view(incident_id, channel)
            if found is None:
                raise UnknownIncident(f"no notice {incident_id!r} received here on {channel}")
            return found
        if self._recall is not None and any(
            (incident_id, c) not in self._answering for c in Channel
        ):
            self._bring_back(incident_id)
        views = [v for c in Channel if (v := self._answering.get((incident_id, c))) is not None]
        if not views:
            raise UnknownIncident(f"no notice {incident_id!r} received here")
        if len(views) > 1:
            open_views = [view for view in views if view.is_open]
            if len(open_views) != 1:
                lines = ", ".join(view.channel for view in views)
                raise UnknownIncident(
                    f"{incident_id!r} is held on several lines ({lines}): name one"
                )
            return open_views[0]
        return views[0]

    def restore(self, incident: Incident) -> None:
        """Take back an incident this endpoint held before a restart (its timer too).

        Raises:
            ValueError: the incident is not this party's, or one with its key is held.
        """
        if incident.party != self.party:
            raise ValueError(f"incident {incident.id!r} belongs to {incident.party}")
        if incident.role is Role.ORIGINATOR:
            if incident.id in self._originated:
                raise ValueError(f"incident {incident.id!r} is already held here")
            self._originated[incident.id] = incident
        else:
            key = (incident.id, incident.legs[0].channel)
            if key in self._answering:
                raise ValueError(f"notice {incident.id!r} on {key[1]} is already held here")
            self._answering[key] = incident
        self._schedule(incident)
        if self._recall is not None and incident.settled:
            self._closed.append((incident.closed_at or 0.0, incident))

    def set_aside(self, before: float) -> list[Incident]:
        """Let go of the incidents that closed before ``before`` (see the module doc).

        Call it once their last changes are kept where ``recall`` reads (a live post
        calls it after each commit). Returns the incidents let go of.

        Raises:
            ValueError: the endpoint was built without ``recall``.
        """
        if self._recall is None:
            raise ValueError("set_aside needs an endpoint built with recall")
        closed, unsaved = self._closed, self._changed or {}
        gone: list[Incident] = []
        kept: list[tuple[float, Incident]] = []
        while closed and closed[0][0] < before:
            entry = closed.popleft()
            incident = entry[1]
            if not incident.settled:
                continue  # still owes a closing message: queued again once settled
            if id(incident) in unsaved:
                kept.append(entry)
                continue
            index, key = self._index_of(incident)
            if index.get(key) is incident:
                del index[key]
                gone.append(incident)
        closed.extendleft(reversed(kept))
        return gone

    def changed(self) -> list[Incident]:
        """The incidents changed since the last call (``track_changes`` endpoints only)."""
        if self._changed is None:
            raise ValueError("this endpoint was built without track_changes")
        changed = list(self._changed.values())
        self._changed.clear()
        return changed

    # -- IO-facing pumps ------------------------------------------------------------

    def state(self) -> tuple[object, ...]:
        """Everything that decides this endpoint's future, canonically (an explorer
        tells states apart by it): each incident's record, the verifier's memory, the
        sequence counters and the lines declared suspended or working."""
        views = sorted(
            self.incidents(), key=lambda i: (i.role.value, i.id, i.legs[0].channel.value)
        )
        records = [incident_record(i) for i in views]
        return (
            records,
            self.verifier.memory(),
            sorted(self._seq.items()),
            sorted((party, line.value, state) for (party, line), state in self.declared.items()),
        )

    def resume(self, state: tuple[object, ...]) -> None:
        """Take up what `state` returned, of an endpoint of the same party, keys and
        doctrine: its incidents (rebuilt from their records, as a restarted post does),
        the verifier's memory, the sequence counters and the lines declared. An explorer
        copies a world this way; this endpoint must hold no incident yet.

        Raises:
            ValueError: this endpoint holds incidents, or ``state`` is not a state.
        """
        if self._originated or self._answering:
            raise ValueError("resume into an endpoint that holds no incident")
        records, memory, seq, declared = state
        for record in records:  # type: ignore[attr-defined]
            self.restore(incident_from_record(record, self.doctrine))
        self.verifier.restore_memory(memory)  # type: ignore[arg-type]
        self._seq.update(seq)  # type: ignore[call-overload]
        self.declared = {
            (party, Channel(line)): status
            for party, line, status in declared  # type: ignore[attr-defined]
        }

    def outbox(self) -> list[Outgoing]:
        """Signed messages to publish, oldest first; the queue is emptied."""
        messages, self._outbox = self._outbox, []
        return messages

    def next_deadline(self) -> float | None:
        """When `on_timer` must next be called, or None if nothing waits on time."""
        timers = self._timers
        while timers:
            at, _, incident = timers[0]
            if incident.deadline == at:
                return at
            heapq.heappop(timers)
        return None

    def on_timer(self, now: float) -> list[Event]:
        """Fire every deadline due at ``now``: retries, fallbacks, lapses.

        Raises:
            ValueError: ``now`` is not a finite time.
        """
        check_time(now)
        events: list[Event] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            at, _, incident = heapq.heappop(timers)
            if incident.deadline != at:
                continue
            self._scheduled.pop(id(incident), None)
            self._after(incident, incident.on_timer(now), now, events, closing=True)
        return events

    def receive(self, data: bytes, now: float, *, channel: Channel | None = None) -> list[Event]:
        """Take one message as received on ``channel`` (the inbox topic's line, if known)."""
        try:
            verified = self.verifier.verify(data, now, channel=channel)
        except RejectedMessage as exc:
            return [Rejected(exc.reason, exc.detail, now, channel)]
        return self._take(verified.envelope, verified.digest, now)

    def receive_envelope(self, envelope: Envelope, digest: bytes, now: float) -> list[Event]:
        """Protocol-only simulation: take an envelope handed over in memory.

        Nothing was encoded or signed, so there is nothing to decode or verify; the
        freshness and replay checks and the whole incident layer still apply.
        """
        try:
            self.verifier.admit(envelope, now)
        except RejectedMessage as exc:
            return [Rejected(exc.reason, exc.detail, now, envelope.channel, envelope.sender)]
        return self._take(envelope, digest, now)

    def _take(self, envelope: Envelope, digest: bytes, now: float) -> list[Event]:
        if self._taken is not None and self._taken(envelope.id):
            detail = f"message {envelope.id.hex()} was taken before this post restarted"
            return [Rejected(Reason.REPLAY, detail, now, envelope.channel, envelope.sender)]
        events: list[Event] = [Received(envelope, digest, now)]
        try:
            self._dispatch(envelope, digest, now, events)
        except RefusedMessage as exc:
            return [
                Rejected(
                    exc.reason,
                    exc.detail,
                    now,
                    envelope.channel,
                    envelope.sender,
                    envelope.incident,
                )
            ]
        return events

    # -- decisions ------------------------------------------------------------------

    def notify(
        self,
        *,
        channel: Channel,
        precedence: Precedence,
        notice: Notice,
        now: float,
        parties: Sequence[str] | None = None,
        incident_id: str | None = None,
        kind: Kind = Kind.NOTIFY,
        relay_for: str = "",
    ) -> Incident:
        """Open an incident: send ``notice`` on ``channel`` to ``parties`` (default: all others).

        ``kind`` is what opens it: a notice (``notify``), a request to cease an activity
        under way (``protest``), word of an activity after the fact (``report``), or a
        notice for a party this one has no line to (``relay``, naming it in ``relay_for``),
        which the addressees are asked to pass on.

        Raises:
            ValueError: no station here on that line, an unknown party, a ladder line
                this endpoint holds no station on, an incident id already in use, a kind
                that opens no incident, a relay without the party it is for, or a
                time that is not finite.
        """
        check_time(now)
        if kind not in OPENING_KINDS:
            raise ValueError(f"{kind} does not open an incident")
        if relay_for:
            check_station_id(relay_for, "relay_for")
        station = self._station_for.get(channel)
        if station is None:
            raise ValueError(f"{self.party} has no station on the {channel} line here")
        rules = self.doctrine[channel]
        wanted = self._others[channel] if parties is None else tuple(parties)
        unknown = [p for p in wanted if p not in rules.stations or p == self.party]
        if unknown or not wanted:
            raise ValueError(f"cannot address {unknown or 'nobody'} on the {channel} line")
        line = self._unreachable[channel]
        if line is not None:
            raise ValueError(
                f"the {channel} ladder falls back to {line}, where this endpoint holds no "
                f"{self.party} station: add its key, or set that fallback to none"
            )
        if incident_id is None:
            self._counter += 1
            incident_id = f"{station}:{self._counter}"
            while self._origin(incident_id) is not None:
                self._counter += 1
                incident_id = f"{station}:{self._counter}"
        elif self._origin(incident_id) is not None:
            raise ValueError(f"incident {incident_id!r} already exists")
        incident, sends = Incident.originate(
            incident_id=incident_id,
            party=self.party,
            station=station,
            channel=channel,
            recipients=tuple(rules.stations[p] for p in wanted),
            precedence=precedence if type(precedence) is Precedence else Precedence(precedence),
            notice=notice,
            doctrine=self.doctrine,
            now=now,
            kind=kind,
            relay_for=relay_for,
        )
        self._originated[incident_id] = incident
        self._after(incident, sends, now)
        if (
            self.declared  # no party has declared anything: the common case
            and rules.when_suspended is WhenSuspended.FALL_BACK
            and rules.fallback
            and any(self.declared.get((p, channel)) == "suspended" for p in wanted)
        ):
            self._after(incident, incident.escalate(now, "declared-suspended"), now)
        return incident

    def acknowledge(
        self, incident_id: str, now: float, *, channel: Channel | None = None, text: str = ""
    ) -> None:
        """Acknowledge a notice received here."""
        self._answer(incident_id, Kind.ACK, now, channel, text=text)

    def standby(
        self, incident_id: str, now: float, *, channel: Channel | None = None, text: str = ""
    ) -> None:
        """Answer standby: received, working on it (the exchange stays open)."""
        self._answer(incident_id, Kind.STANDBY, now, channel, text=text)

    def dispute(
        self,
        incident_id: str,
        reason: DisputeReason,
        now: float,
        *,
        channel: Channel | None = None,
        text: str = "",
        distance_m: int | None = None,
    ) -> None:
        """Answer a notice with a dispute and its reason (and, for a dispute about where
        the activity is, ``distance_m``: by how much the location is wrong, or how
        close it comes)."""
        self._answer(
            incident_id,
            Kind.DISPUTE,
            now,
            channel,
            reason=DisputeReason(reason),
            text=text,
            distance_m=distance_m,
        )

    def _answer(
        self,
        incident_id: str,
        kind: Kind,
        now: float,
        channel: Channel | None,
        *,
        reason: DisputeReason | None = None,
        text: str = "",
        distance_m: int | None = None,
    ) -> None:
        view = self.answering(incident_id, channel)
        answered = view.answer(kind, now, reason=reason, text=text, distance_m=distance_m)
        self._after(view, answered, now)

    def correct(
        self,
        incident_id: str,
        answer: Kind,
        now: float,
        *,
        reason: DisputeReason | None = None,
        channel: Channel | None = None,
        text: str = "",
    ) -> None:
        """Amend an answer given earlier (``ack`` or ``dispute``); the outcome stands."""
        view = self.answering(incident_id, channel)
        self._after(view, view.correct(Kind(answer), now, reason=reason, text=text), now)

    def withdraw(self, incident_id: str, now: float, *, text: str = "") -> None:
        """Cancel a notice this endpoint sent."""
        incident = self.originated(incident_id)
        self._after(incident, incident.withdraw(now, text), now)

    def escalate(self, incident_id: str, now: float, *, reason: str = "manual") -> None:
        """Take an incident to the next line of its ladder now."""
        incident = self.originated(incident_id)
        self._after(incident, incident.escalate(now, reason), now)

    def accept_dispute(self, incident_id: str, now: float) -> None:
        """Take a held dispute as the final answer."""
        incident = self.originated(incident_id)
        self._after(incident, incident.accept_dispute(now), now)

    def resolve(
        self,
        incident_id: str,
        actions: Mapping[str, str],
        now: float,
        *,
        channel: Channel | None = None,
        text: str = "",
    ) -> None:
        """End an exchange with agreed mutual actions (party -> what it does)."""
        incident = self._origin(incident_id) or self.answering(incident_id, channel)
        self._after(incident, incident.resolve(actions, now, text), now)

    def declare(self, channel: Channel, state: str, now: float, *, text: str = "") -> None:
        """Declare a line ``suspended`` or ``working`` again, to every other party on it.

        A declaration is what a party says of a line, not what the line does: traffic
        goes on flowing (as in 2017), and each receiver's doctrine
        (``when_suspended``) decides whether its originators still call on it.

        Raises:
            ValueError: no station here on that line, or a state that is neither.
        """
        if state not in ("suspended", "working"):
            raise ValueError(f"a line is declared suspended or working, not {state!r}")
        station = self._station_for.get(channel)
        if station is None:
            raise ValueError(f"{self.party} has no station on the {channel} line here")
        self.declared[(self.party, channel)] = state
        stations = self.doctrine[channel].stations
        recipients = tuple(stations[p] for p in self._others[channel])
        if not recipients:
            return
        body: dict[str, object] = {"declared": state}
        if text:
            body["text"] = text
        send = Send(Kind.HEARTBEAT, channel, recipients, None, body)
        self._emit(send, f"{station}:line", Precedence.IMMEDIATE, now)

    def announce_head(self, entries: int, head: bytes, now: float) -> None:
        """Sign the head of this post's journal (``entries`` entries, the last one's hash
        ``head``) to every other party on each of its lines, for them to countersign
        (protocol/PROTOCOL.md, section 12.14).

        Raises:
            ValueError: not a count from 1 and a 32-byte hash, or ``now`` not a time.
        """
        check_time(now)
        body = {HEAD: head_body(entries, head)}
        for channel, station in sorted(self._station_for.items()):
            stations = self.doctrine[channel].stations
            recipients = tuple(stations[p] for p in self._others[channel])
            if recipients:
                send = Send(Kind.HEARTBEAT, channel, recipients, None, body)
                self._emit(send, station + INCIDENT_SUFFIX, Precedence.ROUTINE, now)

    def suspended_by(self, channel: Channel) -> list[str]:
        """The other parties that have declared ``channel`` suspended (and not working since)."""
        return sorted(
            party
            for (party, line), state in self.declared.items()
            if line == channel and state == "suspended" and party != self.party
        )

    def link_down(self, channel: Channel, now: float) -> list[Event]:
        """A line is known to be down: every incident this endpoint has open on it falls back."""
        events: list[Event] = []
        for incident in list(self._originated.values()):
            if incident.is_open and incident.channel == channel:
                try:
                    sends = incident.escalate(now, "link-down")
                except IllegalTransition:
                    continue
                self._after(incident, sends, now, events, closing=True)
        return events

    # -- inside ---------------------------------------------------------------------

    def _dispatch(self, envelope: Envelope, digest: bytes, now: float, events: list[Event]) -> None:
        mine = self._station_for.get(envelope.channel)
        if mine is None or mine not in envelope.recipients:
            raise RefusedMessage(
                Reason.NOT_ADDRESSED, f"not addressed to {self.party}'s {envelope.channel} station"
            )
        route = ROUTES.get(envelope.kind)
        if route is None:  # a heartbeat belongs to no incident
            self._heartbeat(envelope, digest, mine, now)
            return
        target = self._target(route, envelope, mine, now)
        opened = target.state is State.NEW
        heard = Heard(
            envelope.kind,
            envelope.sender,
            envelope.channel,
            envelope.ref,
            digest,
            envelope.body,
            envelope.sent_at,
        )
        try:
            verdict = target.take(heard, now)
        except RefusedMessage:
            if opened:
                self._forget(target)
            raise
        self._after(target, verdict.sends, now, events, closing=True)
        if verdict.refused is not None:
            raise verdict.refused
        if opened and target.is_open:
            events.append(NoticeReceived(target, now))

    def _heartbeat(self, envelope: Envelope, digest: bytes, mine: str, now: float) -> None:
        """A heartbeat may declare the line's state, and may announce its sender's journal
        head, which this post countersigns back to the sender (section 12.14)."""
        body, channel = envelope.body, envelope.channel
        declared = body.get("declared")
        party = self.doctrine[channel].party_of(envelope.sender)
        if declared in ("suspended", "working") and party is not None:
            self.declared[(party, channel)] = str(declared)
        head = read_head(body, HEAD)
        if head is not None and party is not None:
            answer = {COUNTERSIGNS: head_body(*head)}
            send = Send(Kind.HEARTBEAT, channel, (envelope.sender,), digest, answer)
            self._emit(send, mine + INCIDENT_SUFFIX, Precedence.ROUTINE, now)

    def _target(self, route: Route, envelope: Envelope, mine: str, now: float) -> Incident:
        """The view ``envelope`` is for (see `ROUTES`); a responder view is made if new."""
        incident_id, channel = envelope.incident, envelope.channel
        origin = self._origin(incident_id)
        if route is Route.ORIGINATOR or (route is Route.EITHER and origin is not None):
            if origin is None:
                raise RefusedMessage(
                    Reason.UNKNOWN_INCIDENT, f"no incident {incident_id} originated here"
                )
            return origin
        if origin is not None:
            raise RefusedMessage(
                Reason.ILLEGAL_TRANSITION, f"{incident_id} is this station's own incident"
            )
        view = self._view(incident_id, channel)
        if view is None:
            view = Incident.responder_view(
                incident_id=incident_id,
                party=self.party,
                station=mine,
                originator=envelope.sender,
                channel=channel,
                precedence=envelope.precedence,
                doctrine=self.doctrine,
                now=now,
            )
            self._answering[(incident_id, channel)] = view
        return view

    def _forget(self, view: Incident) -> None:
        """Drop a view made for a message that was then refused."""
        key = (view.id, view.legs[0].channel)
        if self._answering.get(key) is view:
            del self._answering[key]

    def _after(
        self,
        incident: Incident,
        sends: list[Send],
        now: float,
        events: list[Event] | None = None,
        *,
        closing: bool = False,
    ) -> None:
        for send in sends:
            self._sign(incident, send, now)
        if self._changed is not None:
            self._changed[id(incident)] = incident
        if self._recall is not None and incident.settled:
            self._closed.append((now, incident))
        if closing and events is not None and not incident.is_open and incident.outcome_at == now:
            events.append(
                Closed(incident.id, incident.role, incident.channel, incident.outcome, now)
            )
        self._schedule(incident)

    # -- what is held, and what was set aside ---------------------------------------

    def _origin(self, incident_id: str) -> Incident | None:
        found = self._originated.get(incident_id)
        if found is None and self._recall is not None:
            self._bring_back(incident_id)
            found = self._originated.get(incident_id)
        return found

    def _view(self, incident_id: str, channel: Channel) -> Incident | None:
        found = self._answering.get((incident_id, channel))
        if found is None and self._recall is not None:
            self._bring_back(incident_id)
            found = self._answering.get((incident_id, channel))
        return found

    def _bring_back(self, incident_id: str) -> None:
        assert self._recall is not None
        for incident in self._recall(incident_id):
            index, key = self._index_of(incident)
            if key in index:
                continue  # the one held in memory is the newer
            index[key] = incident
            self._schedule(incident)
            if incident.settled:  # it may be set aside again
                self._closed.append((incident.closed_at or 0.0, incident))

    def _index_of(self, incident: Incident) -> tuple[dict[Any, Incident], object]:
        if incident.role is Role.ORIGINATOR:
            return self._originated, incident.id
        return self._answering, (incident.id, incident.legs[0].channel)

    def _schedule(self, incident: Incident) -> None:
        """Put the incident's deadline on the timer heap (or forget it once closed)."""
        deadline = incident.deadline
        if deadline is None:
            self._scheduled.pop(id(incident), None)  # settled: forget it (memory stays lean)
        elif self._scheduled.get(id(incident)) != deadline:
            self._scheduled[id(incident)] = deadline
            self._pushes += 1
            heapq.heappush(self._timers, (deadline, self._pushes, incident))

    def _sign(self, incident: Incident, send: Send, now: float) -> None:
        message_digest = self._emit(send, incident.id, incident.precedence, now)
        incident.signed(send, message_digest)

    def _emit(self, send: Send, incident_id: str, precedence: Precedence, now: float) -> bytes:
        """Sign ``send`` and queue it; returns its digest."""
        station = self._station_for[send.channel]
        seq = self._seq[station]
        self._seq[station] = seq + 1
        envelope = Envelope(
            id=self._ids(),
            channel=send.channel,
            kind=send.kind,
            sender=station,
            recipients=send.recipients,
            incident=incident_id,
            ref=send.ref,
            seq=seq,
            sent_at_ms=round(now * 1000),
            precedence=precedence,
            body=send.body,
        )
        if self._encode:
            envelope_bytes = encode_envelope(envelope)
            data = self._keys[station].sign_bytes(envelope_bytes)
            message_digest = digest_of(envelope_bytes)
        else:  # protocol-only: no bytes; a stand-in digest, unique to the message
            data, message_digest = b"", envelope.id * 2
        self._outbox.append(Outgoing(send.channel, send.recipients, data, envelope, message_digest))
        return message_digest
