"""Sweeps: the grid, reproducibility across worker counts, the statistics, and what a sweep
tells: open incidents, expectations' pass rates, outputs checked first, progress."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from hotline.cli import main
from hotline.cli.sweep import ProgressLines
from hotline.sim.fields import ScenarioError
from hotline.sim.processes import worker_context
from hotline.sim.scenario import read_toml
from hotline.sim.sweep import grid, parse_vary, percentile, set_path, sweep, sweep_document, wilson

SCENARIO = """
[scenario]
name = "sweepable"
seed = 100
duration = "2d"
signing = "none"

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
repeat = 5
every = "1h"

[[responders]]
station = "RU-GROUND"
action = "ack"
delay = { kind = "uniform", low = "30s", high = "5m" }

[[responders]]
station = "RU-CGS"
action = "ack"
delay = "2m"

[[faults]]
kind = "drop"
channel = "ground"
probability = 0.0
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweepable.toml"
    path.write_text(SCENARIO)
    return path


def run_grid(vary: list[str], runs: int, workers: int) -> dict[str, Any]:
    varies = [parse_vary(v) for v in vary]
    points = grid(read_toml(SCENARIO), varies, "sweepable.toml")
    return sweep_document("sweepable", 100, runs, varies, sweep(points, runs, 100, workers))


def test_vary_values_are_read_as_toml_or_bare_words() -> None:
    vary = parse_vary('network.air.latency=2,"5s",0.5,escalate,true')
    assert vary.path == "network.air.latency"
    assert vary.values == (2, "5s", 0.5, "escalate", True)
    for bad in ("no-equals", "=1,2", "a..b=1", "a[x]=1"):
        with pytest.raises(ValueError, match="--vary"):
            parse_vary(bad)


def test_set_path_walks_tables_and_arrays() -> None:
    document: dict[str, Any] = {"faults": [{"kind": "drop"}]}
    set_path(document, "faults[0].probability", 0.5)
    set_path(document, "doctrine.channels.ground.retries", 3)
    assert document == {
        "faults": [{"kind": "drop", "probability": 0.5}],
        "doctrine": {"channels": {"ground": {"retries": 3}}},
    }
    with pytest.raises(ValueError, match=r"has no item \[3\]"):
        set_path(document, "faults[3].kind", "delay")


def test_a_bad_point_is_refused_before_anything_runs() -> None:
    with pytest.raises(ScenarioError) as caught:
        grid(read_toml(SCENARIO), [parse_vary("faults[0].probability=0.5,1.5")], "s.toml")
    assert "faults[0].probability=1.5" in caught.value.source
    assert caught.value.field == "faults[0].probability"


def test_the_result_does_not_depend_on_the_number_of_workers() -> None:
    one = run_grid(["faults[0].probability=0,0.5"], 12, workers=1)
    two = run_grid(["faults[0].probability=0,0.5"], 12, workers=2)
    assert json.dumps(one) == json.dumps(two)


def test_workers_are_not_forked_while_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # a forked worker copies locks that other threads of the caller (a Dask client's
    # loop, a post's checkpointer) hold at that instant, and can wait on them for ever
    def no_fork() -> int:
        raise AssertionError("a sweep forked a process running other threads")

    monkeypatch.setattr(os, "fork", no_fork)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="the caller's other thread")
    other.start()
    try:
        result = run_grid(["faults[0].probability=0,0.5"], 4, workers=2)
    finally:
        stop.set()
        other.join()
    assert [point["runs"] for point in result["points"]] == [4, 4]


def test_workers_are_forked_from_a_process_with_one_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert worker_context().get_start_method() == "fork"  # they start with hotline loaded
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert worker_context().get_start_method() == "spawn"


def test_first_line_acknowledgement_falls_as_the_drop_rate_rises() -> None:
    result = run_grid(["faults[0].probability=0,0.3,0.7"], 60, workers=2)
    first = [point["first_line_ack"] for point in result["points"]]
    assert first[0]["p"] == 1.0  # no drops: every patrol acknowledged on the ground line
    assert first[0]["p"] > first[1]["p"] > first[2]["p"]
    # the intervals of neighbouring points do not even overlap
    assert first[1]["high"] < first[0]["low"]
    assert first[2]["high"] < first[1]["low"]
    # each call succeeds when the notice and its acknowledgement both survive (the desk
    # repeats its ack for the retry): P = 1 - (1 - (1 - q)^2)^2 with one retry
    for q, point in zip((0.0, 0.3, 0.7), first, strict=True):
        expected = 1 - (1 - (1 - q) ** 2) ** 2
        assert point["low"] <= expected <= point["high"], (q, expected, point)
    for point in result["points"]:
        assert point["outcomes"]["acknowledged"]["p"] == 1.0  # the generals always answer
        assert point["runs_with_broken_invariants"] == 0
    p50 = [point["time_to_outcome"]["p50"] for point in result["points"]]
    assert p50[0] < p50[2]


