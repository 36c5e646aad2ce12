"""Live exercises with faults: every party a real post behind the in-process fault proxy,
on a private mosquitto. Each fault kind changes a live run as it changes the simulated
run of the same scenario and seed; the books balance, and break when they should."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiomqtt
import pytest

from hotline.core.names import Channel, inbox_topic
from hotline.live.exercise import LiveExercise
from hotline.live.proxy import LineModel
from hotline.sim.exercise import run_exercise
from hotline.sim.result import build_result
from hotline.sim.scenario import load_scenario, parse_scenario
from hotline.testing import Mosquitto
from tests.conftest import REPO
from tests.posts import session_present

pytestmark = pytest.mark.broker

#: exercise seconds per real second: fast, and slow enough that a timer's lateness
#: (a millisecond or so of real time) stays far from every deadline
SCALE = 300.0

FAULTY = """
[scenario]
name = "faulty-lines"
start = "2026-03-01T06:00:00Z"
seed = 5
duration = "2h"

[parties.BLUE]
air = "BLUE-AOC"
general-officer = "BLUE-GO"

[parties.RED]
air = "RED-AOC"
general-officer = "RED-GO"

[network.air]
latency = "2s"
loss = 0.2
outages = [["1h8m", "1h13m"]]

[network.general-officer]
latency = "5s"

[[responders]]
station = "RED-AOC"
action = "ack"
delay = "1m"

[[responders]]
station = "RED-GO"
action = "ack"
delay = "2m"

[[events]]
at = "0s"
originator = "BLUE-AOC"
incident = "lost-then-escalated"
activity = "flight"
precedence = "flash"
starts_in = "1h"

[[events]]
at = "25m"
originator = "BLUE-AOC"
incident = "tampered-then-retried"
activity = "flight"
precedence = "flash"
starts_in = "1h"

[[events]]
at = "50m"
originator = "BLUE-AOC"
incident = "answered-twice"
activity = "flight"
precedence = "flash"
starts_in = "1h"

[[events]]
at = "1h10m"
originator = "BLUE-AOC"
incident = "through-an-outage"
activity = "flight"
precedence = "immediate"
starts_in = "1h"

[[faults]]
kind = "drop"
channel = "air"
sender = "BLUE-AOC"
until = "25m"

[[faults]]
kind = "corrupt"
channel = "air"
sender = "BLUE-AOC"
start = "25m"
until = "26m"
bits = 8

[[faults]]
kind = "replay"
sender = "RED-AOC"
start = "50m"
until = "60m"
delay = "3m"

[[faults]]
kind = "duplicate"
channel = "general-officer"
delay = "10s"

[[faults]]
kind = "clock-skew"
station = "RED-AOC"
skew = "40s"

[[expect]]
incident = "lost-then-escalated"
outcome = "acknowledged"
channel = "general-officer"

[[expect]]
incident = "tampered-then-retried"
outcome = "acknowledged"
channel = "air"

[[expect]]
incident = "*"
outcome = "acknowledged"
"""


def summary(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (i["id"], i["outcome"], tuple(i["channels"]), i["fallbacks"], i["attempts"])
        for i in result["incidents"]
    ]


def plan_decided(result: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """The faults the plan decided from each copy's own draws (not from timing)."""
    from hotline.faults import PLAN_DECIDED

    return {
        (i["id"], f["copy"], f["fault"], f["action"])
        for i in result["incidents"]
        for f in i.get("faults", [])
        if f["fault"] in PLAN_DECIDED
    }


def books(result: dict[str, Any]) -> tuple[int, ...]:
    m = result["messages"]
    return m["sent"], m["injected"], m["delivered"], m["dropped"], m["in_flight"]


@pytest.mark.asyncio
async def test_faults_change_a_live_run_as_they_change_the_simulated_one(
    mosquitto: Mosquitto,
) -> None:
    scenario = parse_scenario(FAULTY, "faulty-lines")
    simulated = build_result(run_exercise(scenario))
    run = await LiveExercise(scenario, mosquitto.url, time_scale=2 * SCALE).run()
    live = run.result()
    assert summary(live) == summary(simulated)
    assert all(e["passed"] for e in live["expectations"]), live["expectations"]
    assert all(i["held"] for i in live["invariants"]), live["invariants"]
    # what the plan decided from each copy's own draws is the same, copy by copy
    assert plan_decided(live) == plan_decided(simulated)
    assert plan_decided(live)  # and there was something to decide
    for key in ("drops", "injections"):
        assert live["messages"][key] == simulated["messages"][key], key
    refused = {k: v for k, v in live["messages"]["rejected"].items() if v}
    assert refused == {k: v for k, v in simulated["messages"]["rejected"].items() if v}
    assert refused["replay"] >= 1  # the replayed answer
    assert sum(refused.values()) > refused["replay"]  # and the tampered copy
    sent, injected, delivered, dropped, flying = books(live)
    assert sent + injected == delivered + dropped + flying
    assert live["messages"]["foreign"] == {}
    # [network] is applied: each copy took at least its line's latency, in exercise time
    for record in run.records:
        if record.fate == "delivered" and "(" not in record.kind:
            latency = 5.0 if record.channel == "general-officer" else 2.0
            assert record.arrived_at is not None
            assert record.arrived_at - record.sent_at >= latency - 0.01, record


