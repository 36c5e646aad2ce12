"""``hotline exercise run`` and ``hotline exercise check``: channel exercises, simulated or live."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from hotline.cli.common import COMMANDS, EXIT_FAILED, EXIT_OK, UserError, decided, read_input
from hotline.cli.sweep import check_outputs
from hotline.faults import CONNECTION_FAULTS
from hotline.keyfiles import save_run_keys
from hotline.outputs import write_output
from hotline.report.compare import NotAResult, check_result, compare_results, comparison_lines
from hotline.report.text import render_result, render_traces, timeline_lines
from hotline.sim.exercise import run_exercise
from hotline.sim.model import NOTICE_ACTIONS, Scenario
from hotline.sim.result import build_result, passed, to_json
from hotline.sim.scenario import load_scenario
from hotline.sim.timeline import Timeline


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``exercise`` command group."""
    group = commands.add_parser("exercise", help=COMMANDS["exercise"].help)
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run a scenario and report its outcome",
        description="Run a scenario in simulation (or live, with --broker). Exit 0 when "
        "every expectation and invariant held, 1 when one failed, 2 when the scenario is invalid.",
    )
    run.add_argument("scenario", type=Path, help="scenario file (TOML)")
    run.add_argument("--seed", type=int, help="seed of this run (default: the scenario's)")
    run.add_argument("--json", metavar="PATH", help="write the result as JSON (- for stdout)")
    run.add_argument("--timeline", action="store_true", help="print every message and decision")
    run.add_argument(
        "--geojson",
        metavar="PATH",
        help="write the agreed map and each notice's area, outcome and verdicts as GeoJSON",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    run.add_argument(
        "--report",
        metavar="DIR",
        type=Path,
        help="write a self-contained HTML report (DIR/index.html): outcomes, charts, "
        "a sequence diagram per incident",
    )
    run.add_argument(
        "--journal",
        metavar="DIR",
        type=Path,
        help="write each party's tamper-evident journal into DIR as PARTY.journal "
        "(see hotline audit)",
    )
    run.add_argument(
        "--broker",
        metavar="URL",
        help="run live: every party a real post on this MQTT broker (a cluster: its nodes' "
        "URLs, comma-separated)",
    )
    run.add_argument(
        "--time-scale",
        type=float,
        metavar="X",
        help="live runs: exercise seconds per real second (default 1)",
    )
    run.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="live runs: seconds each post may take to reach the broker (default 10)",
    )
    run.set_defaults(run=run_command)
    check = actions.add_parser(
        "check",
        help="validate a scenario without running it",
        description="Validate a scenario. Exit 0 if it is valid, 2 with the file, field "
        "and reason if not.",
    )
    check.add_argument("scenario", type=Path)
    check.set_defaults(run=check_command)
    compare = actions.add_parser(
        "compare",
        help="where one run departed from another (a live run from the simulated one)",
        description="Compare two results of one scenario and seed (exercise run --json), "
        "incident by incident: what differs, which faults each run met, and why (faults "
        "the plan decides must fall alike; timing may differ). Exit 0 when every incident "
        "is the same, 1 when one departed, 2 when a file is no result.",
    )
    compare.add_argument("first", type=Path, metavar="SIM.json")
    compare.add_argument("second", type=Path, metavar="LIVE.json")
    compare.add_argument(
        "--json", metavar="PATH", help="write the comparison as JSON (- for stdout)"
    )
    compare.set_defaults(run=compare_command)


def _console(stream: object) -> Console:
    width = shutil.get_terminal_size((140, 24)).columns
    return Console(file=stream, width=max(width, 120), highlight=False)  # type: ignore[arg-type]


