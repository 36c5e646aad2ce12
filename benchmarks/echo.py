"""The QoS 1 echo that benchmarks/live.py and benchmarks/proxy.py measure against, and
the closed loop that drives round trips.

A requester publishes a payload on ``bench/NAME/request/N`` and waits for it to come
back; an echo client publishes each request back on ``bench/NAME/reply/N`` as soon as it
sees it, without waiting for the previous reply's PUBACK (as a post answers). Every
reply is checked byte for byte against its request, and the books say what went astray.
With ``ends``, each hop is sealed by its sender and taken by its receiver (the signed
durable echo of benchmarks/live.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import aiomqtt

from hotline.live.mqtt import NO_DELAY

PAYLOAD = 300  # bytes on the wire: about a signed notice (232) or ack


#: one round trip, returning when it is complete
Trip = Callable[[], Awaitable[object]]


class BenchmarkFailed(Exception):
    """A message did not come back as sent, or in time."""


@dataclass
class Run:
    """One closed-loop run: how long it took, each trip's latency, the CPU it used."""

    seconds: float
    latencies: list[float]
    cpu: float  # this process's CPU seconds (both ends of every row live in it)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_per_trip(self) -> float:
        return self.cpu / len(self.latencies)

    def percentiles(self) -> tuple[float, float]:
        """The median and the p99 latency."""
        ordered = sorted(self.latencies)
        return statistics.median(ordered), ordered[round(0.99 * (len(ordered) - 1))]


async def closed_loop(trip: Trip, count: int, window: int, seconds: float) -> Run:
    """At most ``count`` trips, ``window`` at a time, none started after ``seconds``."""
    latencies: list[float] = []
    started = 0
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal started
        while started < count and time.perf_counter() < deadline:
            started += 1
            begun = time.perf_counter()
            await trip()
            latencies.append(time.perf_counter() - begun)

    await asyncio.gather(*(worker() for _ in range(window)))
    return Run(time.perf_counter() - start, latencies, time.process_time() - cpu)


class End(Protocol):
    """One end of a sealed echo: what a sender does to a body, and a receiver to what
    arrives (giving the body back, or raising)."""

    def seal(self, body: bytes) -> bytes: ...

    def take(self, data: bytes) -> bytes: ...


class Echo:
    """A requester and an echo client on one broker, and their books."""

    def __init__(
        self,
        name: str,
        requester: aiomqtt.Client,
        echo: aiomqtt.Client,
        ends: tuple[End, End] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name, self.prefix, self.timeout = name, f"bench/{name}", timeout
        self.requester, self.echo, self.ends = requester, echo, ends
        # a sealed body travels as a message of the raw payload's size
        self.body = PAYLOAD - (len(ends[0].seal(b"")) if ends else 0)
        self.sent = 0  # requests published
        self.echoed = 0  # requests the echo client saw
        self.returned = 0  # replies back, as sent
        self.strays: list[str] = []  # replies nobody was waiting for (or twice)
        self.pending: dict[str, tuple[bytes, asyncio.Future[None]]] = {}
        self.replies: set[asyncio.Task[None]] = set()
        self._numbers = iter(range(10**9))

    async def trip(self) -> float:
        """One request and its reply: the latency in seconds."""
        number = str(next(self._numbers))
        # the trip's number at its head: a reply crossed with another's shows
        body = number.encode().ljust(self.body, b".")
        done = asyncio.get_running_loop().create_future()
        self.pending[number] = (body, done)
        start = time.perf_counter()
        self.sent += 1
        data = self.ends[0].seal(body) if self.ends else body
        await self.requester.publish(f"{self.prefix}/request/{number}", data, qos=1)
        try:
            await asyncio.wait_for(done, self.timeout)
        except TimeoutError:
            raise BenchmarkFailed(
                f"{self.name}: request {number} did not come back within {self.timeout:g} s"
            ) from None
        return time.perf_counter() - start

    async def echoing(self) -> None:
        async for message in self.echo.messages:
            self.echoed += 1
            assert isinstance(message.payload, bytes)
            data = message.payload
            if self.ends:
                data = self.ends[1].seal(self.ends[1].take(data))
            number = message.topic.value.rsplit("/", 1)[1]
            reply = asyncio.create_task(
                self.echo.publish(f"{self.prefix}/reply/{number}", data, qos=1)
            )
            self.replies.add(reply)
            reply.add_done_callback(self.replies.discard)

    async def collecting(self) -> None:
        async for message in self.requester.messages:
            assert isinstance(message.payload, bytes)
            number = message.topic.value.rsplit("/", 1)[1]
            entry = self.pending.pop(number, None)
            if entry is None:
                self.strays.append(number)
                continue
            body, done = entry
            try:
                got = self.ends[0].take(message.payload) if self.ends else message.payload
            except Exception as exc:
                done.set_exception(exc)
                continue
            if got != body:
                done.set_exception(BenchmarkFailed(f"{self.name}: reply {number} is not as sent"))
                continue
            self.returned += 1
            done.set_result(None)

    def check(self) -> None:
        """Every request came back, once, as sent."""
        if self.pending or self.strays or self.returned != self.sent or self.echoed != self.sent:
            raise BenchmarkFailed(
                f"{self.name}: {self.sent} requests sent, {self.echoed} seen by the echo, "
                f"{self.returned} came back, {len(self.pending)} still out, replies never "
                f"asked for or twice: {self.strays[:5]}"
            )


@contextlib.asynccontextmanager
async def echo_pair(
    name: str, port: int, ends: tuple[End, End] | None = None, timeout: float = 10.0
) -> AsyncIterator[Echo]:
    """A requester and an echo client on 127.0.0.1:``port``, subscribed and echoing."""
    # a saturation run keeps many publishes pending on purpose: aiomqtt would warn of each
    quiet = logging.getLogger(f"benchmarks.echo.{name}")
    quiet.setLevel(logging.ERROR)

    def client(role: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            "127.0.0.1",
            port,
            identifier=f"bench-{name}-{role}",
            socket_options=NO_DELAY,
            logger=quiet,
        )

    async with client("requester") as requester, client("echo") as echo:
        pair = Echo(name, requester, echo, ends, timeout)
        await requester.subscribe(f"{pair.prefix}/reply/#", qos=1)
        await echo.subscribe(f"{pair.prefix}/request/#", qos=1)
        tasks = [asyncio.create_task(pair.echoing()), asyncio.create_task(pair.collecting())]
        try:
            yield pair
        finally:
            for task in [*tasks, *pair.replies]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
