"""Live round trips through a private mosquitto, against a raw aiomqtt echo, same run.

    python benchmarks/live.py [--trips N] [--window W] [--rounds R]

hotline:  a post notifies (signed FLASH notice), the other acknowledges (signed ack):
          one incident = one round trip, measured from notify() to the outcome.
raw:      an aiomqtt client publishes a payload of the same size (QoS 1) and an echo
          client publishes it back (QoS 1): the same two hops, no protocol.

Both run sequentially (latency) and with W round trips in flight (saturation), taking
turns for R rounds so that the machine's swings in speed fall on both alike; the ratio
compares each one's best saturation throughput, as codec.py compares best rounds. Then
hotline runs R rounds paced at half its saturation rate, and the median of their p99
latencies is the second headline. Loopback only; bounded counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiomqtt

import hotline
from hotline.core.channels import Doctrine
from hotline.core.events import NoticeReceived
from hotline.core.incident import Notice
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Precedence
from hotline.core.signing import StationKey
from hotline.doctrine import doctrine_with
from hotline.live.mqtt import NO_DELAY
from hotline.live.station import Station
from hotline.testing import Mosquitto

PAYLOAD = 300  # bytes: about the size of a signed notice

#: one round trip; returns its latency in seconds
Trip = Callable[[], Awaitable[float]]


def setup() -> tuple[Doctrine, Keyring, dict[str, StationKey]]:
    doctrine = doctrine_with(
        {
            "channels": {
                "air": {"fallback": "none", "stations": {"US": "US-CAOC", "RU": "RU-HMEIMIM"}}
            }
        }
    )
    keys = {
        p: StationKey(bytes([i]) * 32, s)
        for i, (p, s) in enumerate((("US", "US-CAOC"), ("RU", "RU-HMEIMIM")))
    }
    keyring = Keyring(
        TrustedKey(
            public_key=k.public_key, party=p, station=k.station, channels=frozenset({Channel.AIR})
        )
        for p, k in keys.items()
    )
    return doctrine, keyring, keys


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[
        min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))
    ]


async def drive(
    trip: Trip, count: int, window: int, rate: float | None = None
) -> tuple[float, list[float]]:
    """Run ``count`` round trips, ``window`` at a time (or paced at ``rate`` per second)."""
    latencies: list[float] = []
    limit = asyncio.Semaphore(window)

    async def one() -> None:
        async with limit:
            latencies.append(await trip())

    start = time.perf_counter()
    tasks = []
    for index in range(count):
        if rate is not None:
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start, latencies


@contextlib.asynccontextmanager
async def hotline_pair(broker: Mosquitto) -> AsyncIterator[Trip]:
    """Two posts on the broker, RU acknowledging every notice: yields one round trip."""
    doctrine, keyring, keys = setup()
    async with (
        Station(
            party="US", keys=[keys["US"]], keyring=keyring, doctrine=doctrine, broker=broker.url
        ) as us,
        Station(
            party="RU", keys=[keys["RU"]], keyring=keyring, doctrine=doctrine, broker=broker.url
        ) as ru,
    ):

        async def answer() -> None:
            async for event in ru.events():
                if isinstance(event, NoticeReceived):
                    await ru.acknowledge(event.incident.id, channel=Channel.AIR)

        responder = asyncio.create_task(answer())

        async def trip() -> float:
            start = time.perf_counter()
            incident = await us.notify(
                channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="flight")
            )
            outcome = await incident.outcome(timeout=30)
            assert outcome == "acknowledged"
            return time.perf_counter() - start

        yield trip
        responder.cancel()


@contextlib.asynccontextmanager
async def raw_pair(broker: Mosquitto) -> AsyncIterator[Trip]:
    """A requester and an echo client on the broker: yields one round trip."""
    # a saturation run keeps many publishes pending on purpose: aiomqtt would warn of each
    quiet = logging.getLogger("benchmarks.raw")
    quiet.setLevel(logging.ERROR)
    async with (
        aiomqtt.Client(
            "127.0.0.1",
            broker.port,
            identifier="bench-req",
            socket_options=NO_DELAY,
            logger=quiet,
        ) as requester,
        aiomqtt.Client(
            "127.0.0.1",
            broker.port,
            identifier="bench-echo",
            socket_options=NO_DELAY,
            logger=quiet,
        ) as echo,
    ):
        await requester.subscribe("bench/reply/#", qos=1)
        await echo.subscribe("bench/request/#", qos=1)
        waiting: dict[str, asyncio.Future[None]] = {}

        async def echoing() -> None:
            async for message in echo.messages:
                await echo.publish(
                    f"bench/reply/{message.topic.value.rsplit('/', 1)[1]}", message.payload, qos=1
                )

        async def collecting() -> None:
            async for message in requester.messages:
                waiting.pop(message.topic.value.rsplit("/", 1)[1]).set_result(None)

        tasks = [asyncio.create_task(echoing()), asyncio.create_task(collecting())]
        counter = iter(range(10**9))

        async def trip() -> float:
            name = str(next(counter))
            done = waiting[name] = asyncio.get_running_loop().create_future()
            start = time.perf_counter()
            await requester.publish(f"bench/request/{name}", bytes(PAYLOAD), qos=1)
            await asyncio.wait_for(done, 30)
            return time.perf_counter() - start

        yield trip
        for task in tasks:
            task.cancel()


async def main_async(args: argparse.Namespace) -> None:
    broker = Mosquitto(Path(tempfile.mkdtemp(prefix="hotline-live-bench-")))
    broker.start()
    sequential: dict[str, list[float]] = {"raw": [], "hotline": []}
    saturation = {"raw": 0.0, "hotline": 0.0}
    half_p50: list[float] = []
    half_p99: list[float] = []
    try:
        async with raw_pair(broker) as raw, hotline_pair(broker) as ours:
            trips = {"raw": raw, "hotline": ours}
            for trip in trips.values():
                await drive(trip, 50, 1)  # warm up
            # the variants take turns, round after round, so that this machine's swings
            # in speed fall on both alike; each keeps its best round
            for _ in range(args.rounds):
                for name, trip in trips.items():
                    sequential[name] += (await drive(trip, args.trips, 1))[1]
                    seconds, _ = await drive(trip, args.trips, args.window)
                    saturation[name] = max(saturation[name], args.trips / seconds)
            half = saturation["hotline"] / 2
            for _ in range(args.rounds):
                _, latencies = await drive(ours, args.trips, 10_000, rate=half)
                p50, p99 = percentiles(latencies)
                half_p50.append(p50)
                half_p99.append(p99)
    finally:
        broker.stop()
    build = "compiled with mypyc" if hotline.COMPILED else "pure Python"
    print(
        f"hotline {hotline.__version__}, {build}; private mosquitto; {args.rounds} rounds of "
        f"{args.trips} trips each"
    )
    print(f"{'':<22}{'seq p50 ms':>11}{'seq p99 ms':>11}{'saturated trips/s':>19}")
    for name, label in (("raw", "raw aiomqtt echo"), ("hotline", "hotline notify->ack")):
        p50, p99 = (value * 1e3 for value in percentiles(sequential[name]))
        print(f"{label:<22}{p50:>11.2f}{p99:>11.2f}{saturation[name]:>19,.0f}")
    p50, p99 = statistics.median(half_p50) * 1e3, statistics.median(half_p99) * 1e3
    rounds = ", ".join(f"{value * 1e3:.1f}" for value in half_p99)
    print(
        f"hotline at half saturation ({half:,.0f}/s): p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(median of rounds: {rounds} ms)"
    )
    print(f"RESULT live_throughput_ratio {saturation['hotline'] / saturation['raw']:.3f} ratio")
    print(f"RESULT live_p99_at_half_saturation {p99:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=1000)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
