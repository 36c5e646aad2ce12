"""`hotline explore`: every interleaving of a small exercise, checked; the shortest path
to each violation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hotline import COMPILED
from hotline.cli import main
from hotline.core.incident import HANDLERS, Heard, Incident, Send, State, Verdict
from hotline.core.names import Kind
from hotline.explore.replay import replay
from hotline.explore.search import explore
from hotline.explore.world import Bounds, initial_world
from hotline.sim.exercise import run_exercise
from hotline.sim.fields import ScenarioError
from hotline.sim.model import Scenario
from hotline.sim.result import build_result
from hotline.sim.scenario import load_scenario, parse_scenario
from tests.conftest import REPO

#: one flash notice on the air line, acknowledged after 30 s; no fallback line
ONE_NOTICE = """
[scenario]
name = "one-notice"
start = "2026-03-01T06:00:00Z"
duration = "2h"
[parties.BLUE]
air = "BLUE-AOC"
[parties.RED]
air = "RED-AOC"
[doctrine.channels.air]
fallback = "none"
retries = RETRIES
[network.air]
latency = "2s"
[[responders]]
station = "RED-AOC"
action = "ack"
delay = "30s"
[[events]]
at = "0s"
originator = "BLUE-AOC"
incident = "flight-1"
activity = "flight"
precedence = "flash"
[[expect]]
incident = "*"
outcome = "acknowledged"
"""


def _scenario(retries: int = 0, text: str = ONE_NOTICE) -> Scenario:
    return parse_scenario(text.replace("RETRIES", str(retries)), "one-notice.toml")


def test_without_loss_the_one_path_is_counted_by_hand() -> None:
    # notify; 2 s pass (the line's latency); the notice arrives; RED acknowledges 30 s
    # later; 2 s pass; the ack arrives: seven states, six steps
    found = explore(_scenario(), Bounds())
    assert (found.states, found.transitions, found.final, found.depth) == (7, 6, 1, 6)
    assert found.violations == []
    assert found.outcomes == {"flight-1": {"acknowledged"}}


def test_one_loss_is_counted_by_hand() -> None:
    # besides the seven states above, with one copy lost (retries = 0) once it could
    # have arrived: the notice lost -> BLUE's deadline passes (unresolved; it tells RED,
    # which never answered) -> 2 s -> the close arrives -> 2 s -> RED's confirm arrives:
    # 6 new states; the ack lost -> the same deadline, close and confirm: 6 new states
    found = explore(_scenario(), Bounds(max_loss=1))
    assert (found.states, found.final) == (7 + 6 + 6, 3)
    assert found.outcomes == {"flight-1": {"acknowledged", "unresolved"}}


def test_a_protocol_that_breaks_under_one_loss_yields_its_shortest_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "no-retries.toml"
    scenario.write_text(ONE_NOTICE.replace("RETRIES", "0"))
    out = tmp_path / "cx"
    code = main(["explore", str(scenario), "--max-loss", "1", "--counterexamples", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "VIOLATED expect every incident acknowledged" in printed
    document = json.loads((out / "counterexample-1.json").read_text())
    # the shortest way to break it: the notice itself is lost
    assert document["steps"][0].endswith("BLUE: scripted notify (flight-1)")
    assert document["steps"][1] == "+2s time passes"
    assert "notify flight-1 BLUE-AOC->RED-AOC (sent +0s) is lost" in document["steps"][2]
    assert len(document["steps"]) == 8  # then the deadline, the close, the confirm
    assert "flight-1: outcome unresolved" in document["detail"]


def test_with_retries_the_same_loss_breaks_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    found = explore(_scenario(retries=1), Bounds(max_loss=1))
    assert found.violations == []
    assert found.outcomes == {"flight-1": {"acknowledged"}}


def test_duplicates_are_refused_and_change_no_outcome() -> None:
    found = explore(_scenario(retries=1), Bounds(max_duplicates=2))
    assert found.violations == []
    assert found.states > 5


def test_every_answer_a_responder_may_give_is_explored() -> None:
    text = ONE_NOTICE.replace('action = "ack"', 'answers = ["ack", "dispute", "silent"]')
    text = text.replace('delay = "30s"', 'delay = "30s"\nreason = "location-conflict"')
    found = explore(_scenario(text=text), Bounds())
    assert found.outcomes == {"flight-1": {"acknowledged", "disputed", "unresolved"}}
    assert [v.property for v in found.violations] == ["expect every incident acknowledged"]


def test_an_outcome_never_reached_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(ONE_NOTICE.replace("RETRIES", "1"))
    assert main(["explore", str(scenario), "--sometimes", "flight-1=disputed"]) == 1
    assert "NEVER REACHED: flight-1 disputed" in capsys.readouterr().out
    assert main(["explore", str(scenario), "--sometimes", "flight-1=acknowledged"]) == 0


def test_max_states_stops_the_search_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(ONE_NOTICE.replace("RETRIES", "1"))
    assert main(["explore", str(scenario), "--max-loss", "2", "--max-states", "3"]) == 1
    assert "INCOMPLETE: --max-states reached" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-loss", "-1"], "--max-loss: -1 is below 0"),
        (["--max-states", "0"], "--max-states: 0 is below 1"),
        (["--sometimes", "flight-1"], "is not INCIDENT=OUTCOME"),
        (["--sometimes", "flight-1=won"], "is not INCIDENT=OUTCOME"),
    ],
)
def test_bad_options_are_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(ONE_NOTICE.replace("RETRIES", "1"))
    assert main(["explore", str(scenario), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_world_copy_is_independent_of_its_original() -> None:
    world = initial_world(_scenario(), Bounds())
    [(_, after)] = list(world.successors())
    assert world.flight == []
    assert len(after.flight) == 1
    assert list(world.endpoints["BLUE"].incidents()) == []
    assert after.key() != world.key()
    assert initial_world(_scenario(), Bounds()).key() == world.key()


def unreconciled_crossing(monkeypatch: pytest.MonkeyPatch) -> str:
    """A test-only doctrine variant, and a scenario that exercises it: a responder that
    has acknowledged takes a withdraw that crosses its ack, confirms it, and keeps its
    acknowledged view. Returns the scenario (BLUE withdraws as RED answers)."""
    original = Incident._on_closing

    def unreconciled(self: Incident, heard: Heard, now: float) -> Verdict:
        if heard.kind is Kind.WITHDRAW and self.state is State.ACKNOWLEDGED:
            return Verdict([Send(Kind.CONFIRM, self.channel, (heard.sender,), heard.digest, {})])
        return original(self, heard, now)

    monkeypatch.setitem(HANDLERS, Kind.WITHDRAW, unreconciled)
    return ONE_NOTICE.replace("RETRIES", "0").replace(
        "[[expect]]",
        '[[events]]\nat = "30s"\naction = "withdraw"\noriginator = "BLUE-AOC"\n'
        'incident = "flight-1"\n[[expect]]',
    )


@pytest.mark.skipif(COMPILED, reason="patches the incident table, which is compiled")
def test_a_doctrine_variant_that_leaves_a_crossing_unreconciled_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = unreconciled_crossing(monkeypatch)
    found = explore(_scenario(text=text), Bounds())
    [violation] = [v for v in found.violations if "views-agree" in v.property]
    assert "BLUE-AOC holds withdrawn; RED-AOC (air) holds acknowledged" in violation.detail
    assert any("RED answers flight-1 on air: ack" in step for step in violation.steps)
    monkeypatch.undo()
    honest = explore(_scenario(text=text), Bounds())
    assert not [v for v in honest.violations if "views-agree" in v.property]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('action = "ack"\nanswers = ["ack"]', "give action or answers, not both"),
        ("answers = []", "must be a non-empty list of actions"),
        ('answers = ["ack", "shrug"]', "responders[0].answers[1]: 'shrug' is not one of"),
        ('answers = ["ack", "ack"]', "names an action twice"),
        ('answers = ["dispute"]', "responders[0].reason"),
    ],
)
def test_bad_answers_are_refused_with_the_field(change: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(
            ONE_NOTICE.replace("RETRIES", "0").replace('action = "ack"', change), "s.toml"
        )


def test_a_run_draws_one_of_the_answers_for_each_call() -> None:
    text = ONE_NOTICE.replace("RETRIES", "0").replace(
        'action = "ack"', 'answers = ["ack", "dispute"]\nreason = "location-conflict"'
    )
    scenario = parse_scenario(text, "s.toml")
    seen = {run_exercise(scenario, seed).incidents()[0].outcome for seed in range(20)}
    assert seen == {"acknowledged", "disputed"}


def test_a_counterexample_replays_to_the_same_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "no-retries.toml"
    scenario.write_text(ONE_NOTICE.replace("RETRIES", "0"))
    out = tmp_path / "cx"
    assert main(["explore", str(scenario), "--max-loss", "1", "--counterexamples", str(out)]) == 1
    capsys.readouterr()
    counterexample = out / "counterexample-1.toml"
    assert main(["exercise", "run", str(counterexample), "--json", str(tmp_path / "r.json")]) == 1
    printed = capsys.readouterr().out
    assert "replay: the 8 steps" in printed
    assert "FAIL every incident acknowledged (flight-1: outcome unresolved" in printed
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["replay"]["steps"] == 8
    assert [e["passed"] for e in result["expectations"]] == [False]
    assert all(i["held"] for i in result["invariants"])
    assert result["messages"]["dropped"] == 1
    # its timeline draws as any run's: each copy and its fate, in the report's swimlanes
    report = tmp_path / "report"
    assert main(["exercise", "run", str(counterexample), "-q", "--report", str(report)]) == 1
    page = (report / "index.html").read_text()
    assert "flight-1" in page
    assert "dropped: lost" in page or "lost" in page
    # a path the scenario no longer takes is refused, naming the step
    edited = counterexample.read_text().replace("is lost", "arrives")
    counterexample.write_text(edited)
    assert main(["exercise", "run", str(counterexample)]) == 2
    err = capsys.readouterr().err
    assert "replay.steps[3]:" in err  # the notice arrived: no deadline passes unanswered
    assert "is not a next step here" in err


@pytest.mark.skipif(COMPILED, reason="patches the incident table, which is compiled")
def test_a_views_disagree_counterexample_replays_to_a_broken_invariant(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = unreconciled_crossing(monkeypatch)
    found = explore(_scenario(text=text), Bounds())
    [violation] = [v for v in found.violations if "views-agree" in v.property]
    steps = "".join(f"    {json.dumps(s)},\n" for s in violation.steps)
    pinned = parse_scenario(text + f"\n[replay]\nsteps = [\n{steps}]\n", "cx.toml")
    result = build_result(replay(pinned))
    [verdict] = [v for v in result["invariants"] if v["name"] == "views-agree-at-quiescence"]
    assert not verdict["held"]
    assert verdict["incidents"] == ["flight-1"]


def test_two_worker_processes_find_exactly_what_one_finds() -> None:
    scenario = load_scenario(REPO / "examples" / "tutorial.toml")
    bounds = Bounds(max_loss=1, max_duplicates=1)
    one, two = explore(scenario, bounds), explore(scenario, bounds, workers=2)
    assert (one.states, one.transitions, one.final, one.depth) == (
        two.states,
        two.transitions,
        two.final,
        two.depth,
    )
    assert [(v.property, v.steps) for v in one.violations] == [
        (v.property, v.steps) for v in two.violations
    ]
    assert one.outcomes == two.outcomes


def test_depth_first_finds_the_same_states(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = load_scenario(REPO / "examples" / "tutorial.toml")
    bounds = Bounds(max_loss=1)
    breadth, depth = explore(scenario, bounds), explore(scenario, bounds, depth_first=True)
    assert (breadth.states, breadth.final) == (depth.states, depth.final)
    assert {v.property for v in breadth.violations} == {v.property for v in depth.violations}
    with pytest.raises(ValueError, match="depth first explores in one process"):
        explore(scenario, bounds, depth_first=True, workers=2)


#: BLUE notifies RED and GREEN at once; each acknowledges after 30 s, alike
TWO_RESPONDERS = """
[scenario]
name = "two-responders"
start = "2026-03-01T06:00:00Z"
duration = "2h"
[parties.BLUE]
air = "BLUE-AOC"
[parties.RED]
air = "RED-AOC"
[parties.GREEN]
air = "GREEN-AOC"
[doctrine.channels.air]
fallback = "none"
retries = 1
[network.air]
latency = "2s"
[[responders]]
station = "RED-AOC"
action = "ack"
delay = "30s"
[[responders]]
station = "GREEN-AOC"
action = "ack"
delay = "30s"
[[events]]
at = "0s"
originator = "BLUE-AOC"
incident = "flight-1"
activity = "flight"
precedence = "flash"
[[expect]]
incident = "*"
outcome = "acknowledged"
"""


def test_symmetric_parties_give_the_same_verdicts_with_fewer_states() -> None:
    plain = parse_scenario(TWO_RESPONDERS, "s.toml")
    symmetric = parse_scenario(
        TWO_RESPONDERS + '[explore]\nsymmetric = [["RED", "GREEN"]]\n', "s.toml"
    )
    for bounds in (Bounds(max_loss=1), Bounds(max_loss=2)):
        full, reduced = explore(plain, bounds), explore(symmetric, bounds)
        assert reduced.states < full.states
        assert reduced.outcomes == full.outcomes
        assert {v.property for v in reduced.violations} == {v.property for v in full.violations}
        assert [len(v.steps) for v in reduced.violations] == [len(v.steps) for v in full.violations]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('symmetric = [["RED"]]', "must list two parties or more"),
        ('symmetric = [["RED", "PURPLE"]]', "'PURPLE' is no party"),
        ('symmetric = [["RED", "GREEN"], ["GREEN", "BLUE"]]', "GREEN is in two groups"),
        ("symmetric = 3", "must be a list of groups"),
    ],
)
def test_bad_symmetry_is_refused_with_the_field(table: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(TWO_RESPONDERS + f"[explore]\n{table}\n", "s.toml")


def test_a_slow_line_delays_every_arrival_as_a_run_does() -> None:
    # 40 s on the wire each way: the ack comes back at 40 + 30 + 40 s, never sooner
    slow = ONE_NOTICE.replace('latency = "2s"', 'latency = "40s"').replace(
        'outcome = "acknowledged"', 'outcome = "acknowledged"\nwithin = "100s"'
    )
    found = explore(_scenario(retries=1, text=slow), Bounds())
    [violation] = found.violations
    assert "took 1m50s, expected within 1m40s" in violation.detail
    assert any("+40s notify flight-1" in step and "arrives" in step for step in violation.steps)


def test_things_due_at_one_instant_happen_in_every_order() -> None:
    # the withdrawal is scripted at the very instant BLUE's deadline lapses
    text = ONE_NOTICE.replace('action = "ack"', 'action = "silent"').replace(
        "[[expect]]",
        '[[events]]\nat = "10m"\naction = "withdraw"\noriginator = "BLUE-AOC"\n'
        'incident = "flight-1"\n[[expect]]',
    )
    found = explore(_scenario(text=text), Bounds())
    assert found.outcomes == {"flight-1": {"unresolved", "withdrawn"}}


def test_a_final_state_at_the_depth_bound_is_judged(capsys: pytest.CaptureFixture[str]) -> None:
    full = explore(_scenario(), Bounds(max_loss=1))
    [violation] = full.violations
    steps = len(violation.steps)
    assert [v.property for v in explore(_scenario(), Bounds(max_loss=1, depth=steps)).violations]
    short = explore(_scenario(), Bounds(max_loss=1, depth=steps - 1))
    assert short.violations == []
    assert short.cut > 0


def test_a_cut_replay_does_not_claim_its_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "no-retries.toml"
    scenario.write_text(ONE_NOTICE.replace("RETRIES", "0"))
    out = tmp_path / "cx"
    main(["explore", str(scenario), "--max-loss", "1", "--counterexamples", str(out)])
    counterexample = out / "counterexample-1.toml"
    text = counterexample.read_text()
    cut = text[: text.index('    "+600s')] + "]\n"  # the path cut before its deadline
    counterexample.write_text(cut)
    capsys.readouterr()
    assert main(["exercise", "run", str(counterexample), "-q"]) == 1
    printed = capsys.readouterr().out
    assert "the path stops there: the run's expectations are not judged" in printed
    assert "NOT REPRODUCED: expect every incident acknowledged" in printed


def test_parties_that_are_not_alike_cannot_be_declared_symmetric() -> None:
    unlike = TWO_RESPONDERS.replace('delay = "30s"\n[[events]]', 'delay = "45s"\n[[events]]')
    with pytest.raises(ScenarioError, match="responder rules are not RED's"):
        parse_scenario(unlike + '[explore]\nsymmetric = [["RED", "GREEN"]]\n', "s.toml")
    named = TWO_RESPONDERS + '[[expect]]\nincident = "flight-1"\nview = { RED = "acknowledged" }\n'
    with pytest.raises(ScenarioError, match="an expectation about one of a group"):
        parse_scenario(named + '[explore]\nsymmetric = [["RED", "GREEN"]]\n', "s.toml")


def test_an_unknown_incident_to_reach_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(ONE_NOTICE.replace("RETRIES", "1"))
    assert main(["explore", str(scenario), "--sometimes", "typo=acknowledged"]) == 2
    assert "no incident 'typo'" in capsys.readouterr().err
    assert main(["explore", str(scenario), "--json", str(tmp_path / "no" / "x.json")]) == 2


@pytest.mark.parametrize(
    "name",
    [
        "de-escalation-zone-2018",  # responders that judge notices on the agreed map
        "deir-ez-zor-2017",
        "general-officers-2018",
        "khasham-2018",
        "patrol-dispute-2020",
        "three-party-2017",
        "tutorial",
    ],
)
def test_without_faults_every_path_ends_as_the_simulated_run(name: str) -> None:
    # examples with nothing the explorer leaves out (no fault plan, outage, misrouting or
    # drawn answer): whatever the order of arrivals and timers, each incident ends as
    # the simulator says, and every expectation holds on every path
    scenario = load_scenario(REPO / "examples" / f"{name}.toml")
    simulated = build_result(run_exercise(scenario, scenario.seed, record=False))
    outcomes = {i["id"]: {i["outcome"]} for i in simulated["incidents"]}
    found = explore(scenario, Bounds(), max_states=20_000)
    assert found.complete
    assert found.violations == []
    assert found.outcomes == outcomes
