"""Sweeps on a Dask distributed cluster: the same result as in-process, and one line
(exit 2, before any run) for a cluster that cannot be used."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hotline import __version__
from hotline.cli import main
from tests.test_sweep import EXPECT_NEVER, SCENARIO

VARY = ("--vary", "faults[0].probability=0,0.5")
# a second cluster's scheduler finds the first one's HTTP port (8787, on loopback) taken
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweepable.toml"
    path.write_text(SCENARIO + EXPECT_NEVER)  # failing expectations: their seeds are kept
    return path


@pytest.fixture
def no_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a run started")

    monkeypatch.setattr("hotline.cli.sweep.sweep", refuse)


def run(scenario: Path, *args: str, runs: int = 3) -> int:
    return main(["sweep", str(scenario), "--runs", str(runs), *args])


def sweep_json(scenario: Path, out: Path, *args: str) -> dict[str, Any]:
    code = run(scenario, *VARY, "--json", str(out), *args, "--allow-failed-expectations", runs=12)
    assert code == 0
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def test_a_sweep_on_a_cluster_gives_the_in_process_result(
    scheduler: str, scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_cluster = sweep_json(scenario_file, tmp_path / "cluster.json", "--scheduler", scheduler)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"sweep: 24 runs over 2 workers at {scheduler}"
    assert err[-1].startswith("sweep: 24 of 24 runs (100%) in ")
    in_process = sweep_json(scenario_file, tmp_path / "local.json", "--workers", "1")
    assert (tmp_path / "cluster.json").read_text() == (tmp_path / "local.json").read_text()
    # 12 chunks of 2 runs came back in any order: the failing seeds are still the first
    assert on_cluster["points"][0]["expectations"][1]["failed_seeds"] == [100, 101, 102, 103, 104]
    assert on_cluster == in_process


def test_workers_with_another_hotline_are_refused_before_any_run(
    scheduler: str,
    scenario_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_runs: None,
) -> None:
    monkeypatch.setattr("hotline.sim.cluster.__version__", "0.0.0-other")
    code = run(scenario_file, "--scheduler", scheduler)
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"hotline: error: --scheduler {scheduler}: worker tcp://127.0.0.1:")
    assert line.endswith(f"has hotline {__version__}; every worker needs hotline 0.0.0-other")


def test_an_unreachable_scheduler_is_one_line_within_the_connect_timeout(
    scenario_file: Path, capsys: pytest.CaptureFixture[str], no_runs: None
) -> None:
    pytest.importorskip("distributed")
    address = "tcp://127.0.0.1:1"  # nothing listens on port 1
    started = time.monotonic()
    code = run(scenario_file, "--scheduler", address, "--connect-timeout", "2")
    assert code == 2
    assert time.monotonic() - started < 8
    [line] = capsys.readouterr().err.splitlines()
    # refused at once, or (a loaded machine: the retries outlast the timeout) no answer
    assert line in {
        f"hotline: error: --scheduler {address}: cannot connect within 2 s: {why}"
        for why in ("Connection refused", "no answer")
    }


def test_a_scheduler_without_workers_is_one_line(
    scenario_file: Path, capsys: pytest.CaptureFixture[str], no_runs: None
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None
    ) as empty:
        address = empty.scheduler_address
        code = run(scenario_file, "--scheduler", address, "--connect-timeout", "1")
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"hotline: error: --scheduler {address}: no worker joined within 1 s "
        f"(start one with: dask worker {address})"
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--scheduler", "foo://127.0.0.1:8786"], "unknown address scheme 'foo'"),
        (["--scheduler", "tcp://127.0.0.1"], "missing port number"),
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers: not with"),
        (["--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "0"], "--connect-timeout"),
    ],
)
def test_a_bad_scheduler_option_is_one_line(
    scenario_file: Path,
    capsys: pytest.CaptureFixture[str],
    no_runs: None,
    args: list[str],
    needle: str,
) -> None:
    pytest.importorskip("distributed")
    assert run(scenario_file, *args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert needle in line


def test_without_distributed_a_scheduler_fails_before_any_run_with_the_install_hint(
    scenario_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_runs: None,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    code = run(scenario_file, "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "hotline: error: --scheduler needs distributed: pip install 'hotline[cluster]'"
    ]
