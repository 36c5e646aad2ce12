"""``hotline sweep``: many seeded runs per point of a parameter grid."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hotline.cli.common import COMMANDS, EXIT_FAILED, EXIT_OK, UserError
from hotline.report.plots import plot_sweep, require_matplotlib
from hotline.sim.cluster import Cluster, connect
from hotline.sim.scenario import load_scenario, load_scenario_data
from hotline.sim.sweep import OUTCOME_NAMES, csv_rows, grid, parse_vary, sweep, sweep_document


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sweep`` subcommand."""
    parser = commands.add_parser(
        "sweep",
        help=COMMANDS["sweep"].help,
        description="Run N seeded runs per point of a grid of scenario values; report "
        "each outcome's probability (open: still open when the run ended) with 95% "
        "Wilson intervals, time-to-close percentiles over the closed incidents, and each "
        "expectation's ([[expect]]) pass rate over the runs. Exit 1 if an invariant broke "
        "in any run, or an expectation failed in any run (unless "
        "--allow-failed-expectations); exit 2 on bad input, an output that cannot be "
        "written or a cluster that cannot be used, before anything runs.",
    )
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--runs", type=int, required=True, help="seeded runs per point")
    parser.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="a scenario value to vary, e.g. network.ground.loss=0,0.2,0.5 (repeat for a grid)",
    )
    parser.add_argument("--seed", type=int, help="first seed (default: the scenario's)")
    parser.add_argument(
        "--workers", type=int, help="local processes (default: one per CPU); not with --scheduler"
    )
    parser.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the chunks on the workers of this Dask distributed scheduler instead of "
        "local processes (needs hotline[cluster]; the result is the same)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds for the scheduler to answer and a worker to join (default 10)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON (- for stdout)")
    parser.add_argument("--csv", metavar="PATH", help="write one row per point as CSV")
    parser.add_argument("--plot", metavar="PNG", help="draw probabilities and times")
    parser.add_argument(
        "--report",
        metavar="DIR",
        type=Path,
        help="write a self-contained HTML report (DIR/index.html): probability curves "
        "with 95%% bands, time-to-close percentiles, expectations' pass rates",
    )
    parser.add_argument(
        "--allow-failed-expectations",
        action="store_true",
        help="exit 0 even if an expectation failed in some runs (their pass rates are "
        "still reported); a broken invariant still exits 1",
    )
    parser.set_defaults(run=run_sweep)


def _writable(flag: str, path: Path, scenario: Path) -> None:
    """Refuse ``path`` as the file of ``flag`` unless it can be written over nothing
    the sweep reads."""
    if path.exists() and scenario.exists() and path.samefile(scenario):
        raise UserError(f"{flag} {path}: is the scenario; write elsewhere")
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a directory")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UserError(f"{flag} {path}: cannot be written")
        return
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: no directory {parent}")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{flag} {path}: cannot write in {parent}")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any run, an output that could not be written at the end: a
    missing matplotlib for ``--plot``, a path that is the scenario, a directory, in a
    missing or read-only directory, or asked for twice (sweeps and exercises alike).

    Raises:
        UserError: the output and why (exit 2).
        PlotUnavailable: ``--plot`` without matplotlib.
    """
    flags = ("--json", "--csv", "--plot", "--geojson")
    given = {flag: getattr(args, flag[2:], None) for flag in flags}
    files = [
        (flag, Path(value))
        for flag, value in given.items()
        if value and not (flag == "--json" and value == "-")
    ]
    if args.report:
        directory: Path = args.report
        if directory.exists() and not directory.is_dir():
            raise UserError(f"--report {directory}: is not a directory")
        if directory.is_dir():
            files.append(("--report", directory / "index.html"))
        else:  # made at the end, with its parents: the nearest existing one must take it
            ancestor = directory.parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
                raise UserError(f"--report {directory}: cannot be made in {ancestor}")
    seen: dict[Path, str] = {}
    for flag, path in files:
        _writable(flag, path, args.scenario)
        resolved = path.resolve()
        if resolved in seen:
            raise UserError(f"{flag} {path}: also the file of {seen[resolved]}")
        seen[resolved] = flag
    if given["--plot"]:
        require_matplotlib()


class ProgressLines:
    """Progress of a sweep as lines, for a log rather than a terminal: one when another
    tenth of the runs is done, and between those one after 5 s without a line, the wait
    growing with the time elapsed (a tenth of it), so a sweep of a day writes a few
    dozen lines, not thousands.

    Args:
        total: runs in the sweep.
        out: where the lines go.
        clock: seconds, monotonic (for tests).
    """

    def __init__(
        self, total: int, out: TextIO, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.out = out
        self.clock = clock
        self.started = self.last = clock()
        self.tenths = 0

    def update(self, done: int, _total: int = 0) -> None:
        """``done`` runs are finished (a `sweep` progress callback)."""
        now = self.clock()
        elapsed = now - self.started
        tenths = done * 10 // self.total
        if tenths <= self.tenths and now - self.last < max(5.0, elapsed / 10):
            return
        self.tenths, self.last = tenths, now
        percent = done * 100 // self.total
        line = f"sweep: {done} of {self.total} runs ({percent}%)"
        if done >= self.total:
            line += f" in {elapsed:.0f} s"
        else:
            left = elapsed * (self.total - done) / done if done else None
            line += f", {elapsed:.0f} s elapsed"
            line += "" if left is None else f", about {left:.0f} s left"
        print(line, file=self.out, flush=True)


@contextlib.contextmanager
def _progress(total: int, workers: int, where: str = "") -> Iterator[Callable[[int, int], None]]:
    """A progress callback: a bar on a terminal, else lines (both on standard error),
    the first saying over how many workers, and ``where`` they are."""
    if sys.stderr.isatty():
        columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("runs", total=total)
            yield lambda done, _: bar.update(task, completed=done)
        return
    over = f"{workers} worker{'s' if workers > 1 else ''}" + (f" at {where}" if where else "")
    print(f"sweep: {total} runs over {over}", file=sys.stderr, flush=True)
    yield ProgressLines(total, sys.stderr).update


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """The sweep as text: per point, every outcome with its interval, the time to close
    and over which incidents, and each expectation's pass rate over the runs."""
    out = []

    def interval(stat: Mapping[str, Any]) -> str:
        return f"{stat['p']:.3f} [{stat['low']:.3f}, {stat['high']:.3f}]"

    for point in result["points"]:
        label = ", ".join(f"{k}={v}" for k, v in point["values"].items()) or "(no variation)"
        out.append(f"{label}: {point['incidents']} incidents in {point['runs']} runs")
        for name in OUTCOME_NAMES:
            note = "  (still open when the run ended)" if name == "open" else ""
            out.append(f"  {name:<12} {interval(point['outcomes'][name])}{note}")
        out.append(f"  acknowledged on the first line {interval(point['first_line_ack'])}")
        times = point["time_to_outcome"]
        shown = ", ".join(
            f"{q} {'-' if times[q] is None else f'{times[q]:.0f} s'}" for q in ("p50", "p90", "p99")
        )
        out.append(
            f"  time to close, over closed incidents only "
            f"({point['closed_incidents']} of {point['incidents']}): {shown}"
        )
        for stat in point["expectations"]:
            passed = stat["passed"]
            verdict = "held" if passed["count"] == stat["runs"] else "FAILED"
            seeds = ", ".join(str(seed) for seed in stat["failed_seeds"])
            out.append(
                f"  expect {stat['description']}: {verdict}, passed {passed['count']} of "
                f"{stat['runs']} runs, {interval(passed)}"
                + (f"; failed with seeds {seeds}" if seeds else "")
            )
    return out


