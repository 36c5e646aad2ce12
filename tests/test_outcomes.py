"""Outcomes a doctrine-literate operator checks: each party speaks for itself, a no from
above is not overruled by a receipt from below, a disputer hears how it ended, both
sides judge a notice's lead time alike, and a station that is down hears nothing."""

from __future__ import annotations

from typing import Any

from hotline.sim.exercise import run_exercise
from hotline.sim.result import build_result
from hotline.sim.scenario import parse_scenario

HEAD = """
[scenario]
name = "outcomes"
start = "2017-06-12T03:00:00Z"
seed = 1
duration = "1d"

[parties.TR]
air = "TR-AIR"
general-officer = "TR-GO"

[parties.RU]
air = "RU-AIR"
general-officer = "RU-GO"

[network.air]
latency = "10s"

[network.general-officer]
latency = "10s"
"""
US = '\n[parties.US]\nair = "US-AIR"\ngeneral-officer = "US-GO"\n'


def notice(to: str = "", starts_in: str = "3h") -> str:
    return f"""
[[events]]
at = "0s"
originator = "TR-AIR"
incident = "x"
activity = "strike"
precedence = "immediate"
starts_in = "{starts_in}"
{to}
"""


def responder(station: str, action: str, delay: str, extra: str = "") -> str:
    return f'\n[[responders]]\nstation = "{station}"\naction = "{action}"\ndelay = "{delay}"\n{extra}\n'


def run(text: str) -> dict[str, Any]:
    result = build_result(run_exercise(parse_scenario(HEAD + text, "outcomes.toml")))
    broken = [i for i in result["invariants"] if not i["held"]]
    assert not broken, broken
    (incident,) = result["incidents"]
    assert isinstance(incident, dict)
    return incident


def outcomes(incident: dict[str, Any]) -> dict[str, str]:
    return {party: view["outcome"] for party, view in incident["views"].items()}


def test_one_partys_acknowledgement_does_not_take_back_anothers_dispute() -> None:
    # US disputes at once; RU's ack comes after the incident went up; the top line is silent
    incident = run(
        US
        + notice('to = ["US", "RU"]')
        + responder("US-AIR", "dispute", "1m", 'reason = "location-conflict"')
        + responder("RU-AIR", "ack", "5m")
    )
    assert incident["outcome"] == "disputed"
    assert "US-AIR's dispute on air (location-conflict) stands" in incident["note"]
    assert outcomes(incident) == dict.fromkeys(("TR", "US", "RU"), "disputed")
    assert incident["answers"]["RU"]["effect"] == "recorded"


def test_a_late_receipt_from_below_does_not_overrule_a_dispute_held_above() -> None:
    hold = '\n[doctrine.channels.general-officer]\non_dispute = "hold"\n'
    incident = run(
        hold
        + notice(starts_in="2h30m")
        + responder("RU-AIR", "standby-then-ack", "1m", 'final_delay = "75m"')
        + responder("RU-GO", "dispute", "2m", 'reason = "location-conflict"')
    )
    assert incident["channels"] == ["air", "general-officer"]
    assert incident["outcome"] == "disputed"
    assert incident["answers"]["RU"]["answer"] == "disputed"
    assert outcomes(incident) == {"TR": "disputed", "RU": "disputed"}


def test_the_party_that_disputed_is_told_how_it_ended_at_once() -> None:
    # the line ends on the dispute; the disputer's own record is closed by the
    # originator's word, not left open until it lapses hours later
    air_final = '\n[doctrine.channels.air]\nfallback = "none"\non_dispute = "accept"\n'
    incident = run(
        US
        + air_final
        + notice('to = ["US", "RU"]')
        + responder("US-AIR", "dispute", "10m", 'reason = "location-conflict"')
        + responder("RU-AIR", "ack", "5m")
    )
    views = incident["views"]
    assert views["US"]["outcome"] == "disputed"
    assert views["US"]["at"] < 11 * 60  # told within a minute of its dispute landing


def test_both_sides_judge_an_escalated_notice_by_when_it_was_first_sent() -> None:
    # the notice leaves 2 h 30 min, enough for a strike; it reaches the general officers
    # an hour later, with less than 2 h left, but the lead is the first call's
    text = HEAD + notice(starts_in="2h30m") + responder("RU-GO", "ack", "2m")
    exercise = run_exercise(parse_scenario(text, "outcomes.toml"))
    (origin,) = exercise.incidents()
    views = {view.channel.value: view for _, view in exercise.views()}
    assert origin.path == [view.channel for view in views.values()]
    assert origin.lead == views["air"].lead == views["general-officer"].lead == ""
    short = HEAD + notice(starts_in="90m") + responder("RU-GO", "ack", "2m")
    exercise = run_exercise(parse_scenario(short, "outcomes.toml"))
    leads = {view.lead for _, view in exercise.views()} | {exercise.incidents()[0].lead}
    assert leads == {"short-notice"}


def test_a_station_that_is_down_receives_nothing_even_with_no_other_fault() -> None:
    down = '\n[[faults]]\nkind = "station-down"\nstation = "RU-AIR"\nstart = "0s"\nuntil = "20m"\n'
    incident = run(notice() + responder("RU-AIR", "ack", "1m") + down)
    # the first call met a dead post; the retry at 30 min was answered
    assert incident["outcome"] == "acknowledged"
    assert incident["attempts"] == 2
    assert incident["closed_at"] > 30 * 60
