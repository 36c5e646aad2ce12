"""Round trips through the fault proxy with an empty plan, against the same round trips
direct to the broker, in the same run.

    python benchmarks/proxy.py [--trips N] [--window W] [--rounds R] [--seconds S]

echo:     client A publishes a payload of about a signed notice's size (QoS 1) to a
          request topic; client B, subscribed to it, publishes it back (QoS 1) to A's
          reply topic; A waits for it. One trip = one request and its echo.
direct:   A and B on a private mosquitto.
proxied:  A and B on a `FaultProxy` in front of that mosquitto, with no fault and no
          network (its line passive: every PUBLISH forwarded as read), running in the
          benchmark's own event loop, as a live exercise runs its proxies: every
          microsecond the proxy spends is one the clients do not have (a standalone
          `hotline proxy` has a process of its own).

Each round runs the echo sequentially (one trip at a time: latency) and with W trips in
flight (saturation), direct then proxied, so that this machine's swings in speed fall on
both alike; every run stops at N trips or S seconds, whichever comes first. The table
also gives the process's CPU time per saturated trip (clients and proxy together): the
proxy's own cost is the difference, which swings less than the rates do when the machine
slows down.

Headlines:
  proxy_throughput_ratio  the best of R proxied saturation rounds, in trips/s, over the
                          best of R direct ones.
  proxy_added_p99         in each round, the p99 of the proxied sequential trips minus
                          the p99 of the direct sequential trips measured just before
                          them; the median of that difference over rounds, in ms. A
                          difference of neighbouring runs, not of samples pooled over the
                          whole run, so that a slow minute does not land on one side
                          only. The p50 added is reported the same way.

Every request must come back as sent, byte for byte, and the proxy must have forwarded
each PUBLISH the clients sent (two per trip), or the benchmark fails. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from echo import (  # benchmarks/echo.py
    PAYLOAD,
    BenchmarkFailed,
    Echo,
    Run,
    closed_loop,
    echo_pair,
)

import hotline
from hotline.live.proxy import FaultProxy
from hotline.live.proxy import session as proxy_session
from hotline.testing import Mosquitto

NAMES = ("direct", "proxied")


def check_books(pair: Echo, proxy: FaultProxy | None) -> None:
    """Every request came back once, and the proxy (when ``pair`` goes through it)
    forwarded every PUBLISH its clients sent: a request and an echo per trip."""
    pair.check()
    if proxy is not None:
        expected = 2 * pair.sent
        if proxy.forwarded != expected:
            raise BenchmarkFailed(
                f"the proxy forwarded {proxy.forwarded} PUBLISH packets, {expected} expected"
            )


@dataclass
class Results:
    """What the rounds measured, and what the run's books say."""

    sequential: dict[str, list[Run]]
    saturation: dict[str, list[Run]]
    load: tuple[float, float]  # this machine's 1-minute load average, before and after
    returned: dict[str, int]
    forwarded: int


async def measure(args: argparse.Namespace) -> Results:
    """Warm up, then the rounds; every run's books are checked as it ends."""
    sequential: dict[str, list[Run]] = {name: [] for name in NAMES}
    saturation: dict[str, list[Run]] = {name: [] for name in NAMES}
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hotline-proxy-bench-") as directory:
        broker = Mosquitto(Path(directory))
        broker.start()
        try:
            async with (
                FaultProxy(broker.url, faults=()) as proxy,
                echo_pair("direct", broker.port) as direct,
                echo_pair("proxied", proxy.port) as proxied,
            ):
                if not proxy.model.passive:
                    raise BenchmarkFailed("the proxy's line is not passive with an empty plan")
                pairs = {"direct": direct, "proxied": proxied}
                for pair in pairs.values():
                    await closed_loop(pair.trip, 200, 1, args.seconds)  # warm up
                    await closed_loop(pair.trip, 200, args.window, args.seconds)
                    check_books(pair, proxy if pair is proxied else None)
                for _ in range(args.rounds):
                    for pair in pairs.values():
                        sequential[pair.name].append(
                            await closed_loop(pair.trip, args.trips, 1, args.seconds)
                        )
                        saturation[pair.name].append(
                            await closed_loop(pair.trip, args.trips, args.window, args.seconds)
                        )
                        check_books(pair, proxy if pair is proxied else None)
        finally:
            broker.stop()
    return Results(
        sequential,
        saturation,
        (before, os.getloadavg()[0]),
        {name: pair.returned for name, pair in pairs.items()},
        proxy.forwarded,
    )


