"""Parameter sweeps: many seeded runs per point of a grid, summarised with uncertainty.

A sweep varies values of the scenario document (``network.ground.loss=0,0.2,0.5``;
several ``--vary`` make a grid) and runs each point ``runs`` times, with seeds
``seed, seed + 1, ...`` — the same seeds at every point, so points differ by the varied
values and not by luck (common random numbers). Runs are spread in chunks over a process
pool, or over the workers of a Dask distributed cluster (`hotline.sim.cluster`); each
chunk returns counts and durations, never whole runs, and results are combined in a
fixed order, so the output depends neither on the number of workers nor on where they
run.

The unit of the statistics is the incident: for each point, the probability of each
outcome (``open`` among them: still open when its run ended) with a 95% Wilson score
interval, the probability of an acknowledgement on the first line, time-to-outcome
percentiles (p50, p90, p99) over the closed incidents only (``closed_incidents`` of
``incidents``), and the number of runs in which an invariant broke. The scenario's
expectations (``[[expect]]``) are judged in every run as ``hotline exercise run`` judges
them (`hotline.sim.result.build_result`); their unit is the run: each expectation's
pass rate, with its Wilson interval, and the first seeds it failed in.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hotline import __version__
from hotline.core.incident import OUTCOMES
from hotline.sim.exercise import run_exercise
from hotline.sim.fields import ScenarioError
from hotline.sim.model import Scenario
from hotline.sim.processes import fresh_signals, worker_context
from hotline.sim.result import build_result
from hotline.sim.scenario import scenario_from_data, with_files_resolved

if TYPE_CHECKING:
    from hotline.sim.cluster import Cluster

OUTCOME_NAMES = (*OUTCOMES.values(), "open")
_STEP = re.compile(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?$")
_KEPT_SEEDS = 5  # failing seeds kept per point (and per expectation), to rerun


@dataclass(frozen=True, slots=True)
class Vary:
    """One varied path and its values."""

    path: str
    values: tuple[Any, ...]


def parse_vary(text: str) -> Vary:
    """``PATH=V1,V2,...`` with each value read as a TOML value (bare words as strings).

    Raises:
        ValueError: the form is wrong.
    """
    path, sep, values = text.partition("=")
    if not sep or not path.strip() or not values.strip():
        raise ValueError(f"--vary {text!r}: expected PATH=V1,V2,... (e.g. network.air.loss=0,0.5)")
    parsed = tuple(_value(item.strip()) for item in values.split(","))
    for step in path.strip().split("."):
        if _STEP.fullmatch(step) is None:
            raise ValueError(f"--vary {text!r}: {step!r} is not a key or key[index]")
    return Vary(path.strip(), parsed)


def _value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: accept, escalate, "2s" without quotes...


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted ``path`` (``faults[0].probability``), creating tables.

    Raises:
        ValueError: the path runs through something that is not a table or array.
    """
    steps = path.split(".")
    node: Any = document
    for position, step in enumerate(steps):
        match = _STEP.fullmatch(step)
        assert match is not None  # checked by parse_vary
        key, index = match.group(1), match.group(2)
        last = position == len(steps) - 1
        if not isinstance(node, dict):
            raise ValueError(f"{'.'.join(steps[:position])} is not a table")
        if index is None:
            if last:
                node[key] = value
                return
            node = node.setdefault(key, {})
            continue
        items = node.get(key)
        if not isinstance(items, list) or int(index) >= len(items):
            raise ValueError(f"{'.'.join(steps[:position])}.{key} has no item [{index}]")
        if last:
            items[int(index)] = value
            return
        node = items[int(index)]


@dataclass(frozen=True, slots=True)
class Point:
    """One point of the grid: the values, and the scenario document they give."""

    values: Mapping[str, Any]
    document: Mapping[str, Any]


def grid(document: Mapping[str, Any], varies: Sequence[Vary], source: str) -> list[Point]:
    """Every combination of the varied values, each checked as a whole scenario.

    Raises:
        ScenarioError: a point is not a valid scenario (names the point and the field).
    """
    points = []
    for combination in itertools.product(*(vary.values for vary in varies)):
        values = {vary.path: value for vary, value in zip(varies, combination, strict=True)}
        changed = copy.deepcopy(dict(document))
        label = ", ".join(f"{p}={v}" for p, v in values.items())
        for path, value in values.items():
            try:
                set_path(changed, path, value)
            except ValueError as exc:
                raise ScenarioError(source, path, str(exc)) from None
        changed = with_files_resolved(changed, source)  # a point is run elsewhere
        scenario_from_data(changed, f"{source} [{label}]")  # refuse a bad point up front
        points.append(Point(values, changed))
    return points