@pytest.mark.asyncio
async def test_a_partitioned_line_and_a_forger_live(mosquitto: Mosquitto) -> None:
    scenario = load_scenario(REPO / "examples" / "warnings-unheard-2015.toml")
    simulated = build_result(run_exercise(scenario))
    run = await LiveExercise(scenario, mosquitto.url, time_scale=SCALE).run()
    live = run.result()
    for post in run.posts.values():  # a run leaves no session behind on the broker
        assert not await session_present(mosquitto, post.link.client_id)
    assert summary(live) == summary(simulated)
    assert all(e["passed"] for e in live["expectations"]), live["expectations"]
    assert all(i["held"] for i in live["invariants"]), live["invariants"]
    assert books(live) == books(simulated)
    assert live["messages"]["rejected"]["unknown-key"] == 40  # every forgery refused


STATIONS_DOWN = """
[scenario]
name = "a-post-goes-dark"
start = "2026-03-01T06:00:00Z"
seed = 3
duration = "3h"

[parties.BLUE]
air = "BLUE-AOC"

[parties.RED]
air = "RED-AOC"

[doctrine.channels.air]
fallback = "none"
retries = 4

[network.air]
latency = "2s"

[[responders]]
station = "RED-AOC"
action = "ack"
delay = "1m"

[[events]]
at = "0s"
originator = "BLUE-AOC"
incident = "sent-into-the-dark"
activity = "flight"
precedence = "flash"
starts_in = "2h"

[[faults]]
kind = "station-down"
station = "RED-AOC"
until = "15m"

[[expect]]
incident = "sent-into-the-dark"
outcome = "acknowledged"
"""


@pytest.mark.asyncio
async def test_a_station_down_is_cut_and_answers_once_back(mosquitto: Mosquitto) -> None:
    scenario = parse_scenario(STATIONS_DOWN, "a-post-goes-dark")
    simulated = build_result(run_exercise(scenario))
    run = await LiveExercise(scenario, mosquitto.url, time_scale=SCALE).run()
    live = run.result()
    assert summary(live) == summary(simulated)
    assert live["messages"]["drops"] == simulated["messages"]["drops"]
    assert all(e["passed"] for e in live["expectations"]), live["expectations"]
    assert all(i["held"] for i in live["invariants"]), live["invariants"]
    assert live["messages"]["proxy"]["connections"]["cut"] >= 1
    assert live["messages"]["proxy"]["connections"]["refused"] >= 1


@pytest.mark.asyncio
async def test_the_books_break_when_a_copy_is_lost_uncounted(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that loses a copy without saying so: the invariant must see it."""
    scenario = load_scenario(REPO / "examples" / "warnings-unheard-2015.toml")
    counted = LineModel._verdict

    def uncounted(self: LineModel, *args: Any, **kwargs: Any) -> Any:
        verdict = counted(self, *args, **kwargs)
        if any(r.action == "dropped" for r in verdict.applied):
            self.counts.dropped -= 1  # the copy is gone and no count says so
        return verdict

    monkeypatch.setattr(LineModel, "_verdict", uncounted)
    live = (await LiveExercise(scenario, mosquitto.url, time_scale=SCALE).run()).result()
    (accounted,) = [i for i in live["invariants"] if i["name"] == "messages-accounted"]
    assert not accounted["held"]
    assert "sent" in accounted["detail"]


@pytest.mark.asyncio
async def test_messages_no_post_sent_are_foreign_not_delivered(mosquitto: Mosquitto) -> None:
    """Junk, a flipped byte and a capture published straight to a station's inbox."""
    scenario = load_scenario(REPO / "examples" / "tutorial.toml")
    simulated = build_result(run_exercise(scenario))
    run = LiveExercise(scenario, mosquitto.url, time_scale=1200)
    task = asyncio.create_task(run.run())
    while not run.records:  # the exercise has begun
        await asyncio.sleep(0.01)
    inbox = inbox_topic(Channel.AIR, "RED-AOC")
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="intruder") as intruder:
        for n in range(8):
            await intruder.publish(inbox, b"\x92\xc4\x03abc" + bytes([n]), qos=1)
    await task
    live = run.result()
    assert live["messages"]["foreign"] == {"air": 8}
    assert summary(live) == summary(simulated)
    assert all(i["held"] for i in live["invariants"]), live["invariants"]
    assert books(live)[2] == simulated["messages"]["delivered"]  # junk is not delivered
    refused = sum(live["messages"]["rejected"].values())
    assert refused == sum(simulated["messages"]["rejected"].values()) + 8


