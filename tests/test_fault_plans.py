"""Fault plans shared by the simulator and the live proxy: each copy decided from its own
draws, plan files read with the scenario loader's checks, the faults each incident met
listed in results, and two runs compared incident by incident."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.cli import main
from hotline.core.names import Channel
from hotline.faultfile import fault_from_table, fault_table, load_fault_plan
from hotline.faults import Copy, CopyDraws, Fault, FaultKind, FaultPlan, Stream, topic_matches
from hotline.live.proxy import LineModel
from hotline.report.compare import compare_results
from hotline.sim.exercise import run_exercise
from hotline.sim.fields import ScenarioError
from hotline.sim.result import build_result
from hotline.sim.scenario import load_scenario, parse_scenario
from tests.conftest import REPO

NOTICE = Copy(Channel.AIR, "BLUE-AOC", "RED-AOC", b"", 0.0, "strike-1", "notify")


def decisions(plan: FaultPlan, copies: list[Copy]) -> dict[tuple[str, int], tuple[Any, ...]]:
    """What ``plan`` makes of each copy, by identity and ordinal."""
    seen: dict[str, int] = {}
    found = {}
    for copy in copies:
        draws = plan.draws(copy)
        outcome = plan.apply(copy, draws)
        key = f"{copy.incident}|{copy.kind}|{copy.recipient}"
        seen[key] = seen.get(key, -1) + 1
        assert draws.ordinal == seen[key]
        found[(key, draws.ordinal)] = (
            outcome.dropped_by,
            tuple((d.tag, round(d.delay, 9)) for d in outcome.deliveries),
        )
    return found


@given(st.randoms(use_true_random=False), st.integers(0, 2**32))
def test_a_copy_is_decided_alike_in_whatever_order_copies_come(
    shuffle: random.Random, seed: int
) -> None:
    faults = [
        Fault(kind=FaultKind.DROP, probability=0.4),
        Fault(kind=FaultKind.DUPLICATE, probability=0.3, delay=(0.0, 5.0)),
        Fault(kind=FaultKind.DELAY, probability=0.5, delay=(1.0, 60.0)),
    ]
    copies = [
        NOTICE._replace(incident=f"strike-{n % 4}", recipient=f"RED-{n % 3}") for n in range(24)
    ]
    reordered = copies[:]
    shuffle.shuffle(reordered)  # the order within one identity is kept by a stable sort:
    reordered.sort(key=lambda c: (c.incident, c.recipient))  # retries stay in their order
    in_order = decisions(FaultPlan(faults, seed=seed), copies)
    assert decisions(FaultPlan(faults, seed=seed), reordered) == in_order


def test_copy_draws_are_blake2b_of_the_key_and_a_counter() -> None:
    """Written out by hand: the same numbers in every process and Python version."""
    key = b"hotline copy|5|air|strike-1|notify|BLUE-AOC|RED-AOC|0"
    expected = []
    for count in (1, 2, 3):
        block = hashlib.blake2b(key + count.to_bytes(8, "big"), digest_size=32).digest()
        expected.append((int.from_bytes(block, "big") >> (256 - 53)) / 2**53)
    draws = CopyDraws(key)
    assert [draws.random() for _ in range(3)] == expected


def test_the_proxy_judges_a_copy_as_the_simulator_does() -> None:
    faults = [Fault(kind=FaultKind.DROP, probability=0.5), Fault(kind=FaultKind.DUPLICATE)]
    model = LineModel(faults, seed=9)
    plan = FaultPlan(faults, seed=9)
    for n in range(12):
        copy = NOTICE._replace(incident=f"strike-{n}")
        verdict = model.judge(
            f"hotline/v2/air/{copy.recipient}", b"not a message", 0.0, copy.sender
        )
        # a payload that is no message: the proxy names it by its topic only
        simulated = plan.apply(
            copy._replace(incident="", kind=""), plan.draws(copy._replace(incident="", kind=""))
        )
        dropped = [r.fault for r in verdict.applied if r.action == "dropped"]
        assert (dropped, len(verdict.outgoing)) == (
            [] if simulated.dropped_by is None else [str(simulated.dropped_by)],
            len(simulated.deliveries),
        )


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("hotline/v2/+/RED-AOC", "hotline/v2/air/RED-AOC", True),
        ("hotline/#", "hotline/v2/air/RED-AOC", True),
        ("hotline/v2/ground/+", "hotline/v2/air/RED-AOC", False),
        ("a/b", "a/b/c", False),
        ("#", "anything", True),
    ],
)
def test_topic_filters(pattern: str, topic: str, matches: bool) -> None:
    assert topic_matches(pattern, topic) is matches


def test_a_fault_on_a_topic_acts_in_simulation_too() -> None:
    text = (REPO / "examples" / "tutorial.toml").read_text()
    dropped = parse_scenario(
        text + '\n[[faults]]\nkind = "drop"\ntopic = "hotline/v2/air/RED-AOC"\n', "t"
    )
    result = build_result(run_exercise(dropped))
    assert result["messages"]["drops"]["drop"] > 0
    dropped_copies = {f["copy"].split(" #")[0] for i in result["incidents"] for f in i["faults"]}
    assert all(c.endswith("->RED-AOC") for c in dropped_copies)


def test_results_list_the_faults_each_incident_met() -> None:
    scenario = load_scenario(REPO / "examples" / "warnings-unheard-2015.toml")
    (incident,) = build_result(run_exercise(scenario))["incidents"]
    first = incident["faults"][:3]
    assert first == [
        {"at": 0.0, "copy": "protest TR-AIR->RU-HMEIMIM #0", "fault": "partition",
         "action": "dropped"},
        {"at": 0.0, "copy": "protest TR-AIR->RU-HMEIMIM #0", "fault": "forge",
         "action": "forged", "detail": "to TR-AIR, +15.000 s"},
        {"at": 0.0, "copy": "protest TR-AIR->RU-HMEIMIM #0", "fault": "duplicate",
         "action": "duplicated", "detail": "to TR-AIR, +15.000 s"},
    ]  # fmt: skip
    clean = build_result(run_exercise(load_scenario(REPO / "examples" / "khasham-2018.toml")))
    assert all("faults" not in i for i in clean["incidents"])  # nothing to list


def test_a_simulated_run_says_which_faults_only_a_live_one_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "slicer.toml"
    path.write_text(
        (REPO / "examples" / "tutorial.toml").read_text()
        + '\n[[faults]]\nkind = "slicer"\nsize = 4\n'
    )
    assert main(["exercise", "run", str(path), "-q"]) == 0
    assert "faults[0] (slicer) acts on a live run's TCP connections: not simulated" in (
        capsys.readouterr().err
    )


def test_plan_files_are_read_with_the_scenario_checks(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'seed = 7\n[clients]\n"hotline-US" = ["US-CAOC", "US-CJCS"]\n'
        '[[faults]]\nkind = "drop"\ntopic = "sensors/#"\nprobability = 0.25\n'
        '[[faults]]\nkind = "latency"\nstation = "US-CAOC"\nstream = "downstream"\n'
        'delay = { low = "20ms", high = "40ms" }\n'
    )
    found = load_fault_plan(plan)
    assert found.seed == 7
    assert found.clients == {"hotline-US": ("US-CAOC", "US-CJCS")}
    assert [f.kind for f in found.faults] == [FaultKind.DROP, FaultKind.LATENCY]
    assert found.faults[1].stream is Stream.DOWNSTREAM
    assert found.faults[1].delay == (0.02, 0.04)
    scenario = load_fault_plan(REPO / "examples" / "warnings-unheard-2015.toml")
    assert (scenario.seed, len(scenario.faults)) == (2015, 3)
    assert scenario.network[Channel.AIR].latency is not None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[[faults]]\nkind = "explode"\n', "faults[0].kind: 'explode' is not one of"),
        ('[[faults]]\nkind = "drop"\nwhen = 3\n', "faults[0].when: unknown field"),
        ('[[faults]]\nkind = "drop"\ntopic = "a/#/b"\n', "faults[0].topic:"),
        ('[[faults]]\nkind = "bandwidth"\n', "faults[0].rate: required for bandwidth"),
        ('[[faults]]\nkind = "latency"\nchannel = "air"\n', "name a station, not a line"),
        ('[[faults]]\nkind = "drop"\nrate = 5\n', "faults[0].rate: only for connection faults"),
        ('[[faults]]\nkind = "drop"\nsender = "no spaces"\n', "faults[0].sender:"),
        ("colour = 1\n", "colour: unknown field"),
        ("[clients]\nx = []\n", "clients.x: must list the stations"),
        ("seed = -1\n", "seed: must be a whole number"),
    ],
)
def test_bad_plan_files_are_refused_naming_the_field(tmp_path: Path, text: str, error: str) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(text)
    with pytest.raises(ScenarioError) as refused:
        load_fault_plan(plan)
    assert error in str(refused.value)
    assert str(plan) in str(refused.value)


def test_a_fault_table_reads_back_as_the_same_fault() -> None:
    for table in (
        {"kind": "drop", "channel": "air", "probability": 0.5, "until": 600},
        {"kind": "delay", "delay": {"low": 1, "high": 2}, "topic": "x/+"},
        {"kind": "slicer", "station": "RED-AOC", "size": 8, "delay": 0.002},
        {"kind": "reset-peer", "after": 1.5, "stream": "upstream"},
    ):
        fault = fault_from_table(table)
        assert fault_from_table(fault_table(fault)) == fault
        assert json.loads(json.dumps(fault_table(fault))) == fault_table(fault)


def _result(transport: str, incidents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"scenario": "s", "seed": 1, "transport": transport, "incidents": incidents,
            "messages": {"drops": {}, "injections": {}}, "expectations": [], "invariants": []}  # fmt: skip


def _incident(**fields: Any) -> dict[str, Any]:
    made = {"id": "n", "outcome": "acknowledged", "channels": ["air"], "fallbacks": 0,
            "attempts": 1, "dispute_reason": None, "views": {}, "answers": {},
            "closed_at": 60.0, "faults": []}  # fmt: skip
    return made | fields


DROPPED = {"at": 0.0, "copy": "notify A->B #0", "fault": "drop", "action": "dropped"}
HELD = {"at": 0.0, "copy": "notify A->B #0", "fault": "outage", "action": "held"}


@pytest.mark.parametrize(
    ("sim", "live", "why"),
    [
        (_incident(), _incident(closed_at=61.0), ""),
        (_incident(faults=[DROPPED], attempts=2), _incident(attempts=2), "plan"),
        (_incident(faults=[DROPPED], attempts=2), _incident(attempts=1), "path"),
        (_incident(), _incident(outcome="unresolved", faults=[HELD]), "timing"),
        # with copies counted, a copy only one run sent is the path's doing, not the plan's
        (
            _incident(faults=[DROPPED], copies={"notify A->B": 1}),
            _incident(copies={"notify A->B": 1}),
            "plan",
        ),
        (_incident(faults=[DROPPED], copies={"notify A->B": 1}), _incident(copies={}), "path"),
    ],
)
def test_a_comparison_says_why_runs_departed(
    sim: dict[str, Any], live: dict[str, Any], why: str
) -> None:
    comparison = compare_results(_result("sim", [sim]), _result("live", [live]))
    (incident,) = comparison["incidents"]
    assert incident["why"] == why
    assert incident["same"] is (why == "")


def test_exercise_compare_through_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "sim.json", tmp_path / "live.json"
    first.write_text(json.dumps(_result("sim", [_incident(faults=[DROPPED], attempts=2)])))
    second.write_text(json.dumps(_result("live", [_incident(attempts=2)])))
    assert main(["exercise", "compare", str(first), str(first)]) == 0
    assert "1 of 1 incidents the same" in capsys.readouterr().out
    assert main(["exercise", "compare", str(first), str(second)]) == 1
    out = capsys.readouterr().out
    assert "DEPARTED n: the plan decided a copy both runs sent differently (notify A->B #0)" in out
    assert "plan faults, sim only: notify A->B #0 dropped by drop" in out
    assert main(["exercise", "compare", str(first), str(REPO / "examples" / "tutorial.toml")]) == 2
    assert "tutorial.toml: not JSON" in capsys.readouterr().err
    second.write_text("[1, 2]")
    assert main(["exercise", "compare", str(first), str(second)]) == 2
    assert "live.json: not an exercise result" in capsys.readouterr().err
    second.write_text(json.dumps(_result("live", [{}])))
    assert main(["exercise", "compare", str(first), str(second)]) == 2
    assert "live.json: incidents[0]: not an incident (no id)" in capsys.readouterr().err
    assert main(["exercise", "compare", str(first), str(first), "--json", str(first)]) == 2
    assert "is one of the results compared" in capsys.readouterr().err
