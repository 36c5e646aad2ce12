"""``hotline explore``: every interleaving of a small exercise, checked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hotline.cli.common import COMMANDS, EXIT_FAILED, EXIT_OK, UserError
from hotline.core.incident import OUTCOMES
from hotline.explore.replay import replay_table
from hotline.explore.search import Exploration, explore
from hotline.explore.world import Bounds
from hotline.sim.cluster import require_distributed
from hotline.sim.model import Scenario
from hotline.sim.scenario import load_scenario


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``explore`` subcommand."""
    command = commands.add_parser(
        "explore",
        help=COMMANDS["explore"].help,
        description="Explore every order in which a scenario's messages, timers, answers "
        "and scripted acts can happen, with up to --max-loss messages lost and "
        "--max-duplicates delivered twice, and check in every state the protocol's "
        "invariants, that views agree at quiescence, that every incident ends, and the "
        "scenario's expectations. Prints the shortest path to each violation. Exit 0 "
        "when every property holds, 1 when one does not (or an outcome asked for with "
        "--sometimes is never reached, or --max-states stopped the search), 2 on bad "
        "input.",
    )
    command.add_argument("scenario", type=Path)
    command.add_argument("--max-loss", type=int, default=0, metavar="K")
    command.add_argument("--max-duplicates", type=int, default=0, metavar="K")
    command.add_argument(
        "--max-reorder",
        type=int,
        metavar="K",
        help="arrivals that overtake an earlier copy between the same stations (default: any)",
    )
    command.add_argument("--depth", type=int, metavar="N", help="steps from the start at most")
    command.add_argument(
        "--max-states",
        type=int,
        default=1_000_000,
        metavar="N",
        help="stop after this many distinct states (default 1,000,000)",
    )
    command.add_argument(
        "--dfs", action="store_true", help="depth first (a smaller frontier; longer paths)"
    )
    command.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes expanding each level (breadth first; the same result for any N; "
        "default 1); not with --scheduler",
    )
    command.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="expand each level on the workers of this Dask distributed scheduler instead "
        "(breadth first; needs hotline[cluster]; the same result)",
    )
    command.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds for the scheduler to answer and a worker to join (default 10)",
    )
    command.add_argument(
        "--sometimes",
        action="append",
        default=[],
        metavar="INCIDENT=OUTCOME",
        help="an outcome some path must reach (repeatable)",
    )
    command.add_argument(
        "--json", metavar="PATH", help="write the exploration as JSON ('-': stdout)"
    )
    command.add_argument(
        "--counterexamples",
        type=Path,
        metavar="DIR",
        help="write each violation's path into DIR, as text and JSON",
    )
    command.set_defaults(run=run_explore)


