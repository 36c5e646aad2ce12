"""Failed calls: each fault kind moves outcomes the expected way, and attacks never pass."""

from __future__ import annotations

import random
from typing import Any

import pytest

from hotline.core.names import Channel, Kind, Precedence
from hotline.core.wire import Envelope
from hotline.faults import Copy, Fault, FaultKind, FaultPlan, ForgeKey, Tag, flip_bits
from hotline.sim.exercise import run_exercise
from hotline.sim.fields import ScenarioError
from hotline.sim.result import build_result, passed, to_json
from hotline.sim.scenario import parse_scenario
from tests.harness import station_key

BASE = """
[scenario]
name = "faults"
seed = 11
duration = "2d"
{head}

[parties.US]
air = "US-CAOC"
ground = "US-GROUND"
general-officer = "US-CJCS"

[parties.RU]
air = "RU-HMEIMIM"
ground = "RU-GROUND"
general-officer = "RU-CGS"

[[events]]
at = "0s"
originator = "US-{line}"
channel = "{channel}"
activity = "patrol"
precedence = "flash"
repeat = {count}
every = "1h"

[[responders]]
station = "RU-HMEIMIM"
action = "ack"
delay = "1m"

[[responders]]
station = "RU-GROUND"
action = "ack"
delay = "1m"

[[responders]]
station = "RU-CGS"
action = "ack"
delay = "2m"

{faults}
"""


def run(
    faults: str = "",
    channel: str = "ground",
    count: int = 20,
    head: str = "",
    seed: int | None = None,
) -> dict[str, Any]:
    line = {"ground": "GROUND", "air": "CAOC"}[channel]
    text = BASE.format(head=head, line=line, channel=channel, count=count, faults=faults)
    return build_result(run_exercise(parse_scenario(text, "faults.toml"), seed))


def lines(result: dict[str, Any]) -> list[list[str]]:
    return [incident["channels"] for incident in result["incidents"]]


def invariants_hold(result: dict[str, Any]) -> None:
    broken = [i for i in result["invariants"] if not i["held"]]
    assert not broken, broken


def test_without_faults_every_notice_is_acknowledged_on_its_own_line() -> None:
    result = run()
    assert lines(result) == [["ground"]] * 20
    assert passed(result)


def test_dropping_everything_on_ground_sends_every_notice_to_the_general_officers() -> None:
    result = run('[[faults]]\nkind = "drop"\nchannel = "ground"')
    assert lines(result) == [["ground", "general-officer"]] * 20
    assert {i["outcome"] for i in result["incidents"]} == {"acknowledged"}
    # each notice and its retry; then the closing message telling the ground desk the
    # general officers settled it, and that message again, unconfirmed
    assert result["messages"]["drops"] == {"drop": 80}
    invariants_hold(result)


def test_a_partition_window_only_hurts_notices_sent_inside_it() -> None:
    result = run('[[faults]]\nkind = "partition"\nchannel = "ground"\nstart = "5h"\nuntil = "10h"')
    fell_back = [i["id"] for i in result["incidents"] if len(i["channels"]) == 2]
    # notices at 5h..9h fall back; the one at 4h was acknowledged before 5h
    assert fell_back == [f"US-GROUND:{n}" for n in range(6, 11)]
    invariants_hold(result)


def test_flapping_bearer_drops_what_is_sent_while_down() -> None:
    result = run('[[faults]]\nkind = "flap"\nchannel = "ground"\nup = "30m"\ndown = "30m"')
    # notices leave on the hour (bearer up); acks after 61 s (up); all survive
    assert lines(result) == [["ground"]] * 20
    shifted = run('[[faults]]\nkind = "flap"\nchannel = "ground"\nup = "30s"\ndown = "30m"')
    # now the acks (61 s after each notice) meet the bearer down: retries, fallbacks
    assert all(len(c) == 2 for c in lines(shifted))
    invariants_hold(shifted)


def test_delay_postpones_closing_and_reorder_keeps_outcomes() -> None:
    calm = run()
    slow = run('[[faults]]\nkind = "delay"\nchannel = "ground"\ndelay = "2m"')
    took = [i["closed_at"] - i["opened_at"] for i in slow["incidents"]]
    base = [i["closed_at"] - i["opened_at"] for i in calm["incidents"]]
    assert all(t == pytest.approx(b + 240) for t, b in zip(took, base, strict=True))
    shuffled = run(
        '[[faults]]\nkind = "reorder"\nchannel = "ground"\ndelay = { low = "0s", high = "2m" }'
    )
    assert {i["outcome"] for i in shuffled["incidents"]} == {"acknowledged"}
    invariants_hold(shuffled)


