"""What the people and lines at each end do: desks that fill up, outages that end,
stations that come back, and lines declared suspended while they still carry traffic."""

from __future__ import annotations

import itertools
from typing import Any

from hotline.sim.exercise import run_exercise
from hotline.sim.result import build_result
from hotline.sim.scenario import parse_scenario

PARTIES = """
[scenario]
name = "operators"
seed = 5
duration = "2d"
{head}

[parties.US]
air = "US-CAOC"
general-officer = "US-CJCS"

[parties.RU]
air = "RU-HMEIMIM"
general-officer = "RU-CGS"

[[responders]]
station = "RU-CGS"
action = "ack"
delay = "5m"
"""


def run(text: str, head: str = "") -> dict[str, Any]:
    return build_result(run_exercise(parse_scenario(PARTIES.format(head=head) + text, "t.toml")))


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {incident["id"]: incident for incident in result["incidents"]}


def notice(at: str, incident: str, precedence: str, channel: str = "general-officer") -> str:
    station = "US-CJCS" if channel == "general-officer" else "US-CAOC"
    return f"""
[[events]]
at = "{at}"
originator = "{station}"
channel = "{channel}"
incident = "{incident}"
activity = "flight"
precedence = "{precedence}"
"""


def test_a_general_officer_takes_one_call_at_a_time_most_urgent_first() -> None:
    doctrine = "\n[doctrine.precedence]\nroutine = 7200\nimmediate = 7200\nflash = 7200\n"
    result = run(
        notice("0s", "routine", "routine")
        + notice("10s", "immediate", "immediate")
        + notice("20s", "flash", "flash")
        + doctrine
    )
    closed = {i: r["closed_at"] for i, r in by_id(result).items()}
    # the routine call rang first and took the desk; the flash call, though it rang
    # last, is answered next; each answer takes five minutes of the one desk
    assert closed["routine"] < closed["flash"] < closed["immediate"]
    assert 300 <= closed["routine"] < 310
    assert 600 <= closed["flash"] < 620
    assert 900 <= closed["immediate"] < 930
    assert {r["outcome"] for r in result["incidents"]} == {"acknowledged"}


def test_two_desks_answer_two_calls_at_once() -> None:
    doctrine = "\n[doctrine.channels.general-officer]\ndesks = 2\n"
    result = run(notice("0s", "a", "flash") + notice("10s", "b", "flash") + doctrine)
    closed = sorted(r["closed_at"] for r in result["incidents"])
    assert closed[1] < 320  # both within the first five minutes and a bit


def test_a_storm_of_disputes_saturates_the_top_line() -> None:
    storm = "".join(
        f"""
[[events]]
at = "0s"
originator = "US-CAOC"
channel = "air"
incident = "strike-{n}"
activity = "flight"
precedence = "flash"
"""
        for n in range(12)
    )
    air = '\n[[responders]]\nstation = "RU-HMEIMIM"\naction = "dispute"\nreason = "other"\ndelay = "1m"\n'
    result = run(storm + air)
    incidents = result["incidents"]
    assert {tuple(i["channels"]) for i in incidents} == {("air", "general-officer")}
    closed = sorted(i["closed_at"] for i in incidents if i["outcome"] == "acknowledged")
    # one desk, five minutes a call: the general officers answer one call every five
    # minutes, and the rest of the storm outlasts its answer deadlines
    assert all(b - a >= 299 for a, b in itertools.pairwise(closed))
    assert len(closed) < len(incidents)
    assert {i["outcome"] for i in incidents} >= {"acknowledged", "disputed"}


def test_a_notice_sent_into_an_outage_goes_out_when_the_line_returns() -> None:
    outage = '\n[network.air]\noutages = [["0s", "5m"]]\n'
    ack = '\n[[responders]]\nstation = "RU-HMEIMIM"\naction = "ack"\ndelay = "1m"\n'
    result = run(notice("1m", "held", "flash", "air") + outage + ack)
    (incident,) = result["incidents"]
    assert (incident["outcome"], incident["channels"]) == ("acknowledged", ["air"])
    assert 360 <= incident["closed_at"] < 370  # sent at 5m, answered a minute later
    assert result["messages"]["dropped"] == 0


def test_a_notice_held_past_its_deadline_expires_and_the_ladder_takes_over() -> None:
    outage = '\n[network.air]\noutages = [["0s", "3h"]]\n'
    ack = '\n[[responders]]\nstation = "RU-HMEIMIM"\naction = "ack"\ndelay = "1m"\n'
    result = run(notice("1m", "expired", "flash", "air") + outage + ack)
    (incident,) = result["incidents"]
    assert (incident["outcome"], incident["channels"]) == (
        "acknowledged",
        ["air", "general-officer"],
    )
    drops = result["messages"]["drops"]
    assert drops["expired in outage"] >= 2  # the notice and its retry


def test_a_station_that_was_down_when_its_answer_was_due_answers_once_back() -> None:
    down = (
        '\n[[faults]]\nkind = "station-down"\nstation = "RU-HMEIMIM"\nstart = "30s"\nuntil = "4m"\n'
    )
    ack = '\n[[responders]]\nstation = "RU-HMEIMIM"\naction = "ack"\ndelay = "1m"\n'
    result = run(notice("0s", "late-desk", "flash", "air") + down + ack, head="")
    (incident,) = result["incidents"]
    assert (incident["outcome"], incident["channels"]) == ("acknowledged", ["air"])
    assert 240 <= incident["closed_at"] < 250


def test_a_line_declared_suspended_still_carries_traffic() -> None:
    declare = """
[[events]]
at = "0s"
action = "suspend"
station = "RU-HMEIMIM"
channel = "air"
"""
    ack = '\n[[responders]]\nstation = "RU-HMEIMIM"\naction = "ack"\ndelay = "1m"\n'
    result = run(declare + notice("1m", "after", "flash", "air") + ack)
    (incident,) = result["incidents"]
    assert (incident["outcome"], incident["channels"]) == ("acknowledged", ["air"])
    line = result["lines"]["air"]
    assert line["declarations"] == [{"at": 0.0, "party": "RU", "state": "suspended"}]
    assert line["declared_suspended_by"] == ["RU"]
    assert line["carried"] > 0  # declared suspended, and working

    fall_back = '\n[doctrine.channels.air]\nwhen_suspended = "fall-back"\n'
    result = run(declare + notice("1m", "after", "flash", "air") + ack + fall_back)
    (incident,) = result["incidents"]
    assert incident["channels"] == ["air", "general-officer"]
