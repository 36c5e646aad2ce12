"""Scenario files run live, every party a real post on a private broker: same outcomes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hotline.audit.evidence import verify_journal
from hotline.audit.journal import read_entries
from hotline.cli import main
from hotline.core.errors import Reason, UntrustedKey
from hotline.core.events import Rejected
from hotline.core.incident import Notice
from hotline.core.keyring import Keyring
from hotline.core.names import Channel, Precedence, inbox_topic
from hotline.core.signing import split_signed
from hotline.core.verifier import Verifier
from hotline.core.wire import decode_envelope
from hotline.live.exercise import LiveExercise, _Clock
from hotline.sim.exercise import Exercise, run_exercise
from hotline.sim.result import build_result
from hotline.sim.scenario import load_scenario
from hotline.sim.timeline import Timeline
from hotline.testing import Mosquitto
from tests.conftest import REPO

pytestmark = pytest.mark.broker
SCALE = 1200.0  # twenty exercise minutes per real second


def summary(result: dict[str, object]) -> list[tuple[object, ...]]:
    incidents = result["incidents"]
    assert isinstance(incidents, list)
    return [(i["id"], i["outcome"], tuple(i["channels"]), i["dispute_reason"]) for i in incidents]


def copies(run: Timeline) -> Counter[tuple[str, ...]]:
    records = run.records or []
    return Counter((r.incident, r.channel, r.kind, r.sender, r.recipient) for r in records)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "name",
    ["tutorial", "general-officers-2018", pytest.param("khasham-2018", marks=pytest.mark.slow)],
)
async def test_fault_free_scenarios_end_live_as_they_do_in_simulation(
    name: str, mosquitto: Mosquitto
) -> None:
    scenario = load_scenario(REPO / "examples" / f"{name}.toml")
    simulation = run_exercise(scenario)
    simulated = build_result(simulation)
    run = await LiveExercise(scenario, mosquitto.url, time_scale=SCALE).run()
    live = run.result()
    assert live["transport"] == "live"
    # the live timeline holds the same messages, each delivered after it was sent
    assert copies(run) == copies(simulation)
    assert all(r.fate == "delivered" for r in run.records)
    assert all(r.arrived_at is not None and r.arrived_at >= r.sent_at for r in run.records)
    assert {n.text for n in run.notes} == {n.text for n in simulation.notes}
    assert summary(live) == summary(simulated)
    assert all(e["passed"] for e in live["expectations"]), live["expectations"]
    assert all(i["held"] for i in live["invariants"]), live["invariants"]
    messages = live["messages"]
    assert messages["sent"] == messages["delivered"] == simulated["messages"]["sent"]


def test_cli_runs_faults_live_and_says_why_a_broker_is_unreachable(
    mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "live.json"
    scenario = str(REPO / "examples" / "warnings-unheard-2015.toml")
    args = ["exercise", "run", scenario, "--broker", mosquitto.url, "--time-scale", "300"]
    assert main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["transport"] == "live"
    assert result["messages"]["drops"] == {"partition": 20}
    capsys.readouterr()
    assert main(["exercise", "run", scenario, "--broker", "mqtt://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "hotline: error: --broker: cannot reach the broker mqtt://127.0.0.1:1: "
        "connection refused (is a broker listening there?)"
    ]
    assert main(["exercise", "run", scenario, "--time-scale", "60"]) == 2
    assert "only a live run (--broker)" in capsys.readouterr().err
    assert main(["exercise", "run", scenario, "--broker", mosquitto.url, "--json", "/no/x"]) == 2
    assert "--json /no/x: no directory /no" in capsys.readouterr().err


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
            "--timeline",
            "--report",
            str(tmp_path / "report"),
        ]
    )
    assert code == 0
    assert '"transport": "live"' in out.read_text()
    printed = capsys.readouterr().out
    assert "PASS" in printed
    assert "BLUE-GO -> RED-GO  escalate strike-1  delivered" in printed
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Live, over MQTT" in page
    assert page.count('class="swimlane"') == 3
    assert (
        main(["exercise", "run", str(REPO / "examples" / "tutorial.toml"), "--broker", "http://x"])
        == 2
    )
    assert "mqtt://" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_a_copy_the_broker_hands_over_again_is_a_record_of_its_own() -> None:
    # QoS 1 is at least once: the timeline shows the second arrival and its fate
    scenario = load_scenario(REPO / "examples" / "tutorial.toml")
    live = LiveExercise(scenario, "mqtt://127.0.0.1:1")
    live._clock = _Clock(scenario.start, 1.0)
    blue = Exercise(scenario).endpoints["BLUE"]
    blue.notify(
        channel=Channel.AIR,
        precedence=Precedence.FLASH,
        notice=Notice(activity="flight"),
        now=scenario.start,
    )
    (message,) = blue.outbox()
    live._sent(message)
    inbox = inbox_topic(message.channel, message.recipients[0])
    live._received(inbox, message.data, [])
    live._received(inbox, message.data, [Rejected(Reason.REPLAY, "seen", scenario.start)])
    live._received(inbox, b"from an earlier run", [])
    assert [(r.kind, r.recipient, r.fate) for r in live.records] == [
        ("notify", "RED-AOC", "delivered"),
        ("notify (again)", "RED-AOC", "rejected: replay"),
    ]


@pytest.mark.slow
@pytest.mark.asyncio
async def test_a_message_captured_in_one_live_run_is_refused_in_the_next(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Each live run signs with fresh keys: replayed into a later run, a notice from an
    earlier one is refused by the protocol itself (unknown-key), whatever its time."""
    scenario = load_scenario(REPO / "examples" / "tutorial.toml")
    first, second = tmp_path / "first", tmp_path / "second"
    for journals in (first, second):
        await LiveExercise(scenario, mosquitto.url, time_scale=SCALE, journals=journals).run()
    captured = [e.body["message"] for e in read_entries(first / "BLUE.journal") if e.kind == "sent"]
    later = verify_journal(second / "RED.journal")
    verifier = Verifier(Keyring(later.keys.values()))
    for message in captured:
        sent_at = decode_envelope(split_signed(message).envelope_bytes).sent_at
        with pytest.raises(UntrustedKey) as refused:
            verifier.verify(message, sent_at)  # even at the very time it was sent
        assert refused.value.reason is Reason.UNKNOWN_KEY
