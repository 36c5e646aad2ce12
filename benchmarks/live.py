"""Live round trips through a private mosquitto, against a raw aiomqtt echo, same run.

    python benchmarks/live.py [--trips N] [--window W]

hotline:  a post notifies (signed FLASH notice), the other acknowledges (signed ack):
          one incident = one round trip, measured from notify() to the outcome.
raw:      an aiomqtt client publishes a payload of the same size (QoS 1) and an echo
          client publishes it back (QoS 1): the same two hops, no protocol.

Both run sequentially (latency) and with W round trips in flight (saturation); the
ratio compares saturation throughput. Then hotline runs paced at half its saturation
rate, and its p99 latency there is the second headline. Loopback only; bounded counts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiomqtt

import hotline
from hotline.client import Station
from hotline.core.channels import Doctrine
from hotline.core.events import NoticeReceived
from hotline.core.incident import Notice
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Precedence
from hotline.core.signing import StationKey
from hotline.doctrine import doctrine_with
from hotline.testing import Mosquitto
from hotline.transport.mqtt import NO_DELAY

PAYLOAD = 300  # bytes: about the size of a signed notice


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
    trip: Callable[[], Awaitable[float]], count: int, window: int, rate: float | None = None
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


async def hotline_trips(broker: Mosquitto, args: argparse.Namespace) -> dict[str, float]:
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

        results = await measure(trip, args)
        responder.cancel()
        return results


async def raw_trips(broker: Mosquitto, args: argparse.Namespace) -> dict[str, float]:
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

        results = await measure(trip, args, paced=False)
        for task in tasks:
            task.cancel()
        return results


async def measure(
    trip: Callable[[], Awaitable[float]], args: argparse.Namespace, paced: bool = True
) -> dict[str, float]:
    await drive(trip, 50, 1)  # warm up
    _, sequential = await drive(trip, args.trips, 1)
    seconds, _ = await drive(trip, args.trips, args.window)
    results = {
        "latency_p50": percentiles(sequential)[0],
        "latency_p99": percentiles(sequential)[1],
        "saturation": args.trips / seconds,
    }
    if paced:
        _, half = await drive(trip, args.trips, 10_000, rate=results["saturation"] / 2)
        results["half_p50"], results["half_p99"] = percentiles(half)
    return results


async def main_async(args: argparse.Namespace) -> None:
    broker = Mosquitto(Path(tempfile.mkdtemp(prefix="hotline-live-bench-")))
    broker.start()
    try:
        raw = await raw_trips(broker, args)
        ours = await hotline_trips(broker, args)
    finally:
        broker.stop()
    build = "compiled with mypyc" if hotline.COMPILED else "pure Python"
    print(f"hotline {hotline.__version__}, {build}; private mosquitto; {args.trips} trips each")
    print(f"{'':<22}{'seq p50 ms':>11}{'seq p99 ms':>11}{'saturated trips/s':>19}")
    for name, result in (("raw aiomqtt echo", raw), ("hotline notify->ack", ours)):
        p50, p99 = result["latency_p50"] * 1e3, result["latency_p99"] * 1e3
        print(f"{name:<22}{p50:>11.2f}{p99:>11.2f}{result['saturation']:>19,.0f}")
    half, p50, p99 = ours["saturation"] / 2, ours["half_p50"] * 1e3, ours["half_p99"] * 1e3
    print(f"hotline at half saturation ({half:,.0f}/s): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"RESULT live_throughput_ratio {ours['saturation'] / raw['saturation']:.3f} ratio")
    print(f"RESULT live_p99_at_half_saturation {ours['half_p99'] * 1e3:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=1000)
    parser.add_argument("--window", type=int, default=32)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