def run_command(args: argparse.Namespace) -> int:
    """Run the exercise; print and write what came out."""
    try:
        return _run(args)
    except sqlite3.Error as exc:  # the only files a run opens in SQLite are its journals
        if args.journal is None:
            raise
        raise UserError(f"--journal: {args.journal}: cannot write journals there: {exc}") from None


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise UserError(f"--seed: {args.seed} is not in 0 .. 2**63-1")
    check_outputs(args)
    if scenario.replay is not None:
        return _replay(args, scenario)
    if args.broker:
        return _live(args, scenario)
    if args.time_scale is not None:
        raise UserError(
            "--time-scale: only a live run (--broker) takes real time; a simulated run "
            "plays the whole exercise at once"
        )
    # recorded: traces need the timeline
    exercise = run_exercise(scenario, args.seed, journals=args.journal)
    note_unsimulated(scenario)
    return _report(args, build_result(exercise), exercise)


def _live(args: argparse.Namespace, scenario: Scenario) -> int:
    """Run live on a broker: progress on standard error while it runs; interrupted
    (Ctrl-C), what happened so far is reported, marked as interrupted."""
    scale = 1.0 if args.time_scale is None else args.time_scale
    if not 0 < scale <= 100_000:
        raise UserError(f"--time-scale: {scale} is not in (0, 100000]")
    if not 0 < args.connect_timeout <= 3600:
        raise UserError(f"--connect-timeout: {args.connect_timeout} is not in (0, 3600]")
    # the MQTT client and the proxy are loaded when a run is live, not at every start
    from hotline.live.exercise import LiveExercise  # noqa: PLC0415
    from hotline.live.mqtt import ConnectionFailed  # noqa: PLC0415
    from hotline.live.proxy import ProxyError  # noqa: PLC0415

    live = LiveExercise(
        scenario,
        args.broker,
        time_scale=scale,
        seed=args.seed,
        journals=args.journal,
        progress=None if args.quiet else _progress,
        connect_timeout=args.connect_timeout,
    )
    try:
        asyncio.run(live.run())
    except KeyboardInterrupt:
        if not live.posts:
            raise UserError("interrupted before the posts were connected") from None
        print("INTERRUPTED: the result holds what happened until then", file=sys.stderr)
    except (ConnectionFailed, ProxyError) as exc:
        raise UserError(f"--broker: {exc}") from None
    result = live.result()
    code = _report(args, result, live)
    return EXIT_FAILED if live.interrupted else code


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def note_unsimulated(scenario: Scenario) -> None:
    """Say which faults a simulated run did not apply: those on TCP connections."""
    for index, fault in enumerate(scenario.faults):
        if fault.kind in CONNECTION_FAULTS:
            print(
                f"note: faults[{index}] ({fault.kind}) acts on a live run's TCP connections: "
                "not simulated (run with --broker)",
                file=sys.stderr,
            )


def _replay(args: argparse.Namespace, scenario: Scenario) -> int:
    """Run a counterexample `hotline explore` wrote: its path, step by step."""
    for given, name in ((args.broker, "--broker"), (args.journal, "--journal"),
                        (args.seed, "--seed"), (args.time_scale, "--time-scale")):  # fmt: skip
        if given:
            raise UserError(
                f"{name}: {args.scenario} is a replay ([replay]): it runs its pinned path "
                "in simulation, with no seed or journals (--timeline and --report show it)"
            )
    from hotline.explore.replay import replay  # noqa: PLC0415 - loaded when replaying
    from hotline.explore.search import judge  # noqa: PLC0415

    run = replay(scenario)
    pinned = scenario.replay
    assert pinned is not None
    final, findings = judge(run.world)
    result = build_result(run)
    names = [finding.property for finding in findings]
    result["replay"] = {
        "property": pinned.property,
        "steps": len(pinned.steps),
        "final": final,
        "violated": names,
        "reproduced": pinned.property in names,
    }
    if not final:  # the path stops at its violation: the run's end is not judged
        result["expectations"] = []
    out = _console(sys.stderr if args.json == "-" else sys.stdout)
    out.print(
        f"replay: the {len(pinned.steps)} steps `hotline explore` found to break "
        f"{pinned.property or 'a property'}"
        + ("" if final else " (the path stops there: the run's expectations are not judged)"),
        markup=False,
        soft_wrap=True,
    )
    for finding in findings:
        out.print(f"VIOLATED {finding.property}: {finding.detail}", markup=False, soft_wrap=True)
    if pinned.property and pinned.property not in names:
        out.print(
            f"NOT REPRODUCED: {pinned.property} holds at the end of this path",
            markup=False,
            soft_wrap=True,
        )
    code = _report(args, result, run)
    return EXIT_FAILED if findings or pinned.property not in names else code


