"""Live exercises: a scenario file run with every party a real post on an MQTT broker.

Theory of operation. `LiveExercise` starts one `hotline.live.station.Station` per
party, with keys made fresh for the run, on a shared exercise clock that runs
``time_scale`` times faster than the wall clock (so a scenario of hours plays in
seconds). The script and the responder policies are the simulator's own
(`hotline.sim.exercise.perform`, `hotline.sim.responders.Responders`); the network is
real. The posts reach the broker through an in-process fault proxy
(`hotline.live.proxy.FaultProxy`) that applies the scenario's ``[[faults]]`` and its
``[network]`` (latency, loss, outages) to their traffic, with the run's seed, as the
simulator does; clock-skew faults set the skewed post's own clock, and a station-down
fault has the proxy cut its post's connection and refuse it until the window ends. The
run ends when every incident and view is closed and nothing is scheduled, when the
scenario's duration has passed on the exercise clock, or when it is interrupted (the
result then says so and holds what happened so far).

Accounting counts every copy from its own source. ``sent``: copies the posts queued
for an inbox (one per recipient). ``injected`` and ``dropped``: what the proxy made and
lost, by reason. ``delivered``: first arrivals, at a post, of a copy this run sent or
the proxy injected. ``in_flight``: copies whose fate is still open, each known by its
bytes and inbox (held by the proxy, queued by the broker, on the wire). Arrivals this
run never sent are ``foreign`` (counted per line: a capture of another run, junk
published straight to an inbox), and a copy the broker hands over again after it
arrived is ``redelivered``; neither counts as delivered. So sent + injected = delivered
+ dropped + in flight holds only if the books of the posts, the proxy and the
arrivals agree.

A live run keeps its timeline (a `hotline.sim.timeline.Timeline`) as the simulator
does: each copy published to an inbox is a record, matched to its arrival; the proxy's
decisions set a record's fate (dropped, held) or add records (duplicates, replays,
forgeries) whose fate is their own. Responder decisions and script actions are notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.audit.journal import keep_earlier
from hotline.core.endpoint import Outgoing, StationEndpoint
from hotline.core.events import Event, Received, Rejected
from hotline.core.incident import Incident
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel
from hotline.core.signing import StationKey
from hotline.core.verifier import VerifierPolicy
from hotline.entropy import new_seed
from hotline.faults import FaultPlan, Tag
from hotline.geo.agreed import Judgement
from hotline.live.mqtt import BrokerAddress
from hotline.live.proxy import Applied, FaultProxy, LineModel
from hotline.live.proxy.decisions import parse_inbox, peek
from hotline.live.station import Station
from hotline.sim.durations import format_duration
from hotline.sim.exercise import (
    NoticeJudge,
    Tally,
    declarations,
    originated,
    perform,
    responder_views,
)
from hotline.sim.invariants import Watch
from hotline.sim.kernel import Priority
from hotline.sim.model import Scenario
from hotline.sim.responders import Responders
from hotline.sim.result import build_result
from hotline.sim.timeline import MessageRecord, Note

#: real seconds between progress lines
PROGRESS_EVERY = 2.0


class _Clock:
    """The exercise clock of a live run, and its agenda (the `Agenda` of responders)."""

    def __init__(self, start: float, scale: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._origin = self._loop.time()
        self._start = start
        self._scale = scale
        self.pending = 0
        self._count = 0
        self._handles: dict[int, asyncio.TimerHandle] = {}

    @property
    def now(self) -> float:
        return self._start + (self._loop.time() - self._origin) * self._scale

    def restart(self) -> None:
        """Start the exercise time again from the start (once every post is connected)."""
        self._origin = self._loop.time()

    def schedule(self, at: float, priority: Priority, action: Callable[[], None]) -> int:
        self.pending += 1
        self._count += 1

        count = self._count

        def run() -> None:
            self.pending -= 1
            self._handles.pop(count, None)
            action()

        delay = max(0.0, (at - self.now) / self._scale)
        handle = self._loop.call_later(delay, run)
        self._handles[self._count] = handle
        return self._count

    def cancel_all(self) -> None:
        """Forget what is scheduled (the run is over)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        self.pending = 0