def test_duplicates_are_refused_as_replays_and_change_nothing() -> None:
    result = run('[[faults]]\nkind = "duplicate"\ncopies = 2\ndelay = "5s"')
    assert lines(result) == [["ground"]] * 20
    messages = result["messages"]
    assert messages["injected"] == 80  # two extra copies of each notice and ack
    assert messages["injections"] == {"duplicate": 80}
    assert messages["rejected"]["replay"] == 80
    assert messages["sent"] + messages["injected"] == messages["delivered"] + messages["dropped"]
    invariants_hold(result)


@pytest.mark.parametrize(
    ("forge_key", "reason"),
    [
        ("attacker", "unknown-key"),
        ("other-station", "sender-mismatch"),
        ("other-channel", "key-not-for-channel"),
    ],
)
def test_forged_acknowledgements_are_always_refused(forge_key: str, reason: str) -> None:
    fault = (
        f'[[faults]]\nkind = "forge"\nforge_key = "{forge_key}"\nsender = "US-GROUND"\ndelay = "1s"'
    )
    result = run(fault)
    assert result["messages"]["injections"] == {"forged": 20}
    assert result["messages"]["rejected"][reason] == 20
    assert all(i["closed_at"] - i["opened_at"] > 60 for i in result["incidents"])  # the real ack
    invariants_hold(result)


def test_a_forged_ack_cannot_answer_for_a_silent_desk() -> None:
    silent = BASE.replace(
        'station = "RU-GROUND"\naction = "ack"', 'station = "RU-GROUND"\naction = "silent"'
    )
    text = silent.format(
        head="",
        line="GROUND",
        channel="ground",
        count=5,
        faults='[[faults]]\nkind = "forge"\nsender = "US-GROUND"\nforge_key = "other-station"',
    )
    result = build_result(run_exercise(parse_scenario(text, "faults.toml")))
    assert lines(result) == [["ground", "general-officer"]] * 5  # no forged ack closed it
    invariants_hold(result)


def test_replayed_and_corrupted_copies_are_refused_and_counted() -> None:
    replayed = run('[[faults]]\nkind = "replay"\ndelay = "20m"')
    assert replayed["messages"]["injections"] == {"replayed": 40}
    assert replayed["messages"]["rejected"]["replay"] == 40
    assert lines(replayed) == [["ground"]] * 20
    invariants_hold(replayed)
    corrupted = run('[[faults]]\nkind = "corrupt"\nchannel = "ground"\nbits = 3')
    rejected = corrupted["messages"]["rejected"]
    # every notice, every retry and both sends of each closing message, garbled
    assert sum(rejected.values()) == 80
    assert rejected["bad-signature"] >= 50  # most flips land in signed bytes
    assert lines(corrupted) == [["ground", "general-officer"]] * 20
    invariants_hold(corrupted)


def test_later_faults_also_meet_the_copies_earlier_ones_made() -> None:
    # The replay captures each ack, then the drop removes the ack *and* its replay: the
    # desk's answers never arrive, so every notice goes up the ladder.
    faults = '[[faults]]\nkind = "replay"\ndelay = "2m"\n\n[[faults]]\nkind = "drop"\nsender = "RU-GROUND"'
    result = run(faults)
    assert lines(result) == [["ground", "general-officer"]] * 20
    # survivors replayed: 2 ground notices, 1 escalation, 1 general-officer ack and the
    # 2 closing messages telling the ground desk the outcome, each
    assert result["messages"]["injections"] == {"replayed": 120}
    # both acks of each incident, and both confirmations of the closing message
    assert result["messages"]["drops"] == {"drop": 80}
    assert {tuple(i["unconfirmed"]) for i in result["incidents"]} == {("RU-GROUND (ground)",)}
    invariants_hold(result)


def test_a_down_station_answers_nothing_until_it_comes_back() -> None:
    result = run('[[faults]]\nkind = "station-down"\nstation = "RU-GROUND"\nuntil = "5h"')
    fell_back = [i["id"] for i in result["incidents"] if len(i["channels"]) == 2]
    assert fell_back == [f"US-GROUND:{n}" for n in range(1, 6)]
    invariants_hold(result)


def test_clock_skew_beyond_tolerance_makes_a_station_unheard() -> None:
    # RU's post runs 10 minutes fast: its acks look 10 minutes in the future (skew 2 min)
    result = run('[[faults]]\nkind = "clock-skew"\nstation = "RU-GROUND"\nskew = "10m"')
    assert result["messages"]["rejected"]["future"] > 0
    assert all(len(c) == 2 for c in lines(result))
    # and each incident's note says why its answers were refused
    assert all("clock skew" in i["note"] for i in result["incidents"])
    within = run('[[faults]]\nkind = "clock-skew"\nstation = "RU-GROUND"\nskew = "-90s"')
    assert lines(within) == [["ground"]] * 20
    invariants_hold(within)


