"""Live round trips through a private mosquitto: hotline against a raw echo and against
the floor of any signed protocol that keeps what it takes, in the same run.

    python benchmarks/live.py [--trips N] [--window W] [--rounds R] [--seconds S]
                              [--paced-trips N] [--store file|memory] [--no-scale]

Three rows, each a round trip of two hops through the broker, QoS 1 both ways:

raw echo:     an aiomqtt client publishes a payload of about a signed message's size
              and an echo client publishes it back; the requester waits for it.
signed echo:  the raw echo plus, on each hop, what no signed protocol that keeps what it
              took can skip: the sender signs with hotline's own `StationKey.sign_bytes`,
              the receiver splits and checks the signature with hotline's own functions
              (`split_signed`, `Keyring.lookup`, `check_signature`: whatever library
              hotline verifies with, this row uses too) and commits the message in one
              SQLite transaction (`hotline.sqlite`: WAL, hotline's `synchronous`).
hotline:      a post notifies (a signed FLASH notice), the other acknowledges (a signed
              ack): one incident = one round trip, from `notify()` to its outcome. The
              posts keep SQLite store files, as deployed (``--store memory`` for the
              in-memory default of `Station`).

Each round runs every row sequentially (latency) and then with W round trips in flight
(saturation), row after row, so that this machine's swings in speed fall on all rows
alike; each run stops at N trips or S seconds, whichever comes first, and every row
keeps its best saturation round. Then R rounds of hotline paced at half its best
saturation rate: trip i is sent at start + i/rate, at its own time, never batched; a
send that comes late is counted, with how late. During the paced rounds a watcher task
sleeps 1 ms at a time and records how late it wakes (the event loop's lag: a stall of
the process shows there, a stall of the broker does not), and the garbage collector's
pauses are recorded too. Paced latencies are from the send to the outcome; the
from-schedule p99 is printed beside them.

Scale (``--scale``, on by default): 1,000 incidents open at once (notified without an
answer, then all answered), and 50 posts on the one broker (25 pairs, each doing its
round trips one at a time, all pairs at once). Memory per open incident is traced
(tracemalloc) in a separate, untimed pass, with the responder absent, so that it counts
the one post holding the incidents.

Headlines (RESULT lines):
  live_throughput_ratio         best hotline saturation round / best raw echo round.
  live_vs_signed_echo_ratio     best hotline saturation round / best signed echo round.
  live_p50/p99/p999_at_half_saturation
                                median over the paced rounds of each round's percentile.
  live_memory_per_open_incident the originator post's traced memory per open incident.
  live_fifty_posts_throughput   round trips/s of the 25 pairs together.

Loopback only; every load loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import hashlib
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from echo import (  # benchmarks/echo.py
    PAYLOAD,
    BenchmarkFailed,
    Echo,
    Run,
    Trip,
    closed_loop,
    echo_pair,
)

import hotline
from hotline.core.channels import Doctrine
from hotline.core.events import Closed, Event, NoticeReceived
from hotline.core.incident import Notice
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Precedence
from hotline.core.signing import StationKey, check_signature, split_signed
from hotline.doctrine import doctrine_with
from hotline.live.station import Station
from hotline.sqlite import connect, transaction
from hotline.testing import Mosquitto

TRIP_TIMEOUT = 30.0  # seconds: a trip slower than this is a lost message
TICK = 0.001  # the lag watcher's sleep
# An idle loop on the development machine wakes within 0.5 ms of its timer at p99 (the
# selector rounds timeouts up to whole milliseconds): twice that is a stall.
STALL = 0.002
# A paced send later than one timer tick is late: the pacer sleeps on the same timers.
LATE = 0.001
ROWS = ("raw", "signed", "hotline")
LABELS = {"raw": "raw echo", "signed": "signed durable echo", "hotline": "hotline notify->ack"}


# -- measuring ---------------------------------------------------------------------


def quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 and p999 of ``samples``."""
    ordered = sorted(samples)
    return statistics.median(ordered), quantile(ordered, 0.99), quantile(ordered, 0.999)


#: stretches of time, (start, end), in order and never overlapping
Spans = list[tuple[float, float]]