def report(args: argparse.Namespace, results: Results) -> None:
    build = "compiled with mypyc" if hotline.COMPILED else "pure Python"
    proxy_build = "compiled" if not str(proxy_session.__file__).endswith(".py") else "pure"
    print(
        f"hotline {hotline.__version__}, {build} (proxy modules {proxy_build}); private "
        f"mosquitto; the proxy in the clients' event loop, empty plan; {args.rounds} rounds "
        f"of at most {args.trips} trips or {args.seconds:g} s; {PAYLOAD}-byte QoS 1 echo, "
        f"{args.window} in flight when saturated; load average {results.load[0]:.2f} before, "
        f"{results.load[1]:.2f} after"
    )
    print(
        f"{'round':<7}{'':<9}{'seq p50 ms':>11}{'seq p99 ms':>11}{'saturated trips/s':>19}"
        f"{'CPU us/trip':>13}"
    )
    added50: list[float] = []
    added99: list[float] = []
    for index in range(args.rounds):
        for name in NAMES:
            p50, p99 = (value * 1e3 for value in results.sequential[name][index].percentiles())
            run = results.saturation[name][index]
            print(
                f"{index + 1:<7}{name:<9}{p50:>11.3f}{p99:>11.3f}{run.rate:>19,.0f}"
                f"{run.cpu_per_trip * 1e6:>13,.0f}"
            )
        (d50, d99), (p50, p99) = (results.sequential[name][index].percentiles() for name in NAMES)
        added50.append((p50 - d50) * 1e3)
        added99.append((p99 - d99) * 1e3)
    best = {name: max(run.rate for run in results.saturation[name]) for name in NAMES}
    cpu = {name: min(run.cpu_per_trip for run in results.saturation[name]) for name in NAMES}
    for name in NAMES:
        print(f"{'best':<7}{name:<9}{'':>22}{best[name]:>19,.0f}{cpu[name] * 1e6:>13,.0f}")
    median50, median99 = statistics.median(added50), statistics.median(added99)
    print(
        f"added by the proxy, sequential, median of rounds: p50 {median50:+.3f} ms "
        f"({', '.join(f'{v:+.3f}' for v in added50)}), p99 {median99:+.3f} ms "
        f"({', '.join(f'{v:+.3f}' for v in added99)}); CPU per saturated trip (least of "
        f"rounds) {(cpu['proxied'] - cpu['direct']) * 1e6:+,.0f} us"
    )
    print(
        f"every request came back as sent: direct {results.returned['direct']:,}, proxied "
        f"{results.returned['proxied']:,}; the proxy forwarded {results.forwarded:,} PUBLISH "
        "packets, two per proxied trip"
    )
    print(f"RESULT proxy_throughput_ratio {best['proxied'] / best['direct']:.3f} ratio")
    print(f"RESULT proxy_added_p99 {median99:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=1000, help="at most this many per run")
    parser.add_argument("--window", type=int, default=32, help="trips in flight, saturated")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0, help="at most this long per run")
    args = parser.parse_args()
    if min(args.trips, args.window, args.rounds) < 1 or not args.seconds > 0:
        parser.error("--trips, --window, --rounds and --seconds must be positive")
    report(args, asyncio.run(measure(args)))


if __name__ == "__main__":
    main()
