"""The embeddable client: a party's hotline post as an asyncio object over MQTT.

    async with Station(party="US", keys=[...], keyring=keyring, doctrine=doctrine,
                       broker="mqtt://127.0.0.1:1883", store="us.db") as post:
        incident = await post.notify(channel=Channel.AIR, precedence=Precedence.FLASH,
                                     notice=Notice(activity="strike"))
        outcome = await incident.outcome()        # "acknowledged", "unresolved", ...

A `Station` is the sans-IO `StationEndpoint` pumped by asyncio: messages from the
broker go to the endpoint, its outbox goes to the broker, and a timer task calls
`on_timer` at each deadline. The protocol decisions stay with you: answer a
`NoticeReceived` from `events()` with `acknowledge`, `standby` or `dispute`.

With a ``store`` file, a post survives being killed: the messages one read from the
broker brings are taken in one transaction (messages taken, incidents changed, messages
caused, journal entries) and acknowledged to the broker once it commits, each call in
one of its own, and a post started again on the same file carries on its incidents
where they stood — `handle(id)` gives back the handle of an incident it originated
before, and `events()` hands the application again, as `NoticeReceived`, every notice
still waiting for its answer. A commit that fails keeps nothing, and the post's memory
starts over from its store: the call raises, or the batch goes unacknowledged and is
taken when the broker hands it over again.

A call that answers or sends returns at once, usually before the broker has confirmed
what it sent: the returned `Posted` says whether it has, and `Posted.sent` waits for it.
Without a store file, the outbox dies with the post: closing waits ``linger`` seconds for
the broker, then raises `UnsentMessages` naming what would be lost, so that no caller
believes an answer left when it did not.

The first post a process starts moves the objects the process holds by then (modules,
classes, restored incidents) out of the cyclic garbage collector's view (`gc.freeze`):
a full collection then scans only what came after, which keeps its pauses short.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from hotline.audit.journal import Journal
from hotline.audit.recorder import Recorder, Windows
from hotline.core.channels import Doctrine
from hotline.core.endpoint import Outgoing, StationEndpoint
from hotline.core.errors import HotlineError, MalformedMessage, UnknownIncident
from hotline.core.events import Closed, Event, NoticeReceived, Received
from hotline.core.heads import COUNTERSIGNS, is_head_traffic, read_head
from hotline.core.incident import Incident, Notice, Role, State
from hotline.core.keyring import Keyring
from hotline.core.names import Channel, DisputeReason, Precedence, inbox_topic
from hotline.core.records import incident_from_record, incident_record
from hotline.core.signing import StationKey, split_signed
from hotline.core.verifier import VerifierPolicy
from hotline.core.wire import decode_envelope
from hotline.entropy import new_message_id
from hotline.live.eventbuffer import EventBuffer
from hotline.live.mqtt import BrokerAddress, MqttLink, TlsFiles, TransportError
from hotline.live.store import PostStore

log = logging.getLogger("hotline.station")

#: responder views whose notice still waits for this post's final answer
AWAITING_ANSWER = frozenset({State.NOTIFIED, State.STANDBY})


class Posted:
    """What one call put in the outbox, and whether the broker has it yet.

    A post keeps each message in its outbox until the broker confirms it (MQTT QoS 1
    PUBACK), and publishes it again after each reconnection until then; a call returns
    before that. The broker's confirmation proves only that the broker holds the message:
    the other party's signed answer is the proof it arrived.
    """

    __slots__ = ("_link", "numbers")

    def __init__(self, link: MqttLink, numbers: Sequence[int]) -> None:
        self._link = link
        #: the messages' numbers in the outbox, one per recipient inbox
        self.numbers = tuple(numbers)

    @property
    def queued(self) -> int:
        """How many of the messages still wait for the broker's confirmation."""
        waiting = self._link.waiting
        return sum(number in waiting for number in self.numbers)

    @property
    def delivered_to_broker(self) -> bool:
        """Whether the broker has confirmed every message (True when there were none)."""
        return self.queued == 0

    async def sent(self, timeout: float | None = None) -> bool:
        """Wait until the broker has confirmed every message.

        Returns:
            True once it has; False if ``timeout`` seconds pass first, or the post
            closed with some still queued. Queued messages are not given up: they leave
            when the broker is back (with a store file, also after a restart).
        """
        return await self._link.confirmed(self.numbers, timeout)

    def __repr__(self) -> str:
        return f"Posted(messages={len(self.numbers)}, queued={self.queued})"


