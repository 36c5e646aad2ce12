"""Channel exercises: determinism, the examples, the network, responder behaviour."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hotline.cli import main
from hotline.geo.load import KEYS as MAP_KEYS
from hotline.report.text import timeline_lines
from hotline.sim.exercise import run_exercise
from hotline.sim.invariants import INVARIANTS
from hotline.sim.kernel import Kernel, Priority
from hotline.sim.model import Scenario
from hotline.sim.result import build_result, passed, to_json
from hotline.sim.scenario import TABLE_KEYS, load_scenario, parse_scenario
from hotline.sim.schema import GEOMETRY_PROPERTIES, PROPERTIES, scenario_schema
from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples").glob("*.toml"))
BASE = """
[scenario]
name = "t"
seed = 5
{scenario}

[parties.US]
air = "US-CAOC"
general-officer = "US-CJCS"

[parties.RU]
air = "RU-HMEIMIM"
general-officer = "RU-CGS"

{extra}
"""


def scenario(extra: str = "", head: str = 'duration = "1d"') -> Scenario:
    return parse_scenario(BASE.format(scenario=head, extra=extra), "test.toml")


def result_of(
    extra: str = "", head: str = 'duration = "1d"', seed: int | None = None
) -> dict[str, Any]:
    return build_result(run_exercise(scenario(extra, head), seed))


NOTIFY = """
[[events]]
at = "0s"
originator = "US-CAOC"
incident = "inc"
activity = "flight"
precedence = "flash"
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_runs_and_its_expectations_hold(path: Path) -> None:
    result = build_result(run_exercise(load_scenario(path)))
    assert result["expectations"], "an example must state what it shows"
    failed = [e for e in result["expectations"] if not e["passed"]]
    assert not failed, failed
    assert passed(result)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_say_what_they_model_and_match_the_schema(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# "), "an example opens with comments on what it models"
    jsonschema.validate(tomllib.loads(text), scenario_schema())


def test_schema_describes_exactly_the_keys_the_loader_accepts() -> None:
    for table, keys in TABLE_KEYS.items():
        if table == "area":
            shapes = PROPERTIES["events"]["area"]["oneOf"]
            assert set().union(*(shape["properties"] for shape in shapes)) == keys
        elif table == "where":
            assert set(PROPERTIES["events"]["where"]["properties"]) == keys
        elif table:
            assert set(PROPERTIES[table]) == keys, table
    assert set(scenario_schema()["properties"]) == TABLE_KEYS[""]
    geometry = scenario_schema()["properties"]["geometry"]["properties"]
    assert set(geometry) == MAP_KEYS["geometry"]
    for table in ("line", "zone", "position"):
        assert set(GEOMETRY_PROPERTIES[f"{table}s"]) == MAP_KEYS[table], table


def test_same_seed_same_bytes_and_trace() -> None:
    path = REPO / "examples" / "misrouted-call-2016.toml"
    runs = [run_exercise(load_scenario(path)) for _ in range(2)]
    texts = [to_json(build_result(run)) for run in runs]
    assert texts[0] == texts[1]
    traces = [hashlib.sha256("\n".join(timeline_lines(run)).encode()).hexdigest() for run in runs]
    assert traces[0] == traces[1]
    other = to_json(build_result(run_exercise(load_scenario(path), seed=7)))
    assert other != texts[0]


def test_result_follows_the_json_contract() -> None:
    result = result_of(
        NOTIFY + '[[responders]]\nstation = "RU-HMEIMIM"\naction = "ack"\ndelay = "1m"'
    )
    assert list(result)[:4] == ["hotline_version", "scenario", "seed", "transport"]
    (incident,) = result["incidents"]
    assert {
        "id",
        "originator",
        "responder",
        "channels",
        "outcome",
        "dispute_reason",
        "opened_at",
        "closed_at",
        "fallbacks",
        "attempts",
    } <= set(incident)
    assert incident["outcome"] == "acknowledged"
    assert incident["opened_at"] == 0.0
    assert incident["closed_at"] == 62.0  # 1 s there, 60 s to answer, 1 s back
    assert result["messages"]["sent"] == 2
    assert set(result["messages"]["rejected"]) >= {"bad-signature", "replay", "late"}
    assert [i["name"] for i in result["invariants"]] == list(INVARIANTS)
    assert all(i["held"] for i in result["invariants"])
    assert result["messages"]["injected"] == 0
    json.loads(to_json(result))


def test_protocol_only_mode_gives_the_same_outcomes_as_signed() -> None:
    extra = (
        NOTIFY
        + '[[responders]]\nstation = "RU-HMEIMIM"\naction = "standby-then-ack"\ndelay = { kind = "uniform", low = "1m", high = "9m" }'
    )
    signed = result_of(extra)
    unsigned = result_of(extra, head='duration = "1d"\nsigning = "none"')
    assert unsigned["signing"] == "none"
    assert unsigned["incidents"] == signed["incidents"]
    assert unsigned["messages"] == signed["messages"]


def test_a_dead_line_drops_everything_and_the_ladder_takes_over() -> None:
    extra = (
        NOTIFY
        + """
[network.air]
loss = 1.0

[[responders]]
station = "RU-CGS"
action = "ack"
"""
    )
    result = result_of(extra)
    (incident,) = result["incidents"]
    assert incident["channels"] == ["air", "general-officer"]
    assert incident["outcome"] == "acknowledged"
    messages = result["messages"]
    # the notice and its retry; then the closing message to the air desk, twice
    assert messages["dropped"] == 4
    assert messages["drops"] == {"lost": 4}
    assert incident["unconfirmed"] == ["RU-HMEIMIM (air)"]
    assert messages["sent"] == messages["delivered"] + messages["dropped"] + messages["in_flight"]


def test_a_detected_outage_falls_back_at_once() -> None:
    extra = (
        NOTIFY
        + """
[network.air]
outages = [["0s", "1h"]]
detect_outages = true

[[responders]]
station = "RU-CGS"
action = "ack"
delay = "1m"
"""
    )
    (incident,) = result_of(extra)["incidents"]
    assert incident["escalation"] == "link-down"
    assert incident["attempts"] == 2
    assert incident["closed_at"] == 62.0


def test_a_run_cut_short_reports_open_incidents_and_messages_in_flight() -> None:
    extra = NOTIFY + '[network.air]\nlatency = "2h"'
    text = BASE.format(scenario='duration = "30m"', extra=extra)
    result = build_result(run_exercise(parse_scenario(text)))
    (incident,) = result["incidents"]
    assert incident["outcome"] == "open"
    assert incident["closed_at"] is None
    assert incident["channels"] == ["air", "general-officer"]  # fell back at 20 min
    # the air notice and its retry (2 h on the wire) and the retry on the general-officer
    # line sent at 30 min exactly are still travelling when the run stops
    messages = result["messages"]
    assert messages["in_flight"] == 3
    assert messages["sent"] == messages["delivered"] + messages["dropped"] + messages["in_flight"]
    assert result["ended_at"] == 1800.0
    assert result_of(extra)["ended_at"] > 1800.0  # with a day to run, it ends on its own


def test_scripted_acts_run_in_time_order_and_at_one_instant_in_the_scenarios() -> None:
    extra = """
[[responders]]
station = "RU-HMEIMIM"
action = "ack"
delay = "1m"

[[events]]
at = "1h"
originator = "US-CAOC"
incident = "later"
activity = "flight"
precedence = "flash"

[[events]]
at = "10s"
originator = "US-CAOC"
incident = "first"
activity = "flight"
precedence = "flash"

[[events]]
at = "10s"
originator = "US-CAOC"
action = "withdraw"
incident = "first"
"""
    records = {i["id"]: i for i in result_of(extra)["incidents"]}
    # listed after its notice and due at the same instant, the withdrawal comes after it
    assert records["first"]["outcome"] == "withdrawn"
    assert records["first"]["closed_at"] == 10.0
    # listed first and due last, the other notice goes out last
    assert records["later"]["opened_at"] == 3600.0
    assert records["later"]["outcome"] == "acknowledged"


def test_pick_up_probability_gives_later_calls_a_chance() -> None:
    extra = """
[[events]]
at = "0s"
originator = "US-CAOC"
activity = "flight"
precedence = "flash"
repeat = 400
every = "1h"

[[responders]]
station = "RU-HMEIMIM"
action = "ack"
delay = "1m"
probability = 0.5

[[responders]]
station = "RU-CGS"
action = "silent"
"""
    result = result_of(extra, head='duration = "30d"')
    attempts = [i["attempts"] for i in result["incidents"] if i["outcome"] == "acknowledged"]
    first_call = attempts.count(1) / 400
    second_call = attempts.count(2) / 400
    assert 0.42 < first_call < 0.58  # half pick up the first call
    assert 0.18 < second_call < 0.32  # a quarter only the retry
    unanswered = sum(i["outcome"] == "unresolved" for i in result["incidents"]) / 400
    assert 0.18 < unanswered < 0.32


def test_shifts_and_activity_filters_choose_the_rule() -> None:
    extra = """
[doctrine.channels.air]
on_dispute = "accept"

[[events]]
at = "0s"
originator = "US-CAOC"
incident = "day-flight"
activity = "flight"
precedence = "flash"

[[events]]
at = "13h"
originator = "US-CAOC"
incident = "night-flight"
activity = "flight"
precedence = "flash"

[[events]]
at = "14h"
originator = "US-CAOC"
incident = "night-strike"
activity = "strike"
precedence = "flash"

[[responders]]
station = "RU-HMEIMIM"
until = "12h"
action = "ack"

[[responders]]
station = "RU-HMEIMIM"
from = "12h"
activity = "flight"
action = "dispute"
reason = "other"
"""
    outcomes = {i["id"]: i["outcome"] for i in result_of(extra)["incidents"]}
    assert outcomes == {
        "day-flight": "acknowledged",
        "night-flight": "disputed",
        "night-strike": "unresolved",
    }


def test_kernel_orders_by_time_then_priority_then_scheduling() -> None:
    kernel = Kernel(100.0)
    seen: list[str] = []
    kernel.schedule(105, Priority.TIMER, lambda: seen.append("timer@105"))
    kernel.schedule(105, Priority.DELIVERY, lambda: seen.append("delivery@105"))
    kernel.schedule(101, Priority.TIMER, lambda: seen.append("timer@101"))
    kernel.schedule(105, Priority.DELIVERY, lambda: seen.append("delivery2@105"))
    cancelled = kernel.schedule(103, Priority.SCRIPT, lambda: seen.append("cancelled"))
    kernel.schedule(50, Priority.SCRIPT, lambda: seen.append("past runs now"))
    kernel.cancel(cancelled)
    assert kernel.pending == 5
    kernel.run(until=104)
    assert seen == ["past runs now", "timer@101"]
    assert kernel.now == 104
    kernel.run(until=1000)
    assert seen[2:] == ["delivery@105", "delivery2@105", "timer@105"]
    assert kernel.now == 105  # went quiet at 105
    assert kernel.pending == 0


def test_cli_exit_codes_and_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        BASE.format(
            scenario="",
            extra=NOTIFY
            + '[[responders]]\nstation = "RU-HMEIMIM"\naction = "ack"\n[[expect]]\nincident = "inc"\noutcome = "acknowledged"',
        )
    )
    assert main(["exercise", "run", str(good), "--json", "-"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["incidents"][0]["outcome"] == "acknowledged"
    assert "PASS" in out.err
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('outcome = "acknowledged"', 'outcome = "disputed"'))
    assert (
        main(["exercise", "run", str(bad), "--json", str(tmp_path / "r.json"), "--timeline"]) == 1
    )
    out = capsys.readouterr()
    assert "FAIL inc disputed (inc: outcome acknowledged, expected disputed)" in out.out
    assert "US-CAOC -> RU-HMEIMIM  notify" in out.out
    assert json.loads((tmp_path / "r.json").read_text())["expectations"][0]["passed"] is False
    assert main(["exercise", "run", str(bad), "-q"]) == 1
    assert capsys.readouterr().out.startswith("FAIL")
    assert main(["schema", "scenario"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "hotline scenario"


def test_expectations_on_a_partys_view_and_an_addressees_answer_pass_or_say_why() -> None:
    path = REPO / "examples" / "three-party-2017.toml"
    text = path.read_text()
    held = build_result(run_exercise(load_scenario(path)))
    (incident,) = held["incidents"]
    assert {p: v["outcome"] for p, v in incident["views"].items()} == dict.fromkeys(
        ("TR", "US", "RU"), "disputed"
    )
    assert {p: a["answer"] for p, a in incident["answers"].items()} == {
        "RU": "acknowledged",
        "US": "disputed",
    }
    wrong = text.replace(
        'answer = { RU = "acknowledged", US = "disputed" }', 'answer = { RU = "disputed" }'
    )
    wrong = wrong.replace(
        'view = { TR = "disputed", RU = "disputed", US = "disputed" }',
        'view = { RU = "acknowledged" }',
    )
    result = build_result(run_exercise(parse_scenario(wrong, "wrong.toml")))
    (failed,) = [e for e in result["expectations"] if not e["passed"]]
    assert "RU's view disputed, expected acknowledged" in failed["detail"]
    assert "RU's answer acknowledged, expected disputed" in failed["detail"]