def test_probabilities_and_composition_come_from_the_seed() -> None:
    faults = '[[faults]]\nkind = "drop"\nprobability = 0.3\n\n[[faults]]\nkind = "delay"\ndelay = { low = "1s", high = "90s" }'
    first, again = run(faults), run(faults)
    assert to_json(first) == to_json(again)
    assert to_json(run(faults, seed=12)) != to_json(first)
    invariants_hold(first)


def test_byte_faults_are_refused_in_protocol_only_runs() -> None:
    text = BASE.format(
        head='signing = "none"',
        line="GROUND",
        channel="ground",
        count=1,
        faults='[[faults]]\nkind = "forge"',
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.toml")
    assert caught.value.field == "faults[0].kind"
    assert "signed messages" in caught.value.detail
    protocol_only = BASE.format(
        head='signing = "none"',
        line="GROUND",
        channel="ground",
        count=3,
        faults='[[faults]]\nkind = "duplicate"',
    )
    result = build_result(run_exercise(parse_scenario(protocol_only, "x.toml")))
    assert result["messages"]["rejected"]["replay"] == 6
    invariants_hold(result)


def test_plan_composes_faults_in_order() -> None:
    plan = FaultPlan(
        [
            Fault(kind=FaultKind.DELAY, delay=(10.0, 10.0)),
            Fault(kind=FaultKind.DUPLICATE, copies=2, delay=(1.0, 1.0)),
            Fault(kind=FaultKind.DROP, recipient="B", channel=Channel.GROUND),
        ]
    )
    copy = Copy(Channel.AIR, "A", "B", b"data", 0.0)
    outcome = plan.apply(copy, random.Random(1))
    assert [(d.delay, d.tag, d.genuine) for d in outcome.deliveries] == [
        (10.0, None, True),
        (11.0, Tag.DUPLICATE, False),
        (11.0, Tag.DUPLICATE, False),
    ]
    dropped = plan.apply(copy._replace(channel=Channel.GROUND), random.Random(1))
    assert dropped.deliveries == []
    assert dropped.dropped_by is FaultKind.DROP


def test_copies_of_a_forged_answer_go_where_the_forgery_goes() -> None:
    notice = station_key("US-CAOC").sign(
        Envelope(
            id=bytes(16),
            channel=Channel.AIR,
            kind=Kind.NOTIFY,
            sender="US-CAOC",
            recipients=("RU-HMEIMIM",),
            incident="I-1",
            seq=1,
            sent_at_ms=1_000,
            precedence=Precedence.FLASH,
            body={"activity": "strike"},
        )
    )
    plan = FaultPlan(
        [
            Fault(kind=FaultKind.FORGE, forge_key=ForgeKey.ATTACKER),
            Fault(kind=FaultKind.DUPLICATE, copies=2),
            Fault(kind=FaultKind.REPLAY, delay=(60.0, 60.0)),
            Fault(kind=FaultKind.CORRUPT),
        ],
        attacker=station_key("attacker"),
    )
    copy = Copy(Channel.AIR, "US-CAOC", "RU-HMEIMIM", notice, 0.0)
    deliveries = plan.apply(copy, random.Random(2)).deliveries
    # the notice and its copies reach the responder; the forged ack and every copy made
    # of it come back to the notice's sender
    assert len(deliveries) == 12  # (notice + forgery) x 3 copies x 2 with the replay
    for delivery in deliveries:
        forged = delivery.to is not None
        assert delivery.to == ("US-CAOC" if forged else None)
    assert sum(d.to is not None for d in deliveries) == 6
    # and each says what it claims to be, for the timeline: an ack from the responder
    assert {d.claims for d in deliveries if d.to is not None} == {("ack", "RU-HMEIMIM")}


def test_flip_bits_changes_exactly_that_many_bits() -> None:
    data = bytes(64)
    flipped = flip_bits(data, 5, random.Random(3))
    assert sum(bin(b).count("1") for b in flipped) == 5


def test_a_broken_invariant_names_its_incidents_and_prints_their_trace() -> None:
    from rich.console import Console

    from hotline.report.text import render_traces
    from hotline.sim.invariants import Breach

    text = BASE.format(head="", line="GROUND", channel="ground", count=2, faults="")
    exercise = run_exercise(parse_scenario(text, "faults.toml"))
    exercise.watch.breaches.append(Breach("no-forged-message-accepted", "US-GROUND:2", "planted"))
    result = build_result(exercise)
    broken = [i for i in result["invariants"] if not i["held"]]
    assert [(i["name"], i["incidents"]) for i in broken] == [
        ("no-forged-message-accepted", ["US-GROUND:2"])
    ]
    assert not passed(result)
    console = Console(record=True, width=200)
    render_traces(console, result, exercise)
    trace = console.export_text()
    assert trace.startswith("trace of US-GROUND:2:")
    assert "US-GROUND -> RU-GROUND  notify   US-GROUND:2" in trace
    assert "US-GROUND:1" not in trace