class Unsent(NamedTuple):
    """A message the broker never confirmed."""

    kind: str  # the message kind (``ack``, ``notify``...), or ``journal head``
    station: str  # the recipient
    channel: str
    incident: str


class UnsentMessages(HotlineError):
    """A post without a store file closed with messages the broker never confirmed.

    They are lost: the outbox lived in memory. Give the post a ``store`` file to keep
    them for its next start, or ``drop_unsent=True`` to let them go without this error.

    Attributes:
        messages: what was lost, one `Unsent` per recipient inbox.
    """

    def __init__(self, messages: Sequence[Unsent], broker: str, linger: float) -> None:
        self.messages = tuple(messages)
        super().__init__(
            f"{_count(len(self.messages), 'message')} never confirmed by {broker} within "
            f"{linger:g} s, lost with this post's in-memory store: "
            f"{_summary(self.messages)}; give the Station a store file to keep what is "
            "unsent for its next start"
        )


class IncidentHandle:
    """An incident this post opened: its state now, and its outcome when it comes."""

    def __init__(self, incident: Incident) -> None:
        self.incident = incident
        #: what `Station.notify` sent (None for a handle from `Station.handle`)
        self.posted: Posted | None = None
        self._done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @property
    def id(self) -> str:
        """The incident id."""
        return self.incident.id

    def _settle(self) -> None:
        if not self.incident.is_open and not self._done.done():
            self._done.set_result(self.incident.outcome)

    async def outcome(self, timeout: float | None = None) -> str:
        """Wait for the outcome: acknowledged, disputed, resolved, withdrawn or unresolved.

        Raises:
            TimeoutError: ``timeout`` seconds passed first.
        """
        return await asyncio.wait_for(asyncio.shield(self._done), timeout)