def overlap(spans: Spans, ends: list[float], begin: float, end: float) -> float:
    """How much of [``begin``, ``end``] the ``spans`` (with their ``ends``) cover."""
    covered = 0.0
    for start, stop in spans[bisect.bisect_right(ends, begin) :]:
        if start >= end:
            break
        covered += min(stop, end) - max(start, begin)
    return covered


@dataclass
class LoopWatch:
    """How late the event loop wakes a 1 ms sleeper, and what ran meanwhile: the
    collector's pauses, the posts' handling of each message, the calls into a post."""

    #: (woke, how late, this process's CPU seconds since the sleep began)
    lags: list[tuple[float, float, float]] = field(default_factory=list)
    pauses: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, gen
    handling: Spans = field(default_factory=list)  # a post's handler, one batch each
    calls: Spans = field(default_factory=list)  # notify() and acknowledge()
    _collecting: float = 0.0

    async def watch(self) -> None:
        while True:
            before, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(TICK)
            woke = time.perf_counter()
            self.lags.append((woke, woke - before - TICK, time.process_time() - cpu))

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collecting = time.perf_counter()
        else:
            self.pauses.append((self._collecting, time.perf_counter(), info["generation"]))


class Clocked:
    """Times hotline's own work on the event loop, while a `LoopWatch` is on."""

    def __init__(self) -> None:
        self.watch: LoopWatch | None = None

    def handler(self, post: Station) -> None:
        """Time each batch ``post`` handles (verify, take, commit, answer, publish)."""
        inner = post.link.handler

        def timed(batch: Sequence[tuple[str, bytes]]) -> None:
            start = time.perf_counter()
            try:
                inner(batch)
            finally:
                if self.watch is not None:
                    self.watch.handling.append((start, time.perf_counter()))

        post.link.handler = timed

    def call(self, start: float) -> None:
        if self.watch is not None:
            self.watch.calls.append((start, time.perf_counter()))


@contextlib.asynccontextmanager
async def watching(clocked: Clocked | None = None) -> AsyncIterator[LoopWatch]:
    watch = LoopWatch()
    task = asyncio.create_task(watch.watch())
    gc.callbacks.append(watch.on_gc)
    if clocked is not None:
        clocked.watch = watch
    try:
        yield watch
    finally:
        if clocked is not None:
            clocked.watch = None
        gc.callbacks.remove(watch.on_gc)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Paced:
    """One paced run: per trip its scheduled time, its send and its end."""

    rate: float
    trips: list[tuple[float, float, float]]  # (due, sent, ended), in order of ending
    seconds: float
    cpu: float
    watch: LoopWatch

    @property
    def latencies(self) -> list[float]:
        return [ended - sent for _, sent, ended in self.trips]

    @property
    def from_schedule(self) -> list[float]:
        return [ended - due for due, _, ended in self.trips]

    @property
    def lateness(self) -> list[float]:
        return [sent - due for due, sent, _ in self.trips]


async def paced(
    trip: Trip, count: int, rate: float, seconds: float, clocked: Clocked | None = None
) -> Paced:
    """At most ``count`` trips, trip i sent at start + i / ``rate``, none scheduled after
    ``seconds``; the loop's lag and the collector watched throughout."""
    records: list[tuple[float, float, float]] = []
    running: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        sent = time.perf_counter()
        await trip()
        records.append((due, sent, time.perf_counter()))

    async with watching(clocked) as watch:
        cpu = time.process_time()
        start = time.perf_counter() + 0.01
        for index in range(count):
            due = start + index / rate
            if due > start + seconds:
                break
            # a late send goes at once and is counted (its lateness is recorded): the
            # schedule never shifts, and nothing waits to go out with another
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(due))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    return Paced(rate, records, elapsed, cpu, watch)


@dataclass
class Stalls:
    """Where a paced run's loop stalls fell, and which trips they delayed."""

    count: int  # wake-ups later than STALL
    seconds: float  # the time they stood still, together
    handling: float  # shares of that time spent in a post's message handler,
    calls: float  # in notify() or acknowledge(),
    collecting: float  # in the garbage collector,
    off_cpu: float  # and with this process off the CPU (descheduled, or in a system call)
    slow: int  # trips at or above the run's p99
    slow_stalled: int  # of which a stall overlapped
    share: float  # median over those slow trips of stall time / their latency above p50
    stalled_trips: float  # share of all trips a stall overlapped