def _report(args: argparse.Namespace, result: dict[str, Any], run: Timeline) -> int:
    code = EXIT_OK if passed(result) else EXIT_FAILED
    with decided(code):  # a reader gone midway ends the command with this code
        _print_report(args, result, run)
    return code


def _print_report(args: argparse.Namespace, result: dict[str, Any], run: Timeline) -> None:
    if args.json == "-":
        sys.stdout.write(to_json(result))
        out = _console(sys.stderr)
    else:
        if args.json:
            Path(args.json).write_text(to_json(result))
        out = _console(sys.stdout)
    for earlier, kept in run.kept_journals:
        out.print(f"journal: the earlier {earlier} is kept as {kept}", markup=False, soft_wrap=True)
    for refusal in run.head_refusals:
        out.print(f"journal: {refusal}", markup=False, soft_wrap=True)
    if args.journal is not None:
        written = save_run_keys(args.journal, run.station_keys, run.scenario.stations())
        out.print(
            f"keys: {written[0]} (the keys each party would publish: audit verify "
            f"--keyring), and each station's private key as {args.journal}/STATION.key "
            "(audit evidence --key)",
            markup=False,
            soft_wrap=True,
        )
    if args.timeline:
        for line in timeline_lines(run):
            out.print(line, markup=False)
    if not args.quiet:
        render_result(out, result)
    elif not passed(result):
        for expectation in result["expectations"]:
            if not expectation["passed"]:
                out.print(
                    f"FAIL {expectation['description']} ({expectation['detail']})", markup=False
                )
    render_traces(out, result, run)
    if args.report:
        from hotline.report.html import write_exercise_report  # noqa: PLC0415 - when asked

        page = write_exercise_report(args.report, result, run)
        out.print(f"report: {page}", markup=False)
    if args.geojson:
        from hotline.report.geojson import exercise_geojson  # noqa: PLC0415 - when asked

        document = exercise_geojson(run.scenario, result)
        write_output(
            Path(args.geojson), (json.dumps(document, indent=1) + "\n").encode(), force=True
        )
        out.print(f"geojson: {args.geojson} ({len(document['features'])} features)", markup=False)


def check_command(args: argparse.Namespace) -> int:
    """Validate only."""
    scenario = load_scenario(args.scenario)
    notices = sum(event.action in NOTICE_ACTIONS for event in scenario.events)
    print(
        f"{args.scenario}: valid: {len(scenario.parties)} parties, "
        f"{len(scenario.stations())} stations, {notices} notices, "
        f"{len(scenario.expectations)} expectations"
    )
    return EXIT_OK


def compare_command(args: argparse.Namespace) -> int:
    """Compare two results: print each incident's verdict."""
    documents = []
    for path in (args.first, args.second):
        try:
            documents.append(check_result(json.loads(read_input(str(path))), str(path)))
        except (ValueError, UnicodeDecodeError) as exc:  # NotAResult, or not JSON at all
            text = str(exc) if isinstance(exc, NotAResult) else f"{path}: not JSON ({exc})"
            raise UserError(text) from None
    names = (documents[0]["transport"], documents[1]["transport"])
    if names[0] == names[1]:
        names = (f"{names[0]} ({args.first.name})", f"{names[1]} ({args.second.name})")
    comparison = compare_results(documents[0], documents[1], names)
    if args.json:
        text = json.dumps(comparison, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            try:
                write_output(
                    Path(args.json), text.encode(), force=True, inputs=[args.first, args.second]
                )
            except FileExistsError:
                raise UserError(f"--json {args.json}: is one of the results compared") from None
            except OSError as exc:
                raise UserError(f"--json {args.json}: {exc.strerror or exc}") from None
    if args.json != "-":
        for line in comparison_lines(comparison, names):
            print(line)
    return EXIT_OK if not comparison["departed"] else EXIT_FAILED