TWO_NOTICES = """
[scenario]
name = "two-notices"
start = "2026-03-01T06:00:00Z"
duration = "2h"

[parties.BLUE]
air = "BLUE-AOC"

[parties.RED]
air = "RED-AOC"

[doctrine.channels.air]
fallback = "none"

[[responders]]
station = "RED-AOC"
action = "ack"
delay = "10m"

[[events]]
at = "0s"
originator = "BLUE-AOC"
incident = "first"
activity = "flight"
precedence = "immediate"
starts_in = "2h"

[[events]]
at = "1m"
originator = "BLUE-AOC"
incident = "second"
activity = "flight"
precedence = "immediate"
starts_in = "2h"

[[expect]]
incident = "*"
outcome = "acknowledged"
"""


@pytest.mark.asyncio
async def test_a_broker_restart_and_a_reset_lose_no_notice(mosquitto: Mosquitto) -> None:
    scenario = parse_scenario(TWO_NOTICES, "two-notices")
    simulated = build_result(run_exercise(scenario))
    reset = parse_scenario(
        TWO_NOTICES + '\n[[faults]]\nkind = "reset-peer"\nstart = "2m"\nuntil = "3m"\n',
        "two-notices-reset",
    )
    live = (await LiveExercise(reset, mosquitto.url, time_scale=SCALE).run()).result()
    assert summary(live) == summary(simulated)
    assert live["messages"]["proxy"]["connections"]["reset-peer"] >= 1
    run = LiveExercise(scenario, mosquitto.url, time_scale=SCALE)
    task = asyncio.create_task(run.run())
    while not run.records:  # the first notice is on its way
        await asyncio.sleep(0.01)
    mosquitto.wait_for_save()  # the posts' sessions are on the broker's disk
    mosquitto.kill()
    await asyncio.sleep(0.3)
    mosquitto.start()
    await task
    restarted = run.result()
    assert summary(restarted) == summary(simulated)
    assert all(e["passed"] for e in restarted["expectations"]), restarted["expectations"]


@pytest.mark.asyncio
async def test_an_interrupted_run_keeps_what_happened(mosquitto: Mosquitto) -> None:
    scenario = parse_scenario(TWO_NOTICES, "two-notices")
    run = LiveExercise(scenario, mosquitto.url, time_scale=60)
    task = asyncio.create_task(run.run())
    while not run.records:
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    result = run.result()
    assert result["interrupted"] is True
    assert result["incidents"]  # what was opened before the interruption
    assert result["ended_at"] < scenario.duration


@pytest.mark.asyncio
async def test_a_duplicate_corrupted_after_is_a_copy_of_its_own(mosquitto: Mosquitto) -> None:
    """Faults compose: a duplicate a later fault corrupts is still an added copy."""
    text = TWO_NOTICES + (
        '\n[[faults]]\nkind = "duplicate"\nuntil = "30s"\n'
        '\n[[faults]]\nkind = "corrupt"\nuntil = "30s"\nbits = 8\n'
    )
    scenario = parse_scenario(text, "two-notices-mangled")
    simulated = build_result(run_exercise(scenario))
    live = (await LiveExercise(scenario, mosquitto.url, time_scale=2 * SCALE).run()).result()
    assert summary(live) == summary(simulated)
    assert books(live) == books(simulated)
    assert live["messages"]["foreign"] == {}
    assert all(i["held"] for i in live["invariants"]), live["invariants"]


SENDER_DOWN = """
[scenario]
name = "the-sender-goes-dark"
start = "2026-03-01T06:00:00Z"
seed = 4
duration = "3h"

[parties.BLUE]
air = "BLUE-AOC"

[parties.RED]
air = "RED-AOC"

[doctrine.channels.air]
fallback = "none"
retries = 5

[network.air]
latency = "2s"

[[responders]]
station = "RED-AOC"
action = "ack"
delay = "1m"

[[events]]
at = "0s"
originator = "BLUE-AOC"
incident = "sent-before-the-dark"
activity = "flight"
precedence = "flash"
starts_in = "2h"

[[faults]]
kind = "station-down"
station = "BLUE-AOC"
start = "30s"
until = "25m"
"""


@pytest.mark.asyncio
async def test_what_a_down_post_sends_is_lost_as_in_simulation(mosquitto: Mosquitto) -> None:
    """A post cut off keeps what it sends in its outbox and publishes it when it is back;
    judged by when it was sent, those copies are lost as the simulator loses them."""
    scenario = parse_scenario(SENDER_DOWN, "the-sender-goes-dark")
    simulated = build_result(run_exercise(scenario))
    live = (await LiveExercise(scenario, mosquitto.url, time_scale=SCALE).run()).result()
    assert summary(live) == summary(simulated)
    assert live["messages"]["drops"] == simulated["messages"]["drops"]
    assert simulated["messages"]["drops"]["station-down"] >= 2  # the answer, and a retry
    assert all(i["held"] for i in live["invariants"]), live["invariants"]