def stalls_of(run: Paced) -> Stalls:
    """Attribute the stalls of ``run``, and see whether its slowest trips met them."""
    watch = run.watch
    # a wake-up's lateness is the stall; the sleep before it was the watcher's own
    stalls = [(woke - lag, woke, cpu) for woke, lag, cpu in watch.lags if lag >= STALL]
    spans = {
        "handling": watch.handling,
        "calls": watch.calls,
        "collecting": [(start, end) for start, end, _ in watch.pauses],
    }
    ends = {name: [end for _, end in found] for name, found in spans.items()}
    total = sum(end - begin for begin, end, _ in stalls)
    shares = {
        name: sum(overlap(found, ends[name], begin, end) for begin, end, _ in stalls)
        / (total or 1.0)
        for name, found in spans.items()
    }
    off_cpu = sum(
        max(0.0, min(end - begin, end - begin + TICK - cpu)) for begin, end, cpu in stalls
    )
    as_spans = [(begin, end) for begin, end, _ in stalls]
    stall_ends = [end for _, end in as_spans]
    p50, p99, _ = percentiles(run.latencies)
    slow = slow_stalled = stalled_trips = 0
    excess: list[float] = []
    for _, sent, ended in run.trips:
        inside = overlap(as_spans, stall_ends, sent, ended)
        stalled_trips += inside > 0
        if ended - sent >= p99:
            slow += 1
            slow_stalled += inside > 0
            above = ended - sent - p50
            excess.append(min(1.0, inside / above) if above > 0 else 0.0)
    return Stalls(
        len(stalls),
        total,
        shares["handling"],
        shares["calls"],
        shares["collecting"],
        off_cpu / (total or 1.0),
        slow,
        slow_stalled,
        statistics.median(excess) if excess else 0.0,
        stalled_trips / len(run.trips),
    )


def rss() -> int | None:
    """This process's resident memory in bytes, where /proc tells it."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


# -- the rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Parties:
    """Two parties on the air line, with stations of their own (``tag``): pairs of
    posts on one broker never share an inbox."""

    doctrine: Doctrine
    keyring: Keyring
    keys: dict[str, StationKey]

    @classmethod
    def make(cls, tag: str) -> Parties:
        stations = {"US": f"US-CAOC-{tag}", "RU": f"RU-HMEIMIM-{tag}"}
        doctrine = doctrine_with({"channels": {"air": {"fallback": "none", "stations": stations}}})
        keys = {
            party: StationKey(hashlib.sha256(station.encode()).digest(), station)
            for party, station in stations.items()
        }
        keyring = Keyring(
            TrustedKey(
                public_key=key.public_key,
                party=party,
                station=key.station,
                channels=frozenset({Channel.AIR}),
            )
            for party, key in keys.items()
        )
        return cls(doctrine, keyring, keys)


class Durable:
    """One end of the signed echo: hotline's signing, its signature check, one commit."""

    def __init__(self, key: StationKey, keyring: Keyring, path: Path) -> None:
        self.key, self.keyring = key, keyring
        self.db = connect(path)  # hotline's own settings: WAL, its synchronous level
        self.db.execute("CREATE TABLE IF NOT EXISTS taken (number INTEGER PRIMARY KEY, data BLOB)")

    def seal(self, envelope: bytes) -> bytes:
        return self.key.sign_bytes(envelope)

    def take(self, data: bytes) -> bytes:
        """Check ``data`` as hotline checks a message, keep it; its envelope bytes."""
        parts = split_signed(data)
        trusted = self.keyring.lookup(parts.key_id)
        check_signature(trusted.public_key, parts)
        with transaction(self.db):
            self.db.execute("INSERT INTO taken (data) VALUES (?)", (data,))
        return parts.envelope_bytes