class LiveExercise:
    """One live run of a scenario (see module doc).

    Args:
        scenario: what to run.
        broker: ``mqtt://HOST:PORT`` (a cluster: its nodes, comma-separated).
        time_scale: exercise seconds per real second.
        seed: overrides the scenario's seed (the fault plan's draws).
        journals: keep each post's journal in this directory as ``PARTY.journal``
            (replacing any there) rather than in memory.
        progress: called with a line on how the run stands, every two real seconds.
        connect_timeout: seconds a post may take to reach the broker.
    """

    def __init__(
        self,
        scenario: Scenario,
        broker: str,
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        journals: Path | None = None,
        progress: Callable[[str], None] | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.scenario = scenario
        self.brokers = BrokerAddress.parse_many(broker)  # refuses a bad address up front
        self.time_scale = time_scale
        self.seed = scenario.seed if seed is None else seed
        self.journals = journals
        self.progress = progress
        self.connect_timeout = connect_timeout
        self.tally = Tally()
        self.watch = Watch()
        self.posts: dict[str, Station] = {}
        self.proxies: list[FaultProxy] = []
        self.records: list[MessageRecord] = []
        self.notes: list[Note] = []
        #: copies on their way, by (bytes, inbox station), oldest first
        self._flying: dict[tuple[bytes, str], deque[MessageRecord]] = {}
        self._arrived: dict[tuple[bytes, str], MessageRecord] = {}  # the last arrival of each
        self._tags: dict[tuple[bytes, str], Tag] = {}  # what a fault made of a copy
        #: arrivals no copy of this run explains, per line (or topic)
        self.foreign: Counter[str] = Counter()
        self.redelivered = 0  # copies the broker handed over again after they arrived
        #: incident -> what the agreed map says of its notice
        self.judged: dict[str, Judgement] = {}
        self._notice_judge = NoticeJudge(scenario)
        self.interrupted = False
        self._clock: _Clock | None = None
        self._ended = scenario.start
        self._owner = {s: p for s, (p, _) in scenario.stations().items()}
        self._skews: dict[str, float] = {}  # station -> how far its post's clock is ahead
        if scenario.logs_faults():  # each incident lists the faults its copies met
            self.tally.faults, self.tally.copies = {}, {}
        self._model: LineModel | None = None
        self._responders: Responders
        self._pumps: set[asyncio.Task[None]] = set()
        #: journals earlier runs left in the directory, and where they were moved
        self.kept_journals: list[tuple[Path, Path]] = []
        #: each station's private key, fresh for the run (made when it starts)
        self.station_keys: dict[str, StationKey] = {}
        #: journal heads left uncountersigned as the run ended, and why
        self.head_refusals: list[str] = []

    def _journal(self, party: str) -> Path | None:
        if self.journals is None:
            return None  # in the post's store, in memory
        self.journals.mkdir(parents=True, exist_ok=True)
        path = self.journals / f"{party}.journal"
        kept = keep_earlier(path)  # left by an earlier run
        if kept is not None:
            self.kept_journals.append((path, kept))
        return path

    async def run(self) -> LiveExercise:
        """Run the scenario to its end; the posts disconnect afterwards.

        Interrupted (cancelled, or Ctrl-C), the run stops where it stands, marks itself
        `interrupted` and re-raises; its `result` holds what happened so far.
        """
        scenario = self.scenario
        clock = self._clock = _Clock(scenario.start, self.time_scale)
        stations = scenario.stations()
        # fresh keys every run, never the seed's: a message captured in one live run is
        # signed by a key no later run trusts (unknown-key), whatever its time says
        keys = self.station_keys = {s: StationKey(new_seed(), s) for s in stations}
        self._model = LineModel(
            scenario.faults,
            seed=self.seed,
            network=scenario.network,
            doctrine=scenario.doctrine,
            keys=keys,
            lines={s: c for s, (_, c) in stations.items()},
            attacker=StationKey(new_seed(), "ATTACKER"),
        )
        run_tag = f"{scenario.name}-{self.seed}-{time.monotonic_ns()}"
        client_ids = {party: f"hotline-{party}-{run_tag}" for party in scenario.parties}
        async with contextlib.AsyncExitStack() as stack:
            nodes = await self._start_proxies(stack, client_ids)
            # the posts connect on a line with no fault (a station down from the start
            # is cut once the exercise begins), then the exercise clock starts
            await self._start_posts(stack, nodes, client_ids)
            clock.restart()
            for proxy in self.proxies:
                proxy.paused = False
            self._script()
            listeners = [
                asyncio.create_task(self._listen(party, post)) for party, post in self.posts.items()
            ]
            end = scenario.start + scenario.duration
            try:
                await self._until_done(clock)
            except asyncio.CancelledError:
                self.interrupted = True
                self._ended = min(clock.now, end)
                self._close_books()
                raise
            finally:
                for listener in listeners:
                    listener.cancel()
            self._ended = min(clock.now, end)
            self._close_books()
            if self.journals is not None:
                await self._exchange_heads()
        return self

    async def _start_proxies(
        self, stack: contextlib.AsyncExitStack, client_ids: dict[str, str]
    ) -> list[str]:
        """One fault proxy in front of each broker node, sharing the run's line model;
        returns the addresses the posts connect to."""
        scenario, clock = self.scenario, self._clock
        assert clock is not None

        def now() -> float:
            return clock.now - scenario.start

        nodes = []
        for address in self.brokers:
            proxy = FaultProxy(
                address,
                model=self._model,
                clock=now,
                time_scale=self.time_scale,
                clients={
                    client_ids[party]: set(table.values())
                    for party, table in scenario.parties.items()
                },
                on_applied=self._applied,
                on_line_down=self._line_down,
                message_clock=self._message_time,
            )
            proxy.paused = True  # until every post is connected
            self.proxies.append(await stack.enter_async_context(proxy))
            nodes.append(proxy.url)
        return nodes

    async def _start_posts(
        self, stack: contextlib.AsyncExitStack, nodes: list[str], client_ids: dict[str, str]
    ) -> None:
        scenario, clock, keys = self.scenario, self._clock, self.station_keys
        assert clock is not None
        assert self._model is not None
        plan = self._model.plan
        stations = scenario.stations()
        keyring = Keyring(
            TrustedKey(public_key=keys[s].public_key, party=p, station=s, channels=c)
            for s, (p, c) in stations.items()
        )
        policy = VerifierPolicy(max_age=scenario.max_age, max_skew=scenario.max_skew)
        for number, (party, table) in enumerate(scenario.parties.items()):
            # on a cluster, parties start on different nodes: the cluster carries every
            # message between them
            first = number % len(nodes)
            skew = plan.clock_offset(table.values())
            self._skews.update(dict.fromkeys(table.values(), skew))
            self.posts[party] = await stack.enter_async_context(
                Station(
                    party=party,
                    keys=[keys[s] for s in sorted(set(table.values()))],
                    keyring=keyring,
                    doctrine=scenario.doctrine,
                    broker=nodes[first:] + nodes[:first],
                    policy=policy,
                    clock=_skewed(clock, skew),
                    time_scale=self.time_scale,
                    client_id=client_ids[party],
                    journal=self._journal(party),
                    keep_closed=None,  # the result reports every incident
                    head_every=None,  # heads are exchanged when the run ends
                    connect_timeout=self.connect_timeout,
                    backoff=(0.01, 0.1),  # a scaled clock: come back at once
                    forget_session=True,  # leave no session behind on the broker
                    drop_unsent=True,  # a run's unsent messages end with it
                )
            )
        for post in self.posts.values():
            post.on_sent = self._sent
            post.on_received = self._received

    def _script(self) -> None:
        """The responders, and the scenario's acts on the exercise clock."""
        scenario, clock = self.scenario, self._clock
        assert clock is not None
        assert self._model is not None
        plan = self._model.plan
        endpoints = self._endpoints()

        def decided(party: str, view: Incident, what: str) -> None:
            self._note(party, view.id, what)
            self._pump(party)

        def back_at(station: str) -> float | None:
            at = clock.now - scenario.start
            if not plan.station_down(station, at):
                return None
            return scenario.start + plan.back_up(station, at)

        self._responders = Responders(
            scenario,
            rng=random.Random(self.seed),
            kernel=clock,
            endpoints=endpoints,
            after=decided,
            clock=lambda party: self.posts[party].clock(),
            back_at=back_at,
        )
        for event in scenario.events:

            def act(event: Any = event) -> None:
                post = self.posts[event.party]
                what = perform(endpoints[event.party], event, post.clock())
                self._note(event.party, event.incident, what)
                judged = self._notice_judge.judge(event, clock.now)
                if judged is not None:
                    self.judged[event.incident] = judged
                    self._note(event.party, event.incident, judged.summary())
                    post.recorder.judged(event.incident, judged.as_json(), post.clock())
                self._pump(event.party)

            clock.schedule(scenario.start + event.at, Priority.SCRIPT, act)

    def _pump(self, party: str) -> None:
        """Publish what ``party``'s endpoint queued (after a call made on it directly)."""
        task = asyncio.create_task(self.posts[party].pump())
        self._pumps.add(task)
        task.add_done_callback(self._pumps.discard)

    async def _until_done(self, clock: _Clock) -> None:
        end = self.scenario.start + self.scenario.duration
        loop = asyncio.get_running_loop()
        said = loop.time()
        while clock.now < end and not self._settled(clock):
            await asyncio.sleep(0.02)
            if self.progress is not None and loop.time() - said >= PROGRESS_EVERY:
                said = loop.time()
                self.progress(self.standing())

    def standing(self) -> str:
        """A line on how the run stands: exercise time, incidents, messages."""
        assert self._clock is not None
        incidents = self.incidents()
        closed = sum(not i.is_open for i in incidents)
        flying = sum(len(q) for q in self._flying.values())
        sent = sum(post.copies_sent for post in self.posts.values())
        at = format_duration(max(0.0, self._clock.now - self.scenario.start))
        return (
            f"live: {at} of exercise time; incidents {len(incidents) - closed} open, "
            f"{closed} closed; messages {sent} sent, {self.tally.delivered} delivered, "
            f"{flying} on their way"
        )

    def _close_books(self) -> None:
        """Take the run's counts from their sources (see the module doc). What happens
        after this is off the books and over a working line: the agenda is cleared, the
        proxies stop applying faults (journal heads, and the posts' goodbyes)."""
        assert self._clock is not None
        self._clock.cancel_all()
        for proxy in self.proxies:
            proxy.paused = True
        tally = self.tally
        tally.sent = sum(post.copies_sent for post in self.posts.values())
        counts = self._model.counts if self._model is not None else None
        if counts is not None:
            tally.injected, tally.dropped = counts.injected, counts.dropped
            tally.drops, tally.injections = Counter(counts.drops), Counter(counts.injections)
        tally.in_flight = 0
        tally.flying.clear()
        for queue in self._flying.values():
            for record in queue:
                tally.fly(record.incident)
        for post in self.posts.values():
            post.on_sent = None
            post.on_received = None

    async def _exchange_heads(self) -> None:
        """Each post signs its journal head to the others, who countersign it (protocol/
        PROTOCOL.md, section 12.14); waits, for at most five seconds, until every post has
        its countersignatures."""
        for post in self.posts.values():
            post.sign_head()
        wanted = {party: len(self.posts) - 1 for party in self.posts}
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 5.0
        while loop.time() < give_up:
            await asyncio.sleep(0.02)
            if all(post.countersigned >= wanted[p] for p, post in self.posts.items()):
                return
        for party, post in self.posts.items():
            if post.countersigned < wanted[party]:
                self.head_refusals.append(
                    f"{party}'s journal head: {post.countersigned} of {wanted[party]} "
                    "countersignatures came back within five seconds"
                )

    async def _listen(self, party: str, post: Station) -> None:
        async for event in post.events():
            self._responders.heard(party, event)

    # -- the timeline and the books ------------------------------------------------------

    def _at(self) -> float:
        assert self._clock is not None  # the hooks are set once the clock runs
        return self._clock.now - self.scenario.start

    def _sent(self, message: Outgoing) -> None:
        envelope = message.envelope
        self.watch.sent.add(envelope.id)
        at = self._at()
        for station in message.recipients:
            self.tally.sent_copy(
                envelope.incident, f"{envelope.kind.value} {envelope.sender}->{station}"
            )
            record = MessageRecord(
                at,
                message.channel.value,
                envelope.kind.value,
                envelope.incident,
                envelope.sender,
                station,
            )
            self.records.append(record)
            self._flying.setdefault((message.data, station), deque()).append(record)

    def _applied(self, applied: Applied) -> None:
        """What the proxy did to a copy: its record's fate, or records of new copies."""
        station = parse_inbox(applied.topic).station
        key = (applied.original, station)
        if applied.incident:
            self.tally.applied(applied.incident, applied.entry())
        if applied.action == "dropped":
            record = self._take(key)
            if record is not None:
                record.fate = f"dropped: {applied.fault}"
        elif applied.action == "held":
            queue = self._flying.get(key)
            if queue:
                queue[0].fate = "held in outage"
        elif not applied.genuine:  # a copy the plan added (perhaps changed after)
            self._made(applied, station)
        elif applied.tag is Tag.CORRUPTED:  # the copy itself, changed on the way
            record = self._take(key)
            if record is not None:
                new = (applied.data, station)
                self._tags[new] = Tag.CORRUPTED
                self._flying.setdefault(new, deque()).append(record)

    def _made(self, applied: Applied, station: str) -> None:
        """A copy the proxy adds: a record of its own, on its way to where it goes."""
        tag = applied.tag
        assert tag is not None  # an added copy is what a fault made
        to = applied.to or station
        claims = peek(applied.data)
        record = MessageRecord(
            self._at(),
            applied.channel or "",
            f"{claims.kind or applied.kind} ({tag})",
            applied.incident,
            claims.sender or applied.sender,
            to,
        )
        self.records.append(record)
        key = (applied.data, to)
        if tag is not Tag.DUPLICATE and tag is not Tag.REPLAYED:
            self._tags[key] = tag
        self._flying.setdefault(key, deque()).append(record)

    def _take(self, key: tuple[bytes, str]) -> MessageRecord | None:
        queue = self._flying.get(key)
        if not queue:
            return None
        record = queue.popleft()
        if not queue:
            del self._flying[key]
        return record

    def _received(self, topic: str, data: bytes, events: list[Event]) -> None:
        station = parse_inbox(topic).station
        key = (data, station)
        party = self._owner.get(station, "")
        record = self._take(key)
        if record is None:
            last = self._arrived.get(key)
            if last is None:  # nothing of this run: a capture, junk, another run's copy
                line = parse_inbox(topic).channel
                self.foreign[line.value if line is not None else topic] += 1
                self._judged(party, events, None, None)
                return
            self.redelivered += 1
            record = dataclasses.replace(last, kind=f"{last.kind} (again)", arrived_at=None)
            self.records.append(record)
        else:
            self.tally.delivered += 1
        self._arrived[key] = record
        record.arrived_at = self._at()
        record.fate = "delivered"
        self._judged(party, events, record, self._tags.get(key))

    def _judged(
        self, party: str, events: list[Event], record: MessageRecord | None, tag: Tag | None
    ) -> None:
        """What ``party``'s post made of an arrival: refusals counted, what it took
        watched by the invariants (a foreign message taken breaks one)."""
        for event in events:
            if isinstance(event, Rejected):
                incident = event.incident or (record.incident if record else "")
                self.tally.refused(incident, event.reason.value)
                if record is not None:
                    record.fate = f"rejected: {event.reason}"
            elif isinstance(event, Received):
                self.watch.observe(party, event, tag, self._owner)

    def _message_time(self, sent_at: float, sender: str) -> float:
        """Exercise seconds of a message ``sender`` signed at ``sent_at`` on its clock
        (which runs ahead by its post's skew)."""
        return sent_at - self.scenario.start - self._skews.get(sender, 0.0)

    def _line_down(self, sender: str, channel: Channel) -> None:
        """The sender's post finds its line down (the network detects outages)."""
        party = self._owner.get(sender)
        if party is None or party not in self.posts:
            return
        post = self.posts[party]
        self._note(party, "", f"{channel} line found down")
        for event in post.endpoint.link_down(channel, post.clock()):
            self._responders.heard(party, event)
        self._pump(party)

    def _note(self, party: str, incident: str, text: str) -> None:
        self.notes.append(Note(self._at(), party, incident, text))

    def _settled(self, clock: _Clock) -> bool:
        if clock.pending or not self.posts:
            return False
        if any(proxy.held for proxy in self.proxies):
            return False
        # an open incident or view always has a deadline, so no deadline means none is open
        return all(
            post.endpoint.next_deadline() is None and not post.store.pending()
            for post in self.posts.values()
        )

    def result(self) -> dict[str, Any]:
        """The result document of the run (``transport`` ``live``)."""
        # a live timer fires after the event loop wakes: allow 0.1 real seconds of lateness
        result = build_result(self, timer_slack=0.1 * self.time_scale)
        result["transport"] = "live"
        messages = result["messages"]
        messages["foreign"] = dict(sorted(self.foreign.items()))
        messages["redelivered"] = self.redelivered
        if self._model is not None:
            messages["proxy"] = self._model.counts.as_json() | _merged(
                [proxy.traffic() for proxy in self.proxies]
            )
        if self.interrupted:
            result["interrupted"] = True
        return result

    # -- what build_result reads ---------------------------------------------------

    @property
    def elapsed(self) -> float:
        """Exercise seconds from the start to where the run stopped."""
        return self._ended - self.scenario.start

    def local_ends(self) -> dict[str, float]:
        """Where the run stopped, on each post's clock (skewed posts run ahead)."""
        plan = self._model.plan if self._model is not None else FaultPlan()
        return {
            party: self._ended + plan.clock_offset(table.values())
            for party, table in self.scenario.parties.items()
            if party in self.posts
        }

    def incidents(self) -> list[Incident]:
        """Every incident from its originator's view, in order of opening."""
        return originated(self._endpoints())

    def views(self) -> list[tuple[str, Incident]]:
        """Every responder view, with its party."""
        return responder_views(self._endpoints())

    def declared(self) -> dict[str, dict[Channel, str]]:
        """What each party last declared of each line it declared (suspended, working)."""
        return declarations(self._endpoints())

    def _endpoints(self) -> dict[str, StationEndpoint]:
        return {party: post.endpoint for party, post in self.posts.items()}


def _skewed(clock: _Clock, skew: float) -> Callable[[], float]:
    """A post's clock: the exercise clock, ``skew`` seconds ahead (clock-skew faults)."""
    return lambda: clock.now + skew


def _merged(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts of several proxies (a cluster's nodes), added up."""
    merged: dict[str, Any] = {}
    for found in counts:
        for key, value in found.items():
            if isinstance(value, dict):
                into = merged.setdefault(key, {})
                for name, number in value.items():
                    into[name] = into.get(name, 0) + number
            else:
                merged[key] = merged.get(key, 0) + value
    return merged


async def run_live(
    scenario: Scenario,
    broker: str,
    *,
    time_scale: float = 1.0,
    seed: int | None = None,
    journals: Path | None = None,
) -> dict[str, Any]:
    """Run ``scenario`` live and return its result document (``transport`` ``live``)."""
    live = LiveExercise(scenario, broker, time_scale=time_scale, seed=seed, journals=journals)
    return (await live.run()).result()
