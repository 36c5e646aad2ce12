"""Sweeps: the grid, reproducibility across worker counts, and the statistics."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from hotline.cli import main
from hotline.sim.fields import ScenarioError
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