@contextlib.asynccontextmanager
async def echo_row(broker: Mosquitto, name: str, directory: Path | None) -> AsyncIterator[Echo]:
    """The raw echo; signed and durable when given a ``directory`` for its files."""
    ends = None
    if directory is not None:
        parties = Parties.make(name)
        ends = (
            Durable(parties.keys["US"], parties.keyring, directory / f"{name}-requester.db"),
            Durable(parties.keys["RU"], parties.keyring, directory / f"{name}-echo.db"),
        )
    try:
        async with echo_pair(name, broker.port, ends, TRIP_TIMEOUT) as pair:
            yield pair
    finally:
        for end in ends or ():
            end.db.close()


@dataclass(frozen=True)
class Bench:
    """Where the posts run: the broker, a directory for their files, their store."""

    broker: Mosquitto
    directory: Path
    store: str  # "file" or "memory"
    seconds: float  # the most any one run or wait may take


def station(bench: Bench, parties: Parties, party: str, tag: str) -> Station:
    return Station(
        party=party,
        keys=[parties.keys[party]],
        keyring=parties.keyring,
        doctrine=parties.doctrine,
        broker=bench.broker.url,
        store=bench.directory / f"{tag}-{party}.db" if bench.store == "file" else ":memory:",
        client_id=f"bench-{tag}-{party}",
        # the broker would otherwise keep each post's session, and queue for it, after
        # the benchmark is done with it
        forget_session=True,
    )


@contextlib.asynccontextmanager
async def posts(bench: Bench, tag: str) -> AsyncIterator[tuple[Station, Station]]:
    """Two posts, US and RU, on stations of their own (``tag``)."""
    parties = Parties.make(tag)
    async with (
        station(bench, parties, "US", tag) as us,
        station(bench, parties, "RU", tag) as ru,
    ):
        yield us, ru