def run_explore(args: argparse.Namespace) -> int:
    """Explore, print what was found, and write the outputs."""
    for name in ("max_loss", "max_duplicates", "max_reorder", "depth"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UserError(f"--{name.replace('_', '-')}: {value} is below 0")
    if args.max_states < 1:
        raise UserError(f"--max-states: {args.max_states} is below 1")
    if args.scheduler and args.workers is not None:
        raise UserError("--workers: not with --scheduler (the cluster's workers expand each level)")
    if args.scheduler and args.dfs:
        raise UserError("--dfs: not with --scheduler (depth first explores in one process)")
    workers = 1 if args.workers is None else args.workers
    if not 1 <= workers <= 256:
        raise UserError(f"--workers: {workers} is not in 1 .. 256")
    if args.dfs and workers > 1:
        raise UserError("--dfs: depth first explores in one process; leave out --workers")
    if not 0 < args.connect_timeout <= 3600:
        raise UserError(f"--connect-timeout: {args.connect_timeout:g} is not in (0, 3600] s")
    if args.scheduler:
        require_distributed()  # told at once, before the scenario is read
    sometimes = [_pair(text) for text in args.sometimes]
    where = args.counterexamples
    if where is not None and where.exists() and not where.is_dir():
        raise UserError(f"--counterexamples: {where} is not a directory")
    scenario = load_scenario(args.scenario)
    if scenario.replay is not None and args.counterexamples is not None:
        raise UserError(
            f"--counterexamples: {args.scenario} is a counterexample already ([replay]); "
            "explore the scenario it came from"
        )
    _check_inputs(args, scenario, sometimes)
    if scenario.faults:
        print(
            f"explore: the {len(scenario.faults)} [[faults]] of {args.scenario} are not "
            "explored (loss, duplication and reordering are, within --max-*)",
            file=sys.stderr,
        )
    bounds = Bounds(
        max_loss=args.max_loss,
        max_duplicates=args.max_duplicates,
        max_reorder=args.max_reorder,
        depth=args.depth,
    )
    terminal = sys.stderr.isatty()

    def progress(states: int, frontier: int) -> None:
        if terminal or states % 10_000 == 0:
            end = "\r" if terminal else "\n"
            print(f"explore: {states:,} states, frontier {frontier:,}", end=end, file=sys.stderr)

    found = explore(
        scenario,
        bounds,
        max_states=args.max_states,
        depth_first=args.dfs,
        sometimes=sometimes,
        progress=progress,
        workers=workers,
        scheduler=args.scheduler,
        connect_timeout=args.connect_timeout,
    )
    if terminal:
        print(" " * 60, end="\r", file=sys.stderr)
    if args.json == "-":
        sys.stdout.write(json.dumps(found.document(), indent=2) + "\n")
    else:
        _print(found, scenario.name)
        if args.json:
            Path(args.json).write_text(json.dumps(found.document(), indent=2) + "\n")
    if args.counterexamples is not None:
        _write_counterexamples(found, args.counterexamples, args.scenario, bounds)
    held = not found.violations and not found.never and found.complete
    return EXIT_OK if held else EXIT_FAILED


def _check_inputs(
    args: argparse.Namespace, scenario: Scenario, sometimes: list[tuple[str, str]]
) -> None:
    """Refuse what would only fail after exploring; say what the exploration leaves out."""
    incidents = {event.incident for event in scenario.events}
    for incident, _ in sometimes:
        if incident not in incidents:
            raise UserError(f"--sometimes: no incident {incident!r} in {args.scenario}")
    if args.json not in (None, "-"):
        where = Path(args.json).parent
        if not where.is_dir():
            raise UserError(f"--json: {args.json}: no directory {where} to write it in")
    notes = []
    if scenario.replay is not None:
        notes.append("its [replay] table (a counterexample) is ignored: every path is explored")
    if any(link.outages for link in scenario.network.values()):
        notes.append("line outages ([network] outages) are not explored: lines are always up")
    if any(rule.misroute for rule in scenario.responders):
        notes.append("misrouting is not explored: calls reach the right officer")
    for note in notes:
        print(f"explore: {args.scenario}: {note}", file=sys.stderr)


def _pair(text: str) -> tuple[str, str]:
    incident, sep, outcome = text.partition("=")
    if not sep or not incident or outcome not in OUTCOMES.values():
        raise UserError(
            f"--sometimes: {text!r} is not INCIDENT=OUTCOME "
            f"(an outcome is one of {', '.join(OUTCOMES.values())})"
        )
    return incident, outcome


def _print(found: Exploration, name: str) -> None:
    print(
        f"{name}: {found.states:,} states, {found.transitions:,} transitions, depth "
        f"{found.depth}, {found.final:,} final states, in {found.seconds:.2f} s "
        f"({found.rate:,.0f} states/s)"
    )
    if not found.complete:
        print(
            "INCOMPLETE: --max-states reached before every state was explored "
            f"(depth {found.depth}; {found.growth()}): tighten the bounds, or raise "
            "--max-states"
        )
    if found.cut:
        print(
            f"BOUNDED: {found.cut:,} states at the depth bound had steps left and were not "
            "expanded: what follows holds for paths of that length only"
        )
    for incident, outcomes in sorted(found.outcomes.items()):
        print(f"  {incident} ends {' or '.join(sorted(outcomes))}")
    for violation in found.violations:
        print(f"VIOLATED {violation.property}: {violation.detail}")
        print(f"  shortest path, {len(violation.steps)} steps:")
        for step in violation.steps:
            print(f"    {step}")
    for never in found.never:
        print(f"NEVER REACHED: {never}")
    if not found.violations and not found.never and found.complete:
        print("every property holds" + (" up to the depth bound" if found.cut else ""))


def _write_counterexamples(
    found: Exploration, directory: Path, source: Path, bounds: Bounds
) -> None:
    """Each violation as the scenario with its path pinned (``[replay]``: `hotline
    exercise run` takes exactly those steps), and as JSON."""
    text = source.read_text(encoding="utf-8")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for number, violation in enumerate(found.violations, 1):
            stem = directory / f"counterexample-{number}"
            table = replay_table(violation.property, violation.steps, bounds)
            pinned = "\n".join(f"{key} = {_toml(value)}" for key, value in table.items())
            header = (
                f"\n# The shortest path `hotline explore` found to violate: {violation.property}"
                f"\n# ({violation.detail}). `hotline exercise run` on this file takes it.\n"
            )
            stem.with_suffix(".toml").write_text(
                text.rstrip() + "\n" + header + "[replay]\n" + pinned + "\n"
            )
            document = {
                "property": violation.property,
                "detail": violation.detail,
                "steps": violation.steps,
            }
            stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"--counterexamples: {directory}: {exc.strerror or exc}") from None


def _toml(value: object) -> str:
    """A TOML value: a string (JSON's escapes are TOML's), an integer, or an array."""
    if isinstance(value, list):
        return "[\n" + "".join(f"    {_toml(item)},\n" for item in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))