class Station:
    """A party's post on the live hotlines (see module doc).

    Args:
        party: the party.
        keys: private keys of the party's stations hosted here.
        keyring: trusted public keys.
        doctrine: channels, deadlines, ladder, stations.
        broker: ``mqtt://HOST:PORT`` (``mqtts://`` over TLS); for a cluster, its nodes'
            addresses, as a sequence or comma-separated: the post fails over between them.
        store: SQLite file for the outbox, sequence counters, taken ids and incidents
            (default: in memory, which survives reconnections but not a restart).
        policy: verifier limits.
        clock: the post's clock, Unix seconds (live exercises run a scaled one).
        time_scale: how many clock seconds pass per real second (1 for a real post).
        client_id: the MQTT client id (default ``hotline-<party>``), stable across
            restarts so the broker keeps the post's session.
        tls: the post's certificate files, for an ``mqtts://`` broker (the secure
            profile, brokers/secure/).
        journal: a file for the post's journal (`hotline.audit.journal`: every message
            sent, received and rejected, every transition). By default the journal
            lives in the store, and each entry commits with what it records.
        keep_closed: clock seconds a closed incident stays in memory (default one).
            After that only the store holds it, and it is read back when a message or
            a call names it again, so a post running for months holds its open
            incidents, not all it ever had. Kept incidents are objects the garbage
            collector scans: at hundreds of incidents a second, minutes of them make
            its full collections last a tenth of a second and more (benchmarks/live.py).
            None keeps every incident in memory (live exercises do, to report them all).
        head_every: clock seconds between the journal heads the post signs to the
            other parties, for them to countersign (`sign_head`; default five
            minutes, while the journal grows), and once more when it stops. None:
            only when asked.
        connect_timeout: seconds to wait for the first connection (real seconds, as
            every duration below). Entering the post raises `ConnectionFailed` if it is
            not made by then, or at once if retrying cannot help (no such host, TLS,
            credentials refused). A connection lost later is retried for as long as the
            post runs.
        backoff: first and largest pause between reconnection attempts, seconds (the
            pause doubles from the first, with jitter).
        forget_session: end the post's session at the broker when it closes, once the
            outbox is empty (MQTT 3.1.1: one more connection with a clean session under
            the same client id). For posts that will not come back under this client
            id, such as live exercises: otherwise the broker keeps their subscriptions,
            and queues messages for them, for as long as it keeps sessions.
        linger: seconds closing waits for the broker to confirm what is still in an
            in-memory outbox. A post with a store file waits only while connected:
            what it leaves in its store is published at its next start.
        drop_unsent: close without raising `UnsentMessages` when an in-memory outbox
            is not empty after ``linger`` (what it held is logged, and lost).
        freeze_gc: if this is the process's first post to start, move what exists by
            then out of the cyclic garbage collector's view (`gc.freeze`, see the
            module doc). Objects frozen, that first post's own among them, are never
            collected as cycles: say False if the application manages the collector
            itself (a server that freezes before forking).
        max_events: the most events kept unread for `events` (default 10,000; None:
            no bound). Past it the oldest is let go, counted (`events_dropped`) and
            logged once, except a `NoticeReceived`, which waits for its answer
            whatever the count (`hotline.live.eventbuffer`).

    Raises:
        TransportError: a bad broker address, TLS files for a plain one.
        ValueError: a bad duration, ``backoff`` or ``max_events``.
    """

    def __init__(
        self,
        *,
        party: str,
        keys: Iterable[StationKey],
        keyring: Keyring,
        doctrine: Doctrine,
        broker: str | Sequence[str],
        store: Path | str = ":memory:",
        policy: VerifierPolicy | None = None,
        clock: Callable[[], float] = time.time,
        time_scale: float = 1.0,
        client_id: str | None = None,
        tls: TlsFiles | None = None,
        journal: Path | str | None = None,
        keep_closed: float | None = 1.0,
        head_every: float | None = 300.0,
        connect_timeout: float = 10.0,
        backoff: tuple[float, float] = (0.05, 2.0),
        forget_session: bool = False,
        linger: float = 5.0,
        drop_unsent: bool = False,
        freeze_gc: bool = True,
        max_events: int | None = 10_000,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if not connect_timeout > 0:
            raise ValueError("connect_timeout must be positive")
        if not linger >= 0:
            raise ValueError("linger must be at least 0")
        if not 0 < backoff[0] <= backoff[1]:
            raise ValueError("backoff must be (first, largest) pauses, 0 < first <= largest")
        if keep_closed is not None and not keep_closed >= 0:
            raise ValueError("keep_closed must be None or at least 0")
        if head_every is not None and not head_every > 0:
            raise ValueError("head_every must be None or positive")
        self._events = EventBuffer(max_events, party)
        self.store = PostStore(store)
        self.clock = clock
        self.time_scale = time_scale
        self.copies_sent = 0  # one per recipient inbox published to
        self.copies_received = 0
        #: called with each signed message as it leaves (journals, observers)
        self.on_sent: Callable[[Outgoing], None] | None = None
        #: called with each inbox message after it is handled: its topic, its bytes
        #: and the events it caused (timelines, observers)
        self.on_received: Callable[[str, bytes, list[Event]], None] | None = None
        self._party, self._keys, self._keyring = party, list(keys), keyring
        self._doctrine, self._policy, self._keep_closed = doctrine, policy, keep_closed
        self.journal = Journal(self.store.connection if journal is None else journal)
        self._journal_apart = journal is not None
        #: set when starting over after a failed commit failed too (`endpoint`)
        self._stale: _Before | None = None
        self._endpoint, self._recorder = self._memory_from_store()
        for incident in self._endpoint.incidents():
            if incident.role is Role.RESPONDER and incident.state in AWAITING_ANSWER:
                self._events.put(NoticeReceived(incident, clock()))
        stations = self.endpoint.stations
        self._channel_of = {inbox_topic(c, s): c for c, s in stations.items()}
        try:
            self.link = MqttLink(
                BrokerAddress.parse_many(broker),
                client_id=client_id or f"hotline-{party}",
                inboxes=sorted(self._channel_of),
                store=self.store,
                handler=self._on_messages,
                backoff=backoff,
                tls=tls,
            )
        except TransportError:
            self.journal.close()
            self.store.close()
            raise
        self._open: dict[str, IncidentHandle] = {}  # handles whose outcome is still awaited
        self._wake = asyncio.Event()
        self._armed = 0.0  # the clock time the timer task sleeps until
        self._swept = 0.0  # when taken message ids were last swept
        self._head_every = head_every
        self._headed = clock()  # when the post last signed its journal head
        self._head_entries = len(self.journal)  # the journal's length just after
        #: countersignatures of this post's journal heads received (`sign_head`)
        self.countersigned = 0
        # closing; timer turns failed in a row (a failing disk)
        self._closing, self._failed_timers = False, 0
        self._tasks: list[asyncio.Task[None]] = []
        self._connect_timeout, self._linger = connect_timeout, linger
        self._forget_session, self._drop_unsent = forget_session, drop_unsent
        self._freeze_gc = freeze_gc
        self._in_memory = str(store) == ":memory:"

    async def __aenter__(self) -> Station:
        """Connect to the broker.

        Raises:
            ConnectionFailed: no first connection within ``connect_timeout`` (see
                `ConnectionFailed.reason`); the post is closed again.
        """
        link = asyncio.create_task(self.link.run(), name="hotline-link")
        self._tasks = [link, asyncio.create_task(self._timers(), name="hotline-timers")]
        connecting = asyncio.create_task(self.link.first_connection(self._connect_timeout))
        try:
            await asyncio.wait({connecting, link}, return_when=asyncio.FIRST_COMPLETED)
            if link.done() and not link.cancelled() and link.exception() is not None:
                connecting.cancel()
                await link  # what broke the link, rather than a timeout later
            await connecting  # a link that gave up has decided it already
        except BaseException:
            connecting.cancel()
            await self._abandon()
            raise
        if self._freeze_gc:
            _freeze_start_up()
        return self

    async def _abandon(self) -> None:
        """Undo a start that failed: stop the tasks, close the journal and the store."""
        self._closing = True
        self.link.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.journal.close()
        self.store.close()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the post: publish what is pending, disconnect, close the store.

        Raises:
            UnsentMessages: the outbox is in memory, and the broker had not confirmed
                everything in it after ``linger`` seconds (unless ``drop_unsent``, or the
                block raised: then what is lost is logged).
        """
        self._flush()
        if self._head_every is not None and len(self.journal) > self._head_entries:
            self.sign_head()  # its last word on its journal, in the other parties' journals
        # cancelled or interrupted: close at once, without waiting for the broker
        stopping = error is not None and not isinstance(error, Exception)
        if not stopping and (
            self._in_memory or self._forget_session or self.link.connected.is_set()
        ):
            await self.link.confirmed(None, self._linger)
        reachable = self.link.connected.is_set()
        self._closing = True
        self.link.stop()
        link, timers = self._tasks
        timers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timers
        await link  # disconnects cleanly
        if self._forget_session:
            await self._end_session(reachable)
        with self.store.transaction():
            self.recorder.flush(self.clock())  # rejections counted and not yet journaled
        left = [_unsent(topic, data) for _, topic, data in self.store.pending()]
        self.journal.close()
        self.store.close()
        if left:
            self._left_behind(left, raising=error is None)

    async def _end_session(self, reachable: bool) -> None:
        if not reachable:
            log.warning(
                "%s: the broker keeps this post's session: it was not reachable at close",
                self.link.client_id,
            )
            return
        await self.link.forget_session(min(self._connect_timeout, 5.0))

    def _left_behind(self, left: list[Unsent], *, raising: bool) -> None:
        """Say what the broker never confirmed: raise, or log, as the store allows."""
        if not self._in_memory:
            log.info(
                "%s: %s wait in the store for the broker, to be published at the next start",
                self.link.client_id,
                _count(len(left), "message"),
            )
            return
        error = UnsentMessages(left, self.link.broker.url, self._linger)
        only_heads = all(message.kind == HEAD for message in left)
        if raising and not (self._drop_unsent or only_heads):
            raise error
        log.warning("%s: %s", self.link.client_id, error)

    @property
    def unsent(self) -> int:
        """How many messages in the outbox the broker has not confirmed yet."""
        return len(self.link.waiting)

    async def flushed(self, timeout: float | None = None) -> bool:
        """Wait until the broker has confirmed everything in the outbox.

        Returns:
            True once it has; False if ``timeout`` seconds pass first.
        """
        return await self.link.confirmed(None, timeout)

    # -- what the caller does -----------------------------------------------------

    async def notify(
        self,
        *,
        channel: Channel,
        precedence: Precedence,
        notice: Notice,
        parties: Sequence[str] | None = None,
        incident_id: str | None = None,
    ) -> IncidentHandle:
        """Send a notice; returns its handle (await ``outcome()``; ``posted`` says
        whether the broker has the notice yet)."""
        incident = self.endpoint.notify(
            channel=channel,
            precedence=precedence,
            notice=notice,
            now=self.clock(),
            parties=parties,
            incident_id=incident_id,
        )
        handle = self._open[incident.id] = IncidentHandle(incident)
        handle.posted = self._posted()
        return handle

    def sign_head(self) -> bool:
        """Sign the journal's head to the other parties now, for them to countersign
        (protocol/PROTOCOL.md, section 12.14); False when the journal is empty."""
        if not len(self.journal):
            return False
        now = self.clock()
        self.endpoint.announce_head(len(self.journal), self.journal.head, now)
        self._flush()
        self._headed, self._head_entries = now, len(self.journal)
        return True

    def handle(self, incident_id: str) -> IncidentHandle:
        """The handle of an incident originated here, also one from before a restart.

        Raises:
            UnknownIncident: no incident with that id was originated here.
        """
        handle = self._open.get(incident_id)
        if handle is None:
            handle = IncidentHandle(self.endpoint.originated(incident_id))
            if handle.incident.is_open:
                self._open[incident_id] = handle
            else:
                handle._settle()
        return handle

    async def acknowledge(self, incident_id: str, *, channel: Channel | None = None) -> Posted:
        """Acknowledge a notice received here.

        Returns:
            what it sent: `Posted.sent` waits until the broker has it.
        """
        self.endpoint.acknowledge(incident_id, self.clock(), channel=channel)
        return self._posted()

    async def standby(self, incident_id: str, *, channel: Channel | None = None) -> Posted:
        """Answer standby: received, working on it.

        Returns:
            what it sent: `Posted.sent` waits until the broker has it.
        """
        self.endpoint.standby(incident_id, self.clock(), channel=channel)
        return self._posted()

    async def dispute(
        self, incident_id: str, reason: DisputeReason, *, channel: Channel | None = None
    ) -> Posted:
        """Answer with a dispute and its reason.

        Returns:
            what it sent: `Posted.sent` waits until the broker has it.
        """
        self.endpoint.dispute(incident_id, reason, self.clock(), channel=channel)
        return self._posted()

    async def withdraw(self, incident_id: str) -> Posted:
        """Cancel a notice this post sent.

        Returns:
            what it sent: `Posted.sent` waits until the broker has it.
        """
        self.endpoint.withdraw(incident_id, self.clock())
        return self._posted()

    async def resolve(
        self, incident_id: str, actions: Mapping[str, str], *, channel: Channel | None = None
    ) -> Posted:
        """End an exchange with agreed mutual actions.

        Returns:
            what it sent: `Posted.sent` waits until the broker has it.
        """
        self.endpoint.resolve(incident_id, actions, self.clock(), channel=channel)
        return self._posted()

    async def events(self) -> AsyncIterator[Event]:
        """Everything that happens at this post, as it happens (runs until cancelled);
        past ``max_events`` unread the oldest go (`events_dropped`), never a notice."""
        while True:
            yield await self._events.get()

    def events_waiting(self) -> list[Event]:
        """The events not read yet, taken at once (none waits for more)."""
        return self._events.take_all()

    @property
    def events_dropped(self) -> int:
        """Events let go unread, past ``max_events`` (never a `NoticeReceived`)."""
        return self._events.dropped

    # -- the pumps ----------------------------------------------------------------

    async def pump(self) -> None:
        """Publish what the endpoint has queued (after calling it directly)."""
        self._flush()

    def _on_messages(self, batch: Sequence[tuple[str, bytes]]) -> None:
        """Take the messages one read from the broker brought, in one transaction."""
        self.copies_received += len(batch)
        arrivals = self._publish(batch)
        if self.on_received is not None:
            for arrival in arrivals:
                _observe(self.on_received, arrival.topic, arrival.data, arrival.events)

    async def _timers(self) -> None:
        while not self._closing:
            deadline = self.endpoint.next_deadline()
            now = self.clock()
            delay = 1.0 if deadline is None else max(0.0, deadline - now) / self.time_scale
            delay = min(delay, 1.0)
            self._armed = now + delay * self.time_scale
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that lands as the wake-up arrives, and this loop never ends
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            now = self.clock()
            try:
                self._publish([], self.endpoint.on_timer(now), now)
                self._keep_house(now)
            except Exception:  # a commit that failed: started over, tried again later
                log.exception("%s: the timers' commit failed", self._party)
                self._failed_timers += 1
                await asyncio.sleep(min(30.0, 2.0 ** min(self._failed_timers - 1, 5)))
            else:
                self._failed_timers = 0

    def _keep_house(self, now: float) -> None:
        """Let go of what is no longer needed, once what it changed is committed: closed
        incidents past ``keep_closed``, and taken message ids too old to pass the
        freshness check again (sent before now - max_age - max_skew; taken at most
        max_skew before they were sent), swept every half of that window."""
        if self._keep_closed is not None:
            self.recorder.forget(self.endpoint.set_aside(now - self._keep_closed))
        policy = self.endpoint.verifier.policy
        window = policy.max_age + 2 * policy.max_skew
        if now >= self._swept + window / 2:
            self.store.forget_before(now - window)
            self._swept = now
        every = self._head_every
        if every is not None and now >= self._headed + every:
            if len(self.journal) > self._head_entries:
                self.sign_head()
            else:
                self._headed = now

    def _publish(
        self, batch: Sequence[tuple[str, bytes]], events: Sequence[Event] = (), now: float = 0.0
    ) -> list[Arrival]:
        """Take the messages of ``batch`` and commit what they did (or what a timer did,
        with its ``events`` at ``now``), then hand over what happened."""
        arrivals, _ = self._commit(batch, now)
        for event in [e for a in arrivals for e in a.events] + list(events):
            self._events.put(event)
            if isinstance(event, Closed) and event.incident in self._open:
                self._open.pop(event.incident)._settle()
        self._settle()
        return arrivals

    def _flush(self) -> list[int]:
        _, numbers = self._commit([], self.clock())
        self._settle()
        return numbers

    def _posted(self) -> Posted:
        return Posted(self.link, self._flush())

    def _commit(
        self, batch: Sequence[tuple[str, bytes]], now: float
    ) -> tuple[list[Arrival], list[int]]:
        """In one transaction (see the module doc), keep what the endpoint's calls did
        since the last commit, then take the messages of ``batch`` one after the other,
        keeping what each did as it is taken, so that the journal says it all in the
        order it happened; each incident changed is stored once, as it stands at the
        end. Then hand the messages caused to the link. Returns the arrivals, and the
        outbox numbers of the messages the calls caused."""
        endpoint = self.endpoint
        outbox, changed = endpoint.outbox(), endpoint.changed()
        if not (batch or outbox or changed):
            return [], []
        queued: list[tuple[int, str, bytes]] = []
        sent: list[Outgoing] = []
        arrivals: list[Arrival] = []
        journaled = len(self.journal)
        latest: dict[str, Incident] = {}
        # what only memory holds, as it stands before: kept if the commit fails
        before = _Before(dict(endpoint.declared), self.recorder.windows())
        try:
            with self._transaction():
                numbers = self._caused(
                    changed, outbox, now, queued=queued, latest=latest, sent=sent
                )
                for topic, data in batch:
                    at, channel = self.clock(), self._channel_of.get(topic)
                    events = endpoint.receive(data, at, channel=channel)
                    arrival = Arrival(
                        topic, data, channel, events, at, endpoint.outbox(), endpoint.changed()
                    )
                    arrivals.append(arrival)
                    self._took(arrival)
                    self._caused(
                        arrival.changed, arrival.outbox, at, queued=queued, latest=latest, sent=sent
                    )
                for key, incident in latest.items():
                    self.store.save_incident(key, incident_record(incident), incident.is_open)
        except Exception:
            try:
                self._start_over(before)  # and the caller fails, or the link drops the batch
            except Exception:
                self._stale = before  # tried again before the post is next used
                log.exception("%s: starting over from the store failed", self._party)
            raise
        if not latest and _head_traffic(arrivals, outbox):
            # heads and countersignatures alone are no growth to sign a head for
            self._head_entries += len(self.journal) - journaled
        if self.on_sent is not None:  # the application's code, outside the transaction
            for message in sent:
                _observe(self.on_sent, message)
        self.copies_sent += len(queued)
        self.link.send(queued)
        return arrivals, numbers

    @property
    def endpoint(self) -> StationEndpoint:
        """The post's sans-IO endpoint. Should starting over after a failed commit have
        failed too, it starts over first (and raises while the store stays unusable)."""
        if self._stale is not None:
            self._start_over(self._stale)
        return self._endpoint

    @property
    def recorder(self) -> Recorder:
        """What journals the endpoint's doings (started over as `endpoint` is)."""
        if self._stale is not None:
            self._start_over(self._stale)
        return self._recorder

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One commit of the store and the journal. A journal in the store commits with
        it; one in a file of its own is written just after the store has committed, so
        that it never holds entries of a commit that failed (a journal write failing
        then leaves those entries out: the store holds what happened)."""
        if self._journal_apart:
            with self.journal.batch(), self.store.transaction():
                yield
        else:
            with self.store.transaction(), self.journal.batch():
                yield

    def _memory_from_store(self) -> tuple[StationEndpoint, Recorder]:
        """The endpoint and its recorder as the store has them: the sequence numbers
        used, the ids taken, the incidents (with ``keep_closed``, only the open ones:
        the closed stay in the store until named again)."""
        endpoint = StationEndpoint(
            party=self._party,
            keys=self._keys,
            keyring=self._keyring,
            doctrine=self._doctrine,
            message_ids=new_message_id,
            policy=self._policy,
            first_seq=self.store.first_seq(),
            taken=self.store.taken_before,
            track_changes=True,
            recall=None if self._keep_closed is None else self._recall,
        )
        for record in self.store.incident_records(open_only=self._keep_closed is not None):
            endpoint.restore(incident_from_record(record, self._doctrine))
        return endpoint, Recorder(self.journal, endpoint, self.clock())

    def _start_over(self, before: _Before) -> None:
        """After a commit failed: the post's memory goes back to what its store holds.

        The transaction rolled back, but the endpoint had moved on: it took the batch's
        messages (and would refuse them as replays when the broker, never told they
        were taken, delivers them again), changed incidents, used sequence numbers,
        and the journal's chain had grown. A call that failed leaves nothing either:
        the incident a failed `notify` opened is gone with its handle. What only
        memory holds (the lines other parties declared, the rejected copies counted
        and not journaled yet) is taken up as it stood ``before``. Events already
        handed to the application stay handed.
        """
        self.journal.reread()
        self.store.reread()
        self._endpoint, self._recorder = self._memory_from_store()
        self._endpoint.declared = before.declared
        self._recorder.restore_windows(before.windows)
        self._stale = None
        for incident_id, handle in list(self._open.items()):
            try:
                handle.incident = self.endpoint.originated(incident_id)
            except UnknownIncident:
                del self._open[incident_id]
        self._wake.set()  # deadlines as the store has them

    def _took(self, arrival: Arrival) -> None:
        """Keep one message taken (in the current transaction)."""
        for event in arrival.events:
            if isinstance(event, Received):
                self.store.take(event.envelope.id, arrival.at)
                if read_head(event.envelope.body, COUNTERSIGNS) is not None:
                    self.countersigned += 1
        self.recorder.received(arrival.data, arrival.channel, arrival.events, arrival.at)

    def _caused(
        self,
        changed: list[Incident],
        outbox: list[Outgoing],
        now: float,
        *,
        queued: list[tuple[int, str, bytes]],
        latest: dict[str, Incident],
        sent: list[Outgoing],
    ) -> list[int]:
        """Journal one input's transitions and messages, put the messages in the outbox
        (and in ``queued``, and ``sent``), note the incidents to store; returns the
        outbox numbers."""
        self.recorder.transitions(changed)
        numbers = []
        sent.extend(outbox)
        for message in outbox:
            self.recorder.sent(message, now)
            self.store.used(message.envelope.sender, message.envelope.seq)
            for topic in message.topics:
                number = self.store.queue(topic, message.data)
                queued.append((number, topic, message.data))
                numbers.append(number)
        for incident in changed:
            latest[_record_key(incident)] = incident
        return numbers

    def _recall(self, incident_id: str) -> list[Incident]:
        """The views of ``incident_id`` the endpoint set aside, read back from the store."""
        found = [
            incident_from_record(record, self._doctrine)
            for record in self.store.incident_records(keys=_record_keys(incident_id))
        ]
        self.recorder.seen(found)  # their history is journaled already
        return found

    def _settle(self) -> None:
        # a local call (withdraw, resolve...) can close an incident without an event
        for incident_id in [i for i, h in self._open.items() if not h.incident.is_open]:
            self._open.pop(incident_id)._settle()
        deadline = self.endpoint.next_deadline()
        if deadline is not None and deadline < self._armed:
            self._wake.set()  # the timer task sleeps past the new deadline


_frozen = False


def _freeze_start_up() -> None:
    """Once per process: what exists when the first post has started lives as long as
    the process, so full collections need not scan it (see the module doc)."""
    global _frozen  # noqa: PLW0603 -- one process, one start-up
    if not _frozen:
        _frozen = True
        gc.collect()  # what is garbage already is not frozen with the rest
        gc.freeze()


def _observe(callback: Callable[..., None], *arguments: object) -> None:
    """Call an application's observer (`Station.on_sent`, `Station.on_received`): what
    it does wrong is logged, and the post, which has committed, goes on."""
    try:
        callback(*arguments)
    except Exception:
        log.exception("an observer of the post failed: %r", callback)


class _Before(NamedTuple):
    """What only a post's memory holds, as it stood when a commit began."""

    declared: dict[tuple[str, Channel], str]  # the endpoint's lines declared
    windows: Windows  # the recorder's rejection windows


class Arrival(NamedTuple):
    """A message from the broker, and what the endpoint made of it."""

    topic: str
    data: bytes
    channel: Channel | None
    events: list[Event]
    at: float  # the post's clock when it was taken
    outbox: list[Outgoing]  # the messages it caused
    changed: list[Incident]  # the incidents it changed


#: the kind `Unsent` gives journal heads and countersignatures
HEAD = "journal head"


def _unsent(topic: str, data: bytes) -> Unsent:
    """What an outbox message is, for the one who has to hear it was lost."""
    _, _, channel, station = topic.split("/", 3)
    try:
        envelope = decode_envelope(split_signed(data).envelope_bytes)
    except MalformedMessage:
        return Unsent("message", station, channel, "")
    kind = HEAD if is_head_traffic(envelope) else envelope.kind.value
    return Unsent(kind, station, channel, envelope.incident)


def _summary(messages: Sequence[Unsent]) -> str:
    """``1 ack to US-CAOC on air (incident US-CAOC:1), and 2 journal heads (...)``"""
    incidents: defaultdict[tuple[str, str, str], list[str]] = defaultdict(list)
    heads: list[str] = []
    for message in messages:
        if message.kind == HEAD:
            heads.append(message.station)
        else:
            incidents[message.kind, message.station, message.channel].append(message.incident)
    parts = []
    for (kind, station, channel), found in incidents.items():
        kinds = kind if len(found) == 1 else f"{kind} messages"
        part = f"{len(found)} {kinds} to {station} on {channel}"
        named = sorted({incident for incident in found if incident})
        which = "incident" if len(named) == 1 else "incidents"
        parts.append(f"{part} ({which} {', '.join(named)})" if named else part)
    if heads:
        also = "and " if parts else ""
        parts.append(f"{also}{_count(len(heads), HEAD)} (to {', '.join(sorted(set(heads)))})")
    return ", ".join(parts)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun if number == 1 else noun + 's'}"


def _head_traffic(arrivals: Sequence[Arrival], outbox: list[Outgoing]) -> bool:
    """Whether what a commit journals is only journal heads and countersignatures."""
    envelopes = [m.envelope for m in outbox]
    for arrival in arrivals:
        envelopes += [m.envelope for m in arrival.outbox]
        received = [e.envelope for e in arrival.events if isinstance(e, Received)]
        if not received:
            return False  # a refused copy
        envelopes += received
    return all(is_head_traffic(e) for e in envelopes)


def _record_keys(incident_id: str) -> list[str]:
    """The keys under which the views of an incident would be stored."""
    return [f"originated {incident_id}"] + [f"answering {incident_id} {c.value}" for c in Channel]


def _record_key(incident: Incident) -> str:
    """One stored record per incident view: an originated incident, or a line's view."""
    if incident.role is Role.ORIGINATOR:
        return f"originated {incident.id}"
    return f"answering {incident.id} {incident.legs[0].channel.value}"