@contextlib.asynccontextmanager
async def running(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """``work`` as a task for the length of the block, cancelled at its end."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def reading(post: Station) -> contextlib.AbstractAsyncContextManager[None]:
    """Read ``post``'s events, as an application does, answering none: an originator's
    events (each message it receives) would otherwise pile up in its queue."""
    return running(drained(post))


def acknowledging(
    post: Station, clocked: Clocked | None = None
) -> contextlib.AbstractAsyncContextManager[None]:
    """``post`` acknowledges every notice it receives, as soon as it comes."""

    async def answer() -> None:
        async for event in post.events():
            if isinstance(event, NoticeReceived):
                start = time.perf_counter()
                await post.acknowledge(event.incident.id, channel=Channel.AIR)
                if clocked is not None:
                    clocked.call(start)

    return running(answer())


async def notify(post: Station) -> str:
    """Send a FLASH notice on the air line; its incident id."""
    handle = await post.notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
    )
    return handle.id


def notify_ack(post: Station, clocked: Clocked | None = None) -> Trip:
    """One incident from ``post``, notified and acknowledged."""

    async def trip() -> None:
        start = time.perf_counter()
        incident = await post.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
        )
        if clocked is not None:
            clocked.call(start)
        outcome = await incident.outcome(timeout=TRIP_TIMEOUT)
        if outcome != "acknowledged":
            raise BenchmarkFailed(f"incident {incident.id} ended {outcome}")

    return trip


# -- the comparison ----------------------------------------------------------------


@dataclass
class Comparison:
    sequential: dict[str, list[Run]]
    saturation: dict[str, list[Run]]
    paced: list[Paced]
    idle: LoopWatch  # the watcher on a loop with nothing else to do, for scale
    returned: dict[str, int]

    def best(self, row: str) -> float:
        return max(run.rate for run in self.saturation[row])


async def compare(args: argparse.Namespace, broker: Mosquitto, directory: Path) -> Comparison:
    sequential: dict[str, list[Run]] = {row: [] for row in ROWS}
    saturation: dict[str, list[Run]] = {row: [] for row in ROWS}
    clocked = Clocked()
    async with (
        echo_row(broker, "raw", None) as raw,
        echo_row(broker, "signed", directory) as signed,
        posts(Bench(broker, directory, args.store, args.seconds), "main") as (us, ru),
        acknowledging(ru, clocked),
        reading(us),
    ):
        clocked.handler(us)
        clocked.handler(ru)
        trips = {"raw": raw.trip, "signed": signed.trip, "hotline": notify_ack(us, clocked)}
        async with watching() as idle:
            await asyncio.sleep(0.5)
        for trip in trips.values():
            await closed_loop(trip, 200, 1, args.seconds)  # warm up
            await closed_loop(trip, 200, args.window, args.seconds)
        for _ in range(args.rounds):
            for row, trip in trips.items():
                sequential[row].append(await closed_loop(trip, args.trips, 1, args.seconds))
                saturation[row].append(
                    await closed_loop(trip, args.trips, args.window, args.seconds)
                )
        rate = max(run.rate for run in saturation["hotline"]) / 2
        runs = [
            await paced(trips["hotline"], args.paced_trips, rate, args.seconds, clocked)
            for _ in range(args.rounds)
        ]
        raw.check()
        signed.check()
        returned = {"raw": raw.returned, "signed": signed.returned}
    return Comparison(sequential, saturation, runs, idle, returned)


def report_comparison(args: argparse.Namespace, result: Comparison) -> None:
    """Print the rows, the paced rounds and the headlines."""
    print(
        f"{'round':<6}{'row':<21}{'seq p50 ms':>11}{'seq p99 ms':>11}{'saturated trips/s':>19}"
        f"{'CPU us/trip':>13}"
    )
    for index in range(args.rounds):
        for row in ROWS:
            _, p99, _ = percentiles(result.sequential[row][index].latencies)
            p50 = statistics.median(result.sequential[row][index].latencies)
            run = result.saturation[row][index]
            print(
                f"{index + 1:<6}{LABELS[row]:<21}{p50 * 1e3:>11.3f}{p99 * 1e3:>11.3f}"
                f"{run.rate:>19,.0f}{run.cpu_per_trip * 1e6:>13,.0f}"
            )
    seq_p50: dict[str, float] = {}
    for row in ROWS:
        pooled = [x for run in result.sequential[row] for x in run.latencies]
        p50, p99, _ = percentiles(pooled)
        seq_p50[row] = p50
        cpu = min(run.cpu_per_trip for run in result.saturation[row])
        print(
            f"{'all':<6}{LABELS[row]:<21}{p50 * 1e3:>11.3f}{p99 * 1e3:>11.3f}"
            f"{result.best(row):>19,.0f}{cpu * 1e6:>13,.0f}  (best; least CPU)"
        )
    rate = result.paced[0].rate
    print(
        f"\nhotline paced at half its best saturation rate, {rate:,.0f} trips/s, at most "
        f"{args.paced_trips:,} trips or {args.seconds:g} s a round; latency from send to "
        "outcome (p99 from schedule beside it); lag: how late the 1 ms watcher woke"
    )
    print(
        f"{'round':<6}{'trips':>6}{'p50 ms':>8}{'p99 ms':>8}{'p999 ms':>9}{'max ms':>8}"
        f"{'sched p99':>10}{'late':>6}{'latest ms':>10}{'lag p99':>8}{'lag max':>8}"
        f"{'stalls':>7}{'gc2':>4}{'gc max':>7}{'CPU %':>6}  slowest 1%: with a stall, "
        "stall share of excess"
    )
    columns: list[tuple[float, float, float]] = []
    for index, rounds in enumerate(result.paced):
        p50, p99, p999 = percentiles(rounds.latencies)
        columns.append((p50, p99, p999))
        _, sched99, _ = percentiles(rounds.from_schedule)
        lateness = rounds.lateness
        late = sum(value > LATE for value in lateness)
        lags = sorted(lag for _, lag, _ in rounds.watch.lags)
        full = [end - start for start, end, gen in rounds.watch.pauses if gen == 2]
        pause = max((end - start for start, end, _ in rounds.watch.pauses), default=0.0)
        seen = stalls_of(rounds)
        print(
            f"{index + 1:<6}{len(rounds.trips):>6}{p50 * 1e3:>8.2f}{p99 * 1e3:>8.2f}"
            f"{p999 * 1e3:>9.2f}{max(rounds.latencies) * 1e3:>8.1f}{sched99 * 1e3:>10.2f}"
            f"{late:>6}{max(lateness) * 1e3:>10.2f}{quantile(lags, 0.99) * 1e3:>8.2f}"
            f"{lags[-1] * 1e3:>8.1f}{seen.count:>7}{len(full):>4}{pause * 1e3:>7.1f}"
            f"{rounds.cpu / rounds.seconds * 100:>6.0f}  {seen.slow_stalled}/{seen.slow}, "
            f"{seen.share:.0%}"
        )
        if seen.count:
            print(
                f"      {seen.count} stalls, {seen.seconds * 1e3:.1f} ms together: "
                f"{seen.handling:.0%} in a post's handler, {seen.calls:.0%} in notify() or "
                f"acknowledge(), {seen.collecting:.0%} collecting garbage, {seen.off_cpu:.0%} "
                f"off the CPU; {seen.stalled_trips:.0%} of trips met one"
            )
        if late:
            behind = sum(value > 1 / rate for value in lateness)
            print(
                f"      the pacer fell behind: {late} of {len(lateness)} sends more than "
                f"{LATE * 1e3:g} ms late, {behind} by more than one interval "
                f"({1e3 / rate:.2f} ms), at most {max(lateness) * 1e3:.2f} ms"
            )
    p50, p99, p999 = (statistics.median(column[i] for column in columns) for i in range(3))
    idle = sorted(lag for _, lag, _ in result.idle.lags)
    print(
        f"{'median':<6}{'':>6}{p50 * 1e3:>8.2f}{p99 * 1e3:>8.2f}{p999 * 1e3:>9.2f}"
        f"   (idle loop, before the rounds: lag p99 {quantile(idle, 0.99) * 1e3:.2f} ms, "
        f"max {idle[-1] * 1e3:.2f} ms)"
    )
    print(
        "sequential p50 ms: "
        + ", ".join(f"{LABELS[row]} {seq_p50[row] * 1e3:.3f}" for row in ROWS)
        + f"; hotline's paced p50 / its sequential p50: {p50 / seq_p50['hotline']:.2f}"
    )
    print(
        f"every echo came back as sent: raw {result.returned['raw']:,}, signed "
        f"{result.returned['signed']:,}"
    )
    best = {row: result.best(row) for row in ROWS}
    print(f"RESULT live_throughput_ratio {best['hotline'] / best['raw']:.3f} ratio")
    print(f"RESULT live_vs_signed_echo_ratio {best['hotline'] / best['signed']:.3f} ratio")
    print(f"RESULT live_p50_at_half_saturation {p50 * 1e3:.2f} ms")
    print(f"RESULT live_p99_at_half_saturation {p99 * 1e3:.2f} ms")
    print(f"RESULT live_p999_at_half_saturation {p999 * 1e3:.2f} ms")


# -- scale -------------------------------------------------------------------------


@dataclass
class OpenIncidents:
    """A thousand incidents opened at once, then all answered."""

    count: int
    calls: float  # seconds for the notify() calls
    delivered: list[float]  # per notice: from its notify() to the responder's taking it
    delivering: float  # seconds from the first notify() to the last notice taken
    answer_calls: float  # seconds for the acknowledge() calls
    answered: list[float]  # per incident: from acknowledge() to the originator's close
    answering: float  # seconds from the first acknowledge() to the last close
    rss: int | None  # resident memory gained while all were open (both posts)


class Taken:
    """Times at which a post took each opening notice, or closed each incident."""

    def __init__(self, expected: int) -> None:
        self.at: dict[str, float] = {}
        self.expected = expected
        self.all = asyncio.Event()

    def notices(self, _: str, __: bytes, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, NoticeReceived):
                self._add(event.incident.id)

    def closes(self, _: str, __: bytes, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Closed):
                self._add(event.incident)

    def _add(self, incident: str) -> None:
        self.at.setdefault(incident, time.perf_counter())
        if len(self.at) >= self.expected:
            self.all.set()

    async def wait(self, seconds: float, what: str) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self.all.wait()
        except TimeoutError:
            raise BenchmarkFailed(f"{what}: {len(self.at)} of {self.expected} in time") from None


async def drained(post: Station) -> None:
    """Read ``post``'s events, as an application does, without answering any."""
    async for _ in post.events():
        pass


async def open_incidents(bench: Bench, count: int) -> OpenIncidents:
    seconds = bench.seconds
    async with posts(bench, "open") as (us, ru):
        taken, closed = Taken(count), Taken(count)
        ru.on_received, us.on_received = taken.notices, closed.closes
        reader = asyncio.create_task(drained(ru))
        try:
            await asyncio.sleep(0.1)
            gc.collect()
            memory = rss()
            notified: dict[str, float] = {}
            start = time.perf_counter()
            for _ in range(count):
                begun = time.perf_counter()
                notified[await notify(us)] = begun
            calls = time.perf_counter() - start
            await taken.wait(seconds, "notices taken")
            if not await us.flushed(seconds):
                raise BenchmarkFailed("the broker did not confirm every notice")
            gc.collect()
            after = rss()
            if any(not us.handle(incident).incident.is_open for incident in notified):
                raise BenchmarkFailed("an incident closed before it was answered")
            answered: dict[str, float] = {}
            first = time.perf_counter()
            for incident in taken.at:
                answered[incident] = time.perf_counter()
                await ru.acknowledge(incident, channel=Channel.AIR)
            answer_calls = time.perf_counter() - first
            await closed.wait(seconds, "incidents closed")
            outcomes = {us.handle(incident).incident.outcome for incident in notified}
            if outcomes != {"acknowledged"}:
                raise BenchmarkFailed(f"outcomes {outcomes}")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    return OpenIncidents(
        count,
        calls,
        [taken.at[i] - notified[i] for i in notified],
        max(taken.at.values()) - start,
        answer_calls,
        [closed.at[i] - answered[i] for i in notified],
        max(closed.at.values()) - first,
        None if memory is None or after is None else after - memory,
    )


async def traced_memory(bench: Bench, count: int) -> tuple[float, float]:
    """Bytes of Python memory per open incident: the originator post alone (nobody
    answers, nobody takes its notices), and the responder post (its notices taken)."""
    parties, seconds = Parties.make("memory"), bench.seconds
    traced: list[int] = []

    def measure() -> None:
        gc.collect()
        traced.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    try:
        async with station(bench, parties, "US", "memory") as us:
            measure()
            for _ in range(count):
                await notify(us)
            if not await us.flushed(seconds):
                raise BenchmarkFailed("the broker did not confirm every notice")
            measure()  # the originator's views, its outbox confirmed and emptied
            async with station(bench, parties, "RU", "memory") as ru:
                taken = Taken(count)
                ru.on_received = taken.notices
                reader = asyncio.create_task(drained(ru))
                await asyncio.sleep(0.1)  # subscribed: the notices from now on reach it
                measure()
                for _ in range(count):
                    await notify(us)
                await taken.wait(seconds, "notices taken")
                if not await ru.flushed(seconds) or not await us.flushed(seconds):
                    raise BenchmarkFailed("the broker did not confirm every message")
                measure()  # both posts: another set of originator views, and RU's
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    finally:
        tracemalloc.stop()
    originator = (traced[1] - traced[0]) / count
    responder = (traced[3] - traced[2]) / count - originator
    return originator, responder


async def many_posts(bench: Bench, pairs: int, trips: int) -> tuple[Run, float]:
    """``pairs`` pairs of posts, each doing ``trips`` round trips one at a time, all
    pairs at once: the aggregate run, and how long the posts took to start."""
    async with contextlib.AsyncExitStack() as stack:
        started = time.perf_counter()
        senders: list[Trip] = []
        for index in range(pairs):
            us, ru = await stack.enter_async_context(posts(bench, f"pair{index:02d}"))
            await stack.enter_async_context(acknowledging(ru))
            await stack.enter_async_context(reading(us))
            senders.append(notify_ack(us))
        starting = time.perf_counter() - started
        seconds = bench.seconds
        await asyncio.gather(*(closed_loop(trip, 5, 1, seconds) for trip in senders))
        cpu = time.process_time()
        start = time.perf_counter()
        runs = await asyncio.gather(*(closed_loop(trip, trips, 1, seconds) for trip in senders))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Run(elapsed, [x for run in runs for x in run.latencies], cpu), starting


def report_scale(
    args: argparse.Namespace,
    opened: OpenIncidents,
    memory: tuple[float, float],
    fifty: tuple[Run, float],
    best: float,
) -> None:
    count = opened.count
    print(
        f"\nscale: {count:,} incidents open at once on one post, then all answered; "
        f"{2 * args.pairs} posts ({args.pairs} pairs, at most {args.pair_trips} trips or "
        f"{args.seconds:g} s each, one at a time per pair, all pairs at once)"
    )
    print(f"{'':<46}{'per second':>11}{'p50 ms':>9}{'p99 ms':>9}{'p999 ms':>9}{'max ms':>9}")

    def line(label: str, rate: float, samples: list[float] | None = None) -> None:
        text = f"{label:<46}{rate:>11,.0f}"
        if samples:
            p50, p99, p999 = percentiles(samples)
            text += "".join(f"{v * 1e3:>9.1f}" for v in (p50, p99, p999, max(samples)))
        print(text)

    line(f"notify() calls, {count:,} back to back", count / opened.calls)
    line("notices taken by the responder", count / opened.delivering, opened.delivered)
    line("acknowledge() calls", count / opened.answer_calls)
    line("incidents closed at the originator", count / opened.answering, opened.answered)
    run, starting = fifty
    line(f"{2 * args.pairs} posts: round trips, all pairs together", run.rate, run.latencies)
    originator, responder = memory
    resident = "" if opened.rss is None else f"; RSS gained, both posts: {opened.rss / count:,.0f}"
    print(
        f"memory per open incident (tracemalloc, bytes): originator post {originator:,.0f}, "
        f"responder post {responder:,.0f}{resident}"
    )
    print(
        f"{2 * args.pairs} posts: {run.rate / best:.2f} of two posts' best saturated rate "
        f"({best:,.0f}/s, {args.window} in flight; here {args.pairs}); CPU "
        f"{run.cpu_per_trip * 1e6:,.0f} us/trip; the posts took {starting:.1f} s to start"
    )
    print(f"RESULT live_memory_per_open_incident {originator / 1024:.2f} KiB")
    print(f"RESULT live_fifty_posts_throughput {run.rate:.0f} trips/s")


# -- main --------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hotline-live-bench-") as name:
        directory = Path(name)
        broker = Mosquitto(directory / "broker")
        broker.start()
        try:
            comparison = await compare(args, broker, directory)
            build = "compiled with mypyc" if hotline.COMPILED else "pure Python"
            print(
                f"hotline {hotline.__version__}, {build}; private mosquitto; stores: "
                f"{'SQLite files' if args.store == 'file' else 'in memory'} ({journal_mode()}); "
                f"{args.rounds} rounds of at most {args.trips:,} trips or {args.seconds:g} s; "
                f"{PAYLOAD}-byte messages; {args.window} in flight saturated; load average "
                f"{load:.2f} before, {os.getloadavg()[0]:.2f} after"
            )
            report_comparison(args, comparison)
            if args.scale:
                bench = Bench(broker, directory, args.store, args.seconds)
                opened = await open_incidents(bench, args.incidents)
                fifty = await many_posts(bench, args.pairs, args.pair_trips)
                memory = await traced_memory(bench, args.incidents)
                report_scale(args, opened, memory, fifty, comparison.best("hotline"))
        finally:
            broker.stop()


def journal_mode() -> str:
    """What `hotline.sqlite.connect` sets, read back from a file it opens."""
    with tempfile.TemporaryDirectory() as name:
        db = connect(Path(name) / "probe.db")
        try:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            level = db.execute("PRAGMA synchronous").fetchone()[0]
        finally:
            db.close()
    levels: dict[Any, str] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={mode}, synchronous={levels.get(level, level)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=1000, help="at most this many per run")
    parser.add_argument("--window", type=int, default=32, help="trips in flight, saturated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long per run")
    parser.add_argument("--paced-trips", type=int, default=4000, help="at most, per paced round")
    parser.add_argument("--store", choices=("file", "memory"), default="file")
    parser.add_argument("--scale", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--incidents", type=int, default=1000, help="open at once (scale)")
    parser.add_argument("--pairs", type=int, default=25, help="pairs of posts (scale)")
    parser.add_argument("--pair-trips", type=int, default=100, help="per pair (scale)")
    args = parser.parse_args()
    numbers = (args.trips, args.window, args.rounds, args.paced_trips, args.incidents)
    if min(*numbers, args.pairs, args.pair_trips) < 1 or not args.seconds > 0:
        parser.error("counts and --seconds must be positive")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