def test_wilson_interval_and_percentiles() -> None:
    p, low, high = wilson(50, 100)
    assert p == 0.5
    assert low == pytest.approx(0.4038, abs=1e-4)
    assert high == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 20)[1] == 0.0
    assert wilson(20, 20)[2] == 1.0
    assert wilson(0, 0) == (0.0, 0.0, 1.0)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([], 0.5) is None


def test_cli_writes_json_csv_and_a_plot(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    code = main(
        [
            "sweep",
            str(scenario_file),
            "--runs",
            "6",
            "--workers",
            "2",
            "--vary",
            "faults[0].probability=0,1",
            "--vary",
            "doctrine.channels.ground.retries=0,1",
            "--json",
            str(out / "s.json"),
            "--csv",
            str(out / "s.csv"),
            "--plot",
            str(out / "s.png"),
        ]
    )
    assert code == 0
    document = json.loads((out / "s.json").read_text())
    assert document["vary"] == ["faults[0].probability", "doctrine.channels.ground.retries"]
    assert [p["values"] for p in document["points"]] == [
        {"faults[0].probability": 0, "doctrine.channels.ground.retries": 0},
        {"faults[0].probability": 0, "doctrine.channels.ground.retries": 1},
        {"faults[0].probability": 1, "doctrine.channels.ground.retries": 0},
        {"faults[0].probability": 1, "doctrine.channels.ground.retries": 1},
    ]
    rows = list(csv.reader((out / "s.csv").open()))
    assert len(rows) == 5
    assert rows[0][:3] == ["faults[0].probability", "doctrine.channels.ground.retries", "runs"]
    assert (out / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "acknowledged 1.000" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--runs", "0"], "--runs"),
        (["--runs", "2", "--vary", "oops"], "PATH=V1"),
        (["--runs", "2", "--vary", "faults[0].kind=explode"], "faults[0].kind"),
        (["--runs", "2", "--workers", "0"], "--workers"),
    ],
)
def test_cli_bad_input_is_one_line(
    scenario_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert main(["sweep", str(scenario_file), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert needle in err[0]


def test_runs_with_broken_invariants_are_counted_with_their_seeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hotline.sim.result import build_result as real

    def breaking(exercise: Any) -> dict[str, Any]:
        result = real(exercise)
        if exercise.seed % 3 == 0:  # pretend every third seed broke an invariant
            result["invariants"][0] = {"name": "x", "held": False, "detail": "", "incidents": []}
        return result

    monkeypatch.setattr("hotline.sim.sweep.build_result", breaking)
    result = run_grid(["faults[0].probability=0"], 9, workers=1)
    (point,) = result["points"]
    assert point["runs_with_broken_invariants"] == 3
    assert point["broken_seeds"] == [102, 105, 108]


# What a sweep tells: incidents still open, expectations, outputs checked up front, progress

EXPECT_NEVER = """
[[expect]]
incident = "*"
outcome = "acknowledged"

[[expect]]
incident = "*"
outcome = "disputed"
description = "every patrol disputed"
"""


def sweep_cli(
    scenario: Path, out: Path, *args: str, vary: tuple[str, ...] = ("faults[0].probability=0,1",)
) -> int:
    varies = [item for text in vary for item in ("--vary", text)]
    return main(
        [
            "sweep",
            str(scenario),
            "--runs",
            "4",
            "--workers",
            "1",
            *varies,
            "--json",
            str(out / "s.json"),
            "--report",
            str(out / "report"),
            *args,
        ]
    )


def test_incidents_still_open_are_shown_in_text_json_and_html(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a 20-minute run: with the ground line dropping everything, the general officers'
    # acknowledgement (after 22 minutes) comes too late, and the patrol stays open
    vary = ("faults[0].probability=0,1", "scenario.duration=20m")
    assert sweep_cli(scenario_file, tmp_path, vary=vary) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    fine, dropped = (
        lines.index(f"faults[0].probability={q}, {vary[1]}: 4 incidents in 4 runs") for q in (0, 1)
    )
    assert "  open         0.000 [0.000, 0.490]  (still open when the run ended)" in lines[fine:]
    assert lines[dropped + 1] == "  acknowledged 0.000 [0.000, 0.490]"
    assert (
        lines[dropped + 6] == "  open         1.000 [0.510, 1.000]  (still open when the run ended)"
    )
    assert "time to close, over closed incidents only (4 of 4): p50 " in text
    assert "time to close, over closed incidents only (0 of 4): p50 -, p90 -, p99 -" in text
    document = json.loads((tmp_path / "s.json").read_text())
    last = document["points"][1]
    assert last["outcomes"]["open"] == {"count": 4, "p": 1.0, "low": 0.510109, "high": 1.0}
    assert last["closed_incidents"] == 0
    assert last["time_to_outcome"] == {"p50": None, "p90": None, "p99": None}
    page = (tmp_path / "report" / "index.html").read_text()
    assert "<th>open</th>" in page
    assert (
        "<td>1.000 [0.510, 1.000]</td><td>0.000</td><td>0 of 4</td>" in page
    )  # open, first, closed
    assert "over the closed incidents only" in page


def test_an_expectation_failing_in_every_run_fails_the_sweep(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file.write_text(SCENARIO + EXPECT_NEVER)
    assert sweep_cli(scenario_file, tmp_path, "--csv", str(tmp_path / "s.csv")) == 1
    text = capsys.readouterr().out
    assert (
        "expect every patrol disputed: FAILED, passed 0 of 4 runs, 0.000 [0.000, 0.490]; "
        "failed with seeds 100, 101, 102, 103" in text
    )
    assert "expect every incident acknowledged: held, passed 4 of 4 runs" in text
    assert "expectations failed in 8 runs" in text.splitlines()[-1]
    assert "--allow-failed-expectations" in text.splitlines()[-1]
    document = json.loads((tmp_path / "s.json").read_text())
    for point in document["points"]:
        held, never = point["expectations"]
        assert held["passed"]["count"] == 4
        assert never["description"] == "every patrol disputed"
        assert never["runs"] == 4
        assert never["passed"] == {"count": 0, "p": 0.0, "low": 0.0, "high": 0.489891}
        assert point["runs_with_failed_expectations"] == 4
    rows = list(csv.reader((tmp_path / "s.csv").open()))
    assert rows[0][-3:] == ["expect_1_pass", "expect_1_pass_low", "expect_1_pass_high"]
    assert rows[1][-3:] == ["0.0", "0.0", "0.489891"]
    page = (tmp_path / "report" / "index.html").read_text()
    assert "<td>every patrol disputed</td><td>FAILED</td><td>0 of 4</td>" in page
    assert "<td>0.000 [0.000, 0.490]</td>" in page

    assert sweep_cli(scenario_file, tmp_path, "--allow-failed-expectations") == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "expectations failed in 8 runs (allowed by --allow-failed-expectations)"


def test_expectation_verdicts_do_not_depend_on_the_number_of_workers() -> None:
    varies = [parse_vary("faults[0].probability=0,0.2")]
    on_ground = '[[expect]]\nincident = "*"\nchannel = "ground"\n'
    points = grid(read_toml(SCENARIO + EXPECT_NEVER + on_ground), varies, "s.toml")
    one, two = (sweep(points, 10, 100, workers) for workers in (1, 2))
    assert json.dumps(one) == json.dumps(two)
    assert one[0]["expectations"][2]["passed"]["count"] == 10
    assert 0 < one[1]["expectations"][2]["passed"]["count"] < 10  # some went up the ladder


def test_wilson_interval_against_known_values() -> None:
    p, low, high = wilson(0, 10)
    assert (p, low) == (0.0, 0.0)
    assert high == pytest.approx(0.2775, abs=1e-4)
    p, low, high = wilson(5, 10)
    assert p == 0.5
    assert low == pytest.approx(0.2366, abs=1e-4)
    assert high == pytest.approx(0.7634, abs=1e-4)
    assert wilson(10, 10)[1] == pytest.approx(0.7225, abs=1e-4)


def test_plot_without_matplotlib_fails_before_any_run(
    scenario_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)

    def no_runs(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a run started")

    monkeypatch.setattr("hotline.cli.sweep.sweep", no_runs)
    code = main(["sweep", str(scenario_file), "--runs", "3", "--plot", str(tmp_path / "s.png")])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "hotline: error: --plot needs matplotlib: pip install 'hotline[plot]'"
    ]


@pytest.mark.parametrize(
    ("flag", "where", "needle"),
    [
        ("--json", "{scenario}", "is the scenario"),
        ("--csv", "{tmp}/missing/s.csv", "no directory"),
        ("--plot", "{tmp}", "is a directory"),
        ("--report", "{scenario}", "is not a directory"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_before_any_run(
    scenario_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: str,
    where: str,
    needle: str,
) -> None:
    def no_runs(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a run started")

    monkeypatch.setattr("hotline.cli.sweep.sweep", no_runs)
    path = where.format(scenario=scenario_file, tmp=tmp_path)
    assert main(["sweep", str(scenario_file), "--runs", "3", flag, path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert flag in err[0]
    assert needle in err[0]
    assert scenario_file.read_text() == SCENARIO


def test_the_same_file_for_two_outputs_is_refused(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = str(tmp_path / "out")
    assert main(["sweep", str(scenario_file), "--runs", "3", "--json", same, "--csv", same]) == 2
    assert "also the file of --json" in capsys.readouterr().err


def test_progress_is_printed_as_lines_when_not_on_a_terminal(
    scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", str(scenario_file), "--runs", "4", "--workers", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "sweep: 4 runs over 1 worker"
    assert err[-1].startswith("sweep: 4 of 4 runs (100%) in ")
    assert len(err) <= 12


def test_progress_lines_come_every_tenth_or_after_a_wait_and_stay_few() -> None:
    now = [0.0]
    out = io.StringIO()
    lines = ProgressLines(1000, out, clock=lambda: now[0])
    lines.update(1)
    assert out.getvalue() == ""  # nothing yet: not a tenth, not 5 s
    now[0] = 6.0
    lines.update(2)
    assert out.getvalue() == "sweep: 2 of 1000 runs (0%), 6 s elapsed, about 2994 s left\n"
    lines.update(100)
    assert out.getvalue().splitlines()[-1].startswith("sweep: 100 of 1000 runs (10%)")
    # a day of runs, one finishing every second: a few dozen lines, not thousands
    now[0], out = 0.0, io.StringIO()
    day = ProgressLines(86_400, out, clock=lambda: now[0])
    for done in range(1, 86_401):
        now[0] = float(done)
        day.update(done)
    printed = out.getvalue().splitlines()
    assert len(printed) < 100
    assert printed[-1] == "sweep: 86400 of 86400 runs (100%) in 86400 s"


def test_a_map_file_is_read_from_the_scenarios_folder_in_every_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = Path(__file__).parent.parent / "examples"
    folder = tmp_path / "maps"
    folder.mkdir()
    for name in ("deir-ez-zor-2017.toml", "deir-ez-zor.geojson"):
        (folder / name).write_bytes((examples / name).read_bytes())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # not where the map is
    scenario = str(folder / "deir-ez-zor-2017.toml")
    out = tmp_path / "out.json"
    assert main(["sweep", scenario, "--runs", "2", "--workers", "2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["points"][0]["runs"] == 2
    # a varied file is the scenario's folder's too, and one missing is named before any run
    vary = "geometry.file=deir-ez-zor.geojson,gone.geojson"
    assert main(["sweep", scenario, "--runs", "2", "--vary", vary]) == 2
    error = capsys.readouterr().err
    assert str(folder / "gone.geojson") in error
    assert "No such file" in error


WORKER_SIGNALS = """
import signal, socket
from concurrent.futures import ProcessPoolExecutor
from hotline.sim.processes import fresh_signals, worker_context

def state():
    return (
        signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
        signal.set_wakeup_fd(-1),
        signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
    )

ours, _ = socket.socketpair()
ours.setblocking(False)
signal.set_wakeup_fd(ours.fileno())  # as an asyncio loop with signal handlers has it
signal.signal(signal.SIGTERM, lambda *_: None)
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job has it: kept
context = worker_context()
with ProcessPoolExecutor(1, mp_context=context, initializer=fresh_signals) as pool:
    print(context.get_start_method(), *pool.submit(state).result())
"""


def test_a_forked_worker_does_not_inherit_its_parent_s_signal_handling() -> None:
    # in a process of its own: one thread, so its workers are forked
    done = subprocess.run(
        [sys.executable, "-c", WORKER_SIGNALS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fork", "True", "-1", "True"]
