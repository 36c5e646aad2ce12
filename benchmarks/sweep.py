"""Sweep speed-up: the same sweep with 2 worker processes against 1, in the same run.

    python benchmarks/sweep.py [--runs N]

The sweep: a ground line losing 0%, 20% or 50% of its messages, each point run N times
(signed: every message really signed and verified), 40 patrol notices per run. The
speed-up is time(1 worker) / time(2 workers); the target on a 2-core machine is >= 1.7.
Both sweeps must give the same result, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import hotline
from hotline.sim.scenario import read_toml
from hotline.sim.sweep import grid, parse_vary, sweep

SCENARIO = """
[scenario]
name = "sweep-bench"
seed = 1
duration = "5d"

[parties.US]
ground = "US-GROUND"
general-officer = "US-CJCS"

[parties.RU]
ground = "RU-GROUND"
general-officer = "RU-CGS"

[[events]]
at = "0s"
originator = "US-GROUND"
activity = "patrol"
precedence = "flash"
repeat = 40
every = "30m"

[[responders]]
station = "RU-GROUND"
action = "ack"
delay = { kind = "uniform", low = "30s", high = "5m" }

[[responders]]
station = "RU-CGS"
action = "ack"
delay = "2m"

[network.ground]
loss = 0.0
"""


def timed(runs: int, workers: int) -> tuple[float, str]:
    """Seconds for the sweep with ``workers`` processes, and its result as JSON."""
    points = grid(read_toml(SCENARIO), [parse_vary("network.ground.loss=0,0.2,0.5")], "bench")
    start = time.perf_counter()
    result = sweep(points, runs, 1, workers)
    return time.perf_counter() - start, json.dumps(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    build = "compiled with mypyc" if hotline.COMPILED else "pure Python"
    print(f"hotline {hotline.__version__}, {build}; {os.cpu_count()} cores")
    one, first = timed(args.runs, 1)
    two, second = timed(args.runs, 2)
    assert first == second, "the result must not depend on the number of workers"
    runs = 3 * args.runs
    print(f"{'workers':>8} {'seconds':>9} {'runs/s':>8}")
    print(f"{1:>8} {one:>9.2f} {runs / one:>8.1f}")
    print(f"{2:>8} {two:>9.2f} {runs / two:>8.1f}")
    print(f"RESULT sweep_speedup_2_workers {one / two:.3f} ratio")


if __name__ == "__main__":
    main()
