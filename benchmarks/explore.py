"""Exhaustive exploration: states per second, against bare protocol steps in the same run.

    python benchmarks/explore.py [--scenario examples/tutorial.toml] [--loss 2] [--duplicates 1]

1. States per second of `hotline explore` on one core (every world copied, stepped,
   hashed and checked), on the scenario with ``--loss`` losses and ``--duplicates``
   duplicates allowed.
2. The rate of bare steps on the same model: the same worlds' steps taken in place,
   with nothing copied, hashed or checked (paths walked from the start to their end,
   each time the first step offered). ``explore_overhead_ratio`` is (1) over (2): the
   share of the explorer's time that is the protocol itself (target >= 0.5).
3. The same exploration over two worker processes: ``explore_speedup_2_workers`` is the
   one-process time over the two-process time (target >= 1.6), and the two must find
   the same states, transitions and violations.
4. ``examples/tutorial.toml`` with one loss allowed, end to end (target: under a minute).

Every loop is bounded: the explorations by ``--max-states``, the walks by ``--steps``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hotline.explore.search import Exploration, explore
from hotline.explore.world import Bounds, initial_world
from hotline.sim.model import Scenario
from hotline.sim.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent


def bare_steps_per_second(scenario: Scenario, bounds: Bounds, steps: int) -> float:
    """Steps per second taken in place: no copy, no key, no checks."""
    taken, started = 0, time.perf_counter()
    while taken < steps:
        world = initial_world(scenario, bounds)
        while taken < steps:
            step = next(iter(world.successors(lambda w=world: w)), None)  # type: ignore[misc]
            if step is None:
                break
            taken += 1
    return taken / (time.perf_counter() - started)


def timed(scenario: Scenario, bounds: Bounds, workers: int, max_states: int) -> Exploration:
    return explore(scenario, bounds, workers=workers, max_states=max_states)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=REPO / "examples" / "tutorial.toml")
    parser.add_argument("--loss", type=int, default=2)
    parser.add_argument("--duplicates", type=int, default=1)
    parser.add_argument("--max-states", type=int, default=200_000)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    bounds = Bounds(max_loss=args.loss, max_duplicates=args.duplicates)

    one = timed(scenario, bounds, 1, args.max_states)
    bare = bare_steps_per_second(scenario, bounds, args.steps)
    two = timed(scenario, bounds, 2, args.max_states)
    same = (one.states, one.transitions, [v.steps for v in one.violations]) == (
        two.states,
        two.transitions,
        [v.steps for v in two.violations],
    )
    tutorial = load_scenario(REPO / "examples" / "tutorial.toml")
    one_loss = timed(tutorial, Bounds(max_loss=1), 1, args.max_states)

    print(f"model: {args.scenario.name}, {args.loss} losses, {args.duplicates} duplicates")
    print(f"  {one.states:,} states, {one.transitions:,} transitions, depth {one.depth}")
    print(f"  one process:   {one.seconds:8.2f} s  {one.rate:10,.0f} states/s")
    print(f"  two processes: {two.seconds:8.2f} s  {two.rate:10,.0f} states/s  same: {same}")
    print(f"  bare steps:                {bare:10,.0f} steps/s")
    print(
        f"tutorial, one loss: {one_loss.states:,} states in {one_loss.seconds:.2f} s "
        f"({len(one_loss.violations)} properties violated)"
    )
    if not same:
        raise SystemExit("two processes found something else than one: a bug")
    print(f"RESULT explore_states_per_s {one.rate:.0f} states/s")
    print(f"RESULT explore_overhead_ratio {one.rate / bare:.3f} ratio")
    print(f"RESULT explore_speedup_2_workers {one.seconds / two.seconds:.3f} ratio")
    print(f"RESULT explore_tutorial_one_loss_s {one_loss.seconds:.2f} s")


if __name__ == "__main__":
    main()