@dataclass(slots=True)
class Tally:
    """What a chunk of runs of one point gave, and what a point sums to."""

    incidents: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    first_line_acks: int = 0
    durations: list[float] = field(default_factory=list)
    broken_runs: int = 0
    broken_seeds: list[int] = field(default_factory=list)  # the first few, to rerun
    expectations: list[str] = field(default_factory=list)  # descriptions, scenario order
    passes: list[int] = field(default_factory=list)  # runs each expectation held in
    failed_seeds: list[list[int]] = field(default_factory=list)  # the first few of each
    failed_runs: int = 0  # runs in which any expectation failed

    def add(self, other: Tally) -> None:
        self.incidents += other.incidents
        for name, count in other.outcomes.items():
            self.outcomes[name] = self.outcomes.get(name, 0) + count
        self.first_line_acks += other.first_line_acks
        self.durations.extend(other.durations)
        self.broken_runs += other.broken_runs
        self.broken_seeds = (self.broken_seeds + other.broken_seeds)[:_KEPT_SEEDS]
        if not self.expectations:  # every chunk of a point judges the same expectations
            self.expectations = list(other.expectations)
            self.passes = [0] * len(other.expectations)
            self.failed_seeds = [[] for _ in other.expectations]
        for index, count in enumerate(other.passes):
            self.passes[index] += count
            kept = self.failed_seeds[index] + other.failed_seeds[index]
            self.failed_seeds[index] = kept[:_KEPT_SEEDS]
        self.failed_runs += other.failed_runs


_scenarios: dict[str, Scenario] = {}  # per process: document text -> validated scenario


def run_chunk(document: Mapping[str, Any], seeds: Sequence[int]) -> Tally:
    """Run ``seeds`` of one point (in a worker process) and tally them."""
    key = json.dumps(document, sort_keys=True, default=str)
    scenario = _scenarios.get(key)
    if scenario is None:
        scenario = _scenarios[key] = scenario_from_data(document, "sweep")
    tally = Tally(
        expectations=[e.description for e in scenario.expectations],
        passes=[0] * len(scenario.expectations),
        failed_seeds=[[] for _ in scenario.expectations],
    )
    for seed in seeds:
        result = build_result(run_exercise(scenario, seed, record=False))
        failed = False
        for index, verdict in enumerate(result["expectations"]):
            if verdict["passed"]:
                tally.passes[index] += 1
            else:
                failed = True
                if len(tally.failed_seeds[index]) < _KEPT_SEEDS:
                    tally.failed_seeds[index].append(seed)
        tally.failed_runs += failed
        for incident in result["incidents"]:
            tally.incidents += 1
            outcome = incident["outcome"]
            tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + 1
            if outcome == "acknowledged" and len(incident["channels"]) == 1:
                tally.first_line_acks += 1
            if incident["closed_at"] is not None:
                tally.durations.append(incident["closed_at"] - incident["opened_at"])
        if not all(i["held"] for i in result["invariants"]):
            tally.broken_runs += 1
            if len(tally.broken_seeds) < _KEPT_SEEDS:
                tally.broken_seeds.append(seed)
    return tally


def wilson(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float, float]:
    """The proportion and its Wilson score interval (95% by default)."""
    if trials == 0:
        return 0.0, 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return p, max(0.0, centre - half), min(1.0, centre + half)


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted values, interpolating linearly."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(point: Point, tally: Tally, runs: int) -> dict[str, Any]:
    """One point of the sweep result."""
    ordered = sorted(tally.durations)

    def proportion(count: int, trials: int) -> dict[str, Any]:
        p, low, high = wilson(count, trials)
        return {"count": count, "p": round(p, 6), "low": round(low, 6), "high": round(high, 6)}

    return {
        "values": dict(point.values),
        "runs": runs,
        "incidents": tally.incidents,
        "outcomes": {
            name: proportion(tally.outcomes.get(name, 0), tally.incidents) for name in OUTCOME_NAMES
        },
        "first_line_ack": proportion(tally.first_line_acks, tally.incidents),
        "closed_incidents": len(ordered),  # what the percentiles are over
        "time_to_outcome": {
            name: None if (v := percentile(ordered, q)) is None else round(v, 3)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
        },
        "runs_with_broken_invariants": tally.broken_runs,
        "broken_seeds": tally.broken_seeds,
        "expectations": [
            {
                "description": description,
                "runs": runs,
                "passed": proportion(passes, runs),
                "failed_seeds": seeds,
            }
            for description, passes, seeds in zip(
                tally.expectations, tally.passes, tally.failed_seeds, strict=True
            )
        ],
        "runs_with_failed_expectations": tally.failed_runs,
    }