def run_sweep(args: argparse.Namespace) -> int:
    """Run the sweep and write what was asked."""
    if not 1 <= args.runs <= 1_000_000:
        raise UserError(f"--runs: {args.runs} is not in 1 .. 1000000")
    if args.workers is not None and args.scheduler:
        raise UserError("--workers: not with --scheduler (the cluster's workers run the sweep)")
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    if not 1 <= workers <= 256:
        raise UserError(f"--workers: {workers} is not in 1 .. 256")
    if not 0 < args.connect_timeout <= 3600:
        raise UserError(f"--connect-timeout: {args.connect_timeout:g} is not in (0, 3600] s")
    try:
        varies = [parse_vary(text) for text in args.vary]
    except ValueError as exc:
        raise UserError(str(exc)) from None
    scenario = load_scenario(args.scenario)
    document = load_scenario_data(args.scenario)
    points = grid(document, varies, str(args.scenario))
    check_outputs(args)
    seed = scenario.seed if args.seed is None else args.seed
    with contextlib.ExitStack() as stack:
        cluster: Cluster | None = None
        if args.scheduler:
            cluster = stack.enter_context(connect(args.scheduler, args.connect_timeout))
            workers = cluster.threads
        where = cluster.address if cluster else ""
        with _progress(len(points) * args.runs, workers, where) as progress:
            results = sweep(points, args.runs, seed, workers, progress, cluster=cluster)
    result = sweep_document(scenario.name, seed, args.runs, varies, results)
    text = json.dumps(result, indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    elif args.json:
        Path(args.json).write_text(text)
    if args.csv:
        with Path(args.csv).open("w", newline="") as handle:
            csv.writer(handle).writerows(csv_rows(result))
    if args.plot:
        plot_sweep(result, Path(args.plot))
    out = sys.stderr if args.json == "-" else sys.stdout
    if args.report:
        from hotline.report.html import write_sweep_report  # noqa: PLC0415 - when asked

        page = write_sweep_report(args.report, result)
        print(f"report: {page}", file=out)
    for line in summary_lines(result):
        print(line, file=out)
    return _verdict(result["points"], args.scenario, args.allow_failed_expectations, out)


def _verdict(
    points: Sequence[Mapping[str, Any]], scenario: Path, allowed: bool, out: TextIO
) -> int:
    """Say what failed, and the exit code it makes."""
    broken = sum(point["runs_with_broken_invariants"] for point in points)
    if broken:
        print(
            f"invariants broke in {broken} runs: rerun one with hotline exercise run --seed",
            file=out,
        )
    failed = sum(point["runs_with_failed_expectations"] for point in points)
    if failed and allowed:
        print(
            f"expectations failed in {failed} runs (allowed by --allow-failed-expectations)",
            file=out,
        )
    elif failed:
        print(
            f"expectations failed in {failed} runs: rerun one with hotline exercise run "
            f"{scenario} --seed S (at its point's values), or pass --allow-failed-expectations",
            file=out,
        )
    return EXIT_FAILED if broken or (failed and not allowed) else EXIT_OK
