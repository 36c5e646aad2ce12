"""Scenario files run live, every party a real post on a private broker: same outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.cli import main
from hotline.live import run_live
from hotline.sim.exercise import run_exercise
from hotline.sim.fields import ScenarioError
from hotline.sim.result import build_result
from hotline.sim.scenario import load_scenario
from hotline.testing import Mosquitto
from tests.conftest import REPO

pytestmark = pytest.mark.broker
SCALE = 1200.0  # twenty exercise minutes per real second


def summary(result: dict[str, object]) -> list[tuple[object, ...]]:
    incidents = result["incidents"]
    assert isinstance(incidents, list)
    return [(i["id"], i["outcome"], tuple(i["channels"]), i["dispute_reason"]) for i in incidents]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["tutorial", "general-officers-2018", "khasham-2018"])
async def test_fault_free_scenarios_end_live_as_they_do_in_simulation(
    name: str, mosquitto: Mosquitto
) -> None:
    scenario = load_scenario(REPO / "examples" / f"{name}.toml")
    simulated = build_result(run_exercise(scenario, record=False))
    live = await run_live(scenario, mosquitto.url, time_scale=SCALE)
    assert live["transport"] == "mqtt"
    assert summary(live) == summary(simulated)
    assert all(e["passed"] for e in live["expectations"]), live["expectations"]
    assert all(i["held"] for i in live["invariants"]), live["invariants"]
    messages = live["messages"]
    assert messages["sent"] == messages["delivered"] == simulated["messages"]["sent"]


@pytest.mark.asyncio
async def test_faults_are_refused_live(mosquitto: Mosquitto) -> None:
    scenario = load_scenario(REPO / "examples" / "warnings-unheard-2015.toml")
    with pytest.raises(ScenarioError, match="simulation only"):
        await run_live(scenario, mosquitto.url, time_scale=SCALE)


def test_cli_runs_live_with_a_broker(
    mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "live.json"
    code = main(
        [
            "exercise",
            "run",
            str(REPO / "examples" / "tutorial.toml"),
            "--broker",
            mosquitto.url,
            "--time-scale",
            str(SCALE),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    assert '"transport": "mqtt"' in out.read_text()
    assert "PASS" in capsys.readouterr().out
    assert (
        main(["exercise", "run", str(REPO / "examples" / "tutorial.toml"), "--broker", "http://x"])
        == 2
    )
    assert "mqtt://" in capsys.readouterr().err