def chunks(seeds: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """``seeds`` in consecutive slices of ``size``."""
    for start in range(0, len(seeds), size):
        yield seeds[start : start + size]


def sweep(
    points: Sequence[Point],
    runs: int,
    seed: int,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
    *,
    cluster: Cluster | None = None,
) -> list[dict[str, Any]]:
    """Run every point ``runs`` times and summarise each, in grid order: in this process
    (``workers`` 1), over a pool of ``workers`` processes, or as tasks on ``cluster``
    (whose worker threads then stand for ``workers``). ``progress`` is told the runs
    done, and of how many, as each chunk finishes."""
    seeds = list(range(seed, seed + runs))
    if cluster is not None:
        workers = cluster.threads
    size = max(1, min(50, math.ceil(runs / max(1, workers) / 4)))
    jobs = [(i, list(part)) for i in range(len(points)) for part in chunks(seeds, size)]
    tallies = [Tally() for _ in points]
    finished: dict[int, Tally] = {}  # by position in jobs, until the ones before it are in
    added = done = 0
    with contextlib.ExitStack() as stack:
        results: Iterator[tuple[int, Tally]]
        if cluster is not None:
            documents = [point.document for point in points]
            completed = cluster.completed(run_chunk, documents, jobs)
            results = stack.enter_context(contextlib.closing(completed))  # while connected
        elif workers <= 1:
            results = ((n, run_chunk(points[i].document, part)) for n, (i, part) in enumerate(jobs))
        else:
            context = worker_context()  # forked only with no other thread running
            pool = stack.enter_context(
                ProcessPoolExecutor(workers, mp_context=context, initializer=fresh_signals)
            )
            futures = {
                pool.submit(run_chunk, points[i].document, part): n
                for n, (i, part) in enumerate(jobs)
            }
            results = ((futures[future], future.result()) for future in as_completed(futures))
        for n, tally in results:
            finished[n] = tally
            # added in job order, whoever finished first: the result is deterministic
            while added in finished:
                tallies[jobs[added][0]].add(finished.pop(added))
                added += 1
            done += len(jobs[n][1])
            if progress:
                progress(done, len(points) * runs)
    return [summarise(point, tally, runs) for point, tally in zip(points, tallies, strict=True)]


def sweep_document(
    scenario_name: str, seed: int, runs: int, varies: Sequence[Vary], points: list[dict[str, Any]]
) -> dict[str, Any]:
    """The sweep result document (JSON)."""
    return {
        "hotline_version": __version__,
        "scenario": scenario_name,
        "seed": seed,
        "runs": runs,
        "vary": [vary.path for vary in varies],
        "points": points,
    }


def csv_rows(document: Mapping[str, Any]) -> list[list[Any]]:
    """The sweep as a table: one row per point."""
    header = [*document["vary"], "runs", "incidents"]
    for name in OUTCOME_NAMES:
        header += [f"p_{name}", f"p_{name}_low", f"p_{name}_high"]
    header += [
        "p_first_line_ack",
        "p_first_line_ack_low",
        "p_first_line_ack_high",
        "p50_s",
        "p90_s",
        "p99_s",
        "runs_with_broken_invariants",
        "closed_incidents",
        "runs_with_failed_expectations",
    ]
    expectations = max((len(point["expectations"]) for point in document["points"]), default=0)
    for index in range(expectations):  # by position: a --vary may change a description
        header += [f"expect_{index}_pass", f"expect_{index}_pass_low", f"expect_{index}_pass_high"]
    rows: list[list[Any]] = [header]
    for point in document["points"]:
        row: list[Any] = [point["values"][path] for path in document["vary"]]
        row += [point["runs"], point["incidents"]]
        for name in OUTCOME_NAMES:
            stat = point["outcomes"][name]
            row += [stat["p"], stat["low"], stat["high"]]
        first = point["first_line_ack"]
        row += [first["p"], first["low"], first["high"]]
        row += [point["time_to_outcome"][q] for q in ("p50", "p90", "p99")]
        row.append(point["runs_with_broken_invariants"])
        row += [point["closed_incidents"], point["runs_with_failed_expectations"]]
        for stat in point["expectations"]:
            row += [stat["passed"]["p"], stat["passed"]["low"], stat["passed"]["high"]]
        row += [""] * 3 * (expectations - len(point["expectations"]))
        rows.append(row)
    return rows
