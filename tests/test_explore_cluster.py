"""Explorations on a Dask distributed cluster: the same states, transitions and
counterexamples as in-process, and one line (exit 2) for a cluster that cannot be used."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from hotline import __version__
from hotline.cli import main
from hotline.explore import search
from hotline.explore.search import Expander
from hotline.explore.world import Bounds, freeze, initial_world
from hotline.sim.model import Scenario
from hotline.sim.scenario import load_scenario
from tests.conftest import REPO

TUTORIAL = str(REPO / "examples" / "tutorial.toml")
BOUNDS = ("--max-loss", "1", "--max-duplicates", "1")
TIMING = ("seconds", "states_per_second")
# a second cluster's scheduler finds the first one's HTTP port (8787, on loopback) taken
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")


def explored(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """The exploration of the tutorial as JSON, less its timing."""
    assert main(["explore", TUTORIAL, *BOUNDS, "--json", "-", *args]) == 1  # it has violations
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    for name in TIMING:
        del document[name]
    return document


def expanders(scheduler: str) -> dict[str, int]:
    """Each worker's count of the Expanders it keeps (`_expand_task`)."""
    from distributed import Client  # optional: the fixture skips without it

    def kept() -> int:
        return len(search._expanders)

    with Client(scheduler, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        counts: dict[str, int] = client.run(kept)
    return counts


@pytest.mark.slow
def test_an_exploration_on_a_cluster_finds_exactly_what_one_process_finds(
    scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = expanders(scheduler)
    on_cluster = explored(capsys, "--scheduler", scheduler)
    in_process = explored(capsys)
    assert on_cluster == in_process
    assert on_cluster["states"] > 900
    assert on_cluster["violations"]
    # 25 levels in several chunks each: both workers (one thread each) took part
    after = expanders(scheduler)
    assert len(after) == 2
    assert all(after[worker] == before.get(worker, 0) + 1 for worker in after)


def test_a_worker_makes_its_expander_once_per_exploration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Expander] = []

    class Counted(Expander):
        def __init__(self, scenario: Scenario, bounds: Bounds) -> None:
            super().__init__(scenario, bounds)
            made.append(self)

    monkeypatch.setattr(search, "Expander", Counted)
    monkeypatch.setattr(search, "_expanders", {})
    scenario = load_scenario(Path(TUTORIAL))
    setup = (scenario.document, scenario.source, Bounds())
    _, start = freeze(initial_world(scenario, Bounds()))
    first = search._expand_task([start], "one", setup)
    assert search._expand_task([start, start], "one", setup)[1] == first[0]
    assert len(made) == 1
    for n in range(10):  # other explorations: the oldest are forgotten, not all kept
        search._expand_task([start], f"other-{n}", setup)
    assert len(made) == 11
    assert len(search._expanders) == search._EXPANDERS_KEPT


def test_max_states_on_a_cluster_stops_where_one_process_stops(
    scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    on_cluster = explored(capsys, "--max-states", "300", "--scheduler", scheduler)
    assert on_cluster == explored(capsys, "--max-states", "300")
    assert (on_cluster["states"], on_cluster["complete"]) == (300, False)


def test_workers_with_another_hotline_are_refused(
    scheduler: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hotline.sim.cluster.__version__", "0.0.0-other")
    assert main(["explore", TUTORIAL, "--scheduler", scheduler]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"hotline: error: --scheduler {scheduler}: worker tcp://127.0.0.1:")
    assert line.endswith(f"has hotline {__version__}; every worker needs hotline 0.0.0-other")


def test_an_unreachable_scheduler_is_one_line_within_the_connect_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("distributed")
    address = "tcp://127.0.0.1:1"  # nothing listens on port 1
    started = time.monotonic()
    code = main(["explore", TUTORIAL, "--scheduler", address, "--connect-timeout", "2"])
    assert code == 2
    assert time.monotonic() - started < 8
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    # refused at once, or (a loaded machine: the retries outlast the timeout) no answer
    assert line in {
        f"hotline: error: --scheduler {address}: cannot connect within 2 s: {why}"
        for why in ("Connection refused", "no answer")
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "--workers: not with --scheduler"),
        (["--workers", "1"], "--workers: not with --scheduler"),
        (["--dfs"], "--dfs: not with --scheduler"),
        (["--connect-timeout", "0"], "--connect-timeout: 0 is not in (0, 3600] s"),
    ],
)
def test_a_bad_scheduler_option_is_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["explore", TUTORIAL, "--scheduler", "tcp://127.0.0.1:1", *args])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line
