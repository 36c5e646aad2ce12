"""``hotline sweep``: many seeded runs per point of a parameter grid."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hotline.cli.common import EXIT_FAILED, EXIT_OK, UserError
from hotline.report.html import write_sweep_report
from hotline.report.plots import plot_sweep
from hotline.sim.scenario import load_scenario, load_scenario_data
from hotline.sim.sweep import csv_rows, grid, parse_vary, sweep, sweep_document


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sweep`` subcommand."""
    parser = commands.add_parser(
        "sweep",
        help="run a scenario many times over a parameter grid",
        description="Run N seeded runs per point of a grid of scenario values; report "
        "outcome probabilities with 95%% Wilson intervals and time-to-outcome "
        "percentiles. Exit 1 if an invariant broke in any run.",
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
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON (- for stdout)")
    parser.add_argument("--csv", metavar="PATH", help="write one row per point as CSV")
    parser.add_argument("--plot", metavar="PNG", help="draw probabilities and times")
    parser.add_argument(
        "--report",
        metavar="DIR",
        type=Path,
        help="write a self-contained HTML report (DIR/index.html): probability curves "
        "with 95%% bands, time-to-outcome percentiles",
    )
    parser.set_defaults(run=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    """Run the sweep and write what was asked."""
    if not 1 <= args.runs <= 1_000_000:
        raise UserError(f"--runs: {args.runs} is not in 1 .. 1000000")
    if not 1 <= args.workers <= 256:
        raise UserError(f"--workers: {args.workers} is not in 1 .. 256")
    try:
        varies = [parse_vary(text) for text in args.vary]
    except ValueError as exc:
        raise UserError(str(exc)) from None
    scenario = load_scenario(args.scenario)
    document = load_scenario_data(args.scenario)
    points = grid(document, varies, str(args.scenario))
    seed = scenario.seed if args.seed is None else args.seed
    total = len(points) * args.runs
    columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("runs", total=total)
        results = sweep(
            points, args.runs, seed, args.workers, lambda done, _: bar.update(task, completed=done)
        )
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
    if args.report:
        page = write_sweep_report(args.report, result)
        print(f"report: {page}", file=sys.stderr if args.json == "-" else sys.stdout)
    out = sys.stderr if args.json == "-" else sys.stdout
    for point in result["points"]:
        label = ", ".join(f"{k}={v}" for k, v in point["values"].items()) or "(no variation)"
        ack = point["outcomes"]["acknowledged"]
        first = point["first_line_ack"]
        p50 = point["time_to_outcome"]["p50"]
        print(
            f"{label}: acknowledged {ack['p']:.3f} [{ack['low']:.3f}, {ack['high']:.3f}], "
            f"first line {first['p']:.3f}, p50 {'-' if p50 is None else f'{p50:.0f} s'}, "
            f"{point['incidents']} incidents",
            file=out,
        )
    broken = sum(point["runs_with_broken_invariants"] for point in result["points"])
    if broken:
        print(
            f"invariants broke in {broken} runs: rerun one with hotline exercise run --seed",
            file=out,
        )
    return EXIT_FAILED if broken else EXIT_OK
