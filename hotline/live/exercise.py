"""Live exercises: a scenario file run with every party a real post on an MQTT broker.

Theory of operation. `LiveExercise` starts one `hotline.live.station.Station` per party, with
keys derived from the seed exactly as in simulation, on a shared exercise clock that
runs ``time_scale`` times faster than the wall clock (so a scenario of hours plays in
seconds). The script and the responder policies are the simulator's own
(`hotline.sim.exercise.perform`, `hotline.sim.responders.Responders`); only the network
is real. The run ends when every incident and view is closed and nothing is scheduled,
or when the scenario's duration has passed on the exercise clock. The result document
is the simulator's, with ``"transport": "mqtt"``: the message counts are copies
published to and received from the broker. Faults are not injected live yet (refused).

A live run keeps its timeline (a `hotline.sim.timeline.Timeline`) as the simulator
does: each copy published to an inbox is a record, matched to its arrival by its bytes
and inbox; a copy the broker hands over again after it arrived is a record of its own,
marked ``(again)``. Responder decisions and script actions are notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
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
from hotline.live.mqtt import BrokerAddress
from hotline.live.station import Station
from hotline.sim.exercise import (
    Tally,
    declarations,
    originated,
    perform,
    responder_views,
)
from hotline.sim.fields import ScenarioError
from hotline.sim.invariants import Watch
from hotline.sim.kernel import Priority
from hotline.sim.model import Scenario
from hotline.sim.responders import Responders
from hotline.sim.result import build_result
from hotline.sim.timeline import MessageRecord, Note


class _Clock:
    """The exercise clock of a live run, and its agenda (the `Agenda` of responders)."""

    def __init__(self, start: float, scale: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._origin = self._loop.time()
        self._start = start
        self._scale = scale
        self.pending = 0
        self._count = 0

    @property
    def now(self) -> float:
        return self._start + (self._loop.time() - self._origin) * self._scale

    def schedule(self, at: float, priority: Priority, action: Callable[[], None]) -> int:
        self.pending += 1
        self._count += 1

        def run() -> None:
            self.pending -= 1
            action()

        delay = max(0.0, (at - self.now) / self._scale)
        self._loop.call_later(delay, run)
        return self._count


class LiveExercise:
    """One live run of a scenario (see module doc).

    Args:
        scenario: what to run (no faults).
        broker: ``mqtt://HOST:PORT``.
        time_scale: exercise seconds per real second.
        seed: overrides the scenario's seed.
        journals: keep each post's journal in this directory as ``PARTY.journal``
            (replacing any there) rather than in memory.
    """

    def __init__(
        self,
        scenario: Scenario,
        broker: str,
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        journals: Path | None = None,
    ) -> None:
        if scenario.faults:
            raise ScenarioError(
                scenario.source, "faults", "faults are injected in simulation only, so far"
            )
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.scenario = scenario
        self.brokers = BrokerAddress.parse_many(broker)  # refuses a bad address up front
        self.time_scale = time_scale
        self.seed = scenario.seed if seed is None else seed
        self.journals = journals
        self.tally = Tally()
        self.watch = Watch()
        self.posts: dict[str, Station] = {}
        self.records: list[MessageRecord] = []
        self.notes: list[Note] = []
        self._copies: dict[tuple[bytes, str], MessageRecord] = {}  # (bytes, inbox station)
        self._clock: _Clock | None = None
        self._ended = scenario.start
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
        """Run the scenario to its end; the posts disconnect afterwards."""
        scenario = self.scenario
        clock = self._clock = _Clock(scenario.start, self.time_scale)
        stations = scenario.stations()
        # fresh keys every run, never the seed's: a message captured in one live run is
        # signed by a key no later run trusts (unknown-key), whatever its time says
        keys = self.station_keys = {s: StationKey(new_seed(), s) for s in stations}
        keyring = Keyring(
            TrustedKey(public_key=keys[s].public_key, party=p, station=s, channels=c)
            for s, (p, c) in stations.items()
        )
        policy = VerifierPolicy(max_age=scenario.max_age, max_skew=scenario.max_skew)
        owner = {s: p for s, (p, _) in stations.items()}
        run_tag = f"{scenario.name}-{self.seed}-{time.monotonic_ns()}"
        async with contextlib.AsyncExitStack() as stack:
            nodes = [address.url for address in self.brokers]
            for number, (party, table) in enumerate(scenario.parties.items()):
                # on a cluster, parties start on different nodes: the cluster carries
                # every message between them
                first = number % len(nodes)
                self.posts[party] = await stack.enter_async_context(
                    Station(
                        party=party,
                        keys=[keys[s] for s in sorted(set(table.values()))],
                        keyring=keyring,
                        doctrine=scenario.doctrine,
                        broker=nodes[first:] + nodes[:first],
                        policy=policy,
                        clock=lambda: clock.now,
                        time_scale=self.time_scale,
                        client_id=f"hotline-{party}-{run_tag}",
                        journal=self._journal(party),
                        keep_closed=None,  # the result reports every incident
                        head_every=None,  # heads are exchanged when the run ends
                    )
                )
            for post in self.posts.values():
                post.on_sent = self._sent
                post.on_received = self._received
            endpoints = {party: post.endpoint for party, post in self.posts.items()}
            pumps: set[asyncio.Task[None]] = set()

            def pump(party: str) -> None:
                task = asyncio.create_task(self.posts[party].pump())
                pumps.add(task)
                task.add_done_callback(pumps.discard)

            def decided(party: str, view: Incident, what: str) -> None:
                self._note(party, view.id, what)
                pump(party)

            responders = Responders(
                scenario,
                rng=random.Random(self.seed),
                kernel=clock,
                endpoints=endpoints,
                after=decided,
                clock=lambda party: clock.now,
                back_at=lambda station: None,
            )
            for event in scenario.events:

                def act(event: Any = event) -> None:
                    what = perform(endpoints[event.party], event, clock.now)
                    self._note(event.party, event.incident, what)
                    pump(event.party)

                clock.schedule(scenario.start + event.at, Priority.SCRIPT, act)
            listeners = [
                asyncio.create_task(self._listen(party, post, responders, owner))
                for party, post in self.posts.items()
            ]
            end = scenario.start + scenario.duration
            while clock.now < end and not self._settled(clock):
                await asyncio.sleep(0.02)
            self._ended = min(clock.now, end)
            if self.journals is not None:
                await self._exchange_heads()
            for listener in listeners:
                listener.cancel()
            for post in self.posts.values():
                self.tally.sent += post.copies_sent
                self.tally.delivered += post.copies_received
        self.tally.in_flight = self.tally.sent - self.tally.delivered
        for record in self.records:
            if record.arrived_at is None:
                self.tally.flying[record.incident] += 1
        return self

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

    async def _listen(
        self, party: str, post: Station, responders: Responders, owner: dict[str, str]
    ) -> None:
        async for event in post.events():
            if isinstance(event, Rejected):
                self.tally.refused(event.incident or "", event.reason.value)
            elif isinstance(event, Received):
                self.watch.observe(party, event, None, owner)
            responders.heard(party, event)

    # -- the timeline ----------------------------------------------------------------

    def _at(self) -> float:
        assert self._clock is not None  # the hooks are set once the clock runs
        return self._clock.now - self.scenario.start

    def _sent(self, message: Outgoing) -> None:
        envelope = message.envelope
        self.watch.sent.add(envelope.id)
        at = self._at()
        for station in message.recipients:
            record = MessageRecord(
                at,
                message.channel.value,
                envelope.kind.value,
                envelope.incident,
                envelope.sender,
                station,
            )
            self.records.append(record)
            self._copies[(message.data, station)] = record

    def _received(self, topic: str, data: bytes, events: list[Event]) -> None:
        station = topic.rsplit("/", 1)[-1]
        record = self._copies.get((data, station))
        if record is None:
            return  # not published by this run: a retained message of an earlier one
        if record.arrived_at is not None:
            record = dataclasses.replace(record, kind=f"{record.kind} (again)", arrived_at=None)
            self.records.append(record)
        record.arrived_at = self._at()
        record.fate = "delivered"
        for event in events:
            if isinstance(event, Rejected):
                record.fate = f"rejected: {event.reason}"

    def _note(self, party: str, incident: str, text: str) -> None:
        self.notes.append(Note(self._at(), party, incident, text))

    def _settled(self, clock: _Clock) -> bool:
        if clock.pending or not self.posts:
            return False
        # an open incident or view always has a deadline, so no deadline means none is open
        return all(
            post.endpoint.next_deadline() is None and not post.store.pending()
            for post in self.posts.values()
        )

    def result(self) -> dict[str, Any]:
        """The result document of the run (``transport`` ``mqtt``)."""
        # a live timer fires after the event loop wakes: allow 0.1 real seconds of lateness
        result = build_result(self, timer_slack=0.1 * self.time_scale)
        result["transport"] = "mqtt"
        return result

    # -- what build_result reads ---------------------------------------------------

    @property
    def elapsed(self) -> float:
        """Exercise seconds from the start to where the run stopped."""
        return self._ended - self.scenario.start

    def local_ends(self) -> dict[str, float]:
        """Where the run stopped, on each post's clock (one clock in a live run)."""
        return dict.fromkeys(self.posts, self._ended)

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


async def run_live(
    scenario: Scenario,
    broker: str,
    *,
    time_scale: float = 1.0,
    seed: int | None = None,
    journals: Path | None = None,
) -> dict[str, Any]:
    """Run ``scenario`` live and return its result document (``transport`` ``mqtt``)."""
    live = LiveExercise(scenario, broker, time_scale=time_scale, seed=seed, journals=journals)
    return (await live.run()).result()
