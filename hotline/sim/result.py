"""What an exercise shows: the result document (the JSON contract) and its verdicts.

The document's shape is a contract (see README, "Exercise result JSON"): keys and
meanings stay; new keys may be added. Times are exercise seconds from the start,
rounded to milliseconds; nothing in it depends on the wall clock, so the same scenario
and seed give the same bytes (`to_json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

from hotline import __version__
from hotline.core.errors import Reason
from hotline.core.incident import Incident
from hotline.sim.durations import format_duration
from hotline.sim.exercise import Tally
from hotline.sim.invariants import Watch, check_invariants
from hotline.sim.model import Expectation, Scenario


def _seconds(value: float | None, start: float) -> float | None:
    return None if value is None else round(value - start, 3)


def incident_record(incident: Incident, start: float) -> dict[str, Any]:
    """One incident as the result document shows it."""
    responders = list(incident.legs[0].recipients)
    return {
        "id": incident.id,
        "originator": incident.originator,
        "responder": responders[0],
        "responders": responders,
        "channels": [channel.value for channel in incident.path],
        "outcome": incident.outcome,
        "dispute_reason": incident.disputes[0][1].value if incident.disputes else None,
        "opened_at": _seconds(incident.opened_at, start),
        "closed_at": _seconds(incident.closed_at, start),
        "fallbacks": incident.fallbacks,
        "attempts": incident.attempts,
        "precedence": incident.precedence.value,
        "activity": incident.notice.activity,
        "late_notice": incident.late_notice,
        "escalation": incident.escalation or None,
    }


def check_expectation(
    expectation: Expectation, incidents: list[dict[str, Any]]
) -> tuple[bool, str]:
    """Whether ``expectation`` holds over the incident records, and why not."""
    chosen = [i for i in incidents if expectation.incident in ("*", i["id"])]
    if not chosen:
        return False, f"no incident {expectation.incident!r} was opened"
    failures = []
    for record in chosen:
        problems = list(_problems(expectation, record))
        if problems:
            failures.append(f"{record['id']}: {'; '.join(problems)}")
    if failures:
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        return False, " | ".join(failures[:3]) + more
    return True, ""


def _problems(expectation: Expectation, record: dict[str, Any]) -> Iterable[str]:
    if expectation.outcome is not None and record["outcome"] != expectation.outcome:
        yield f"outcome {record['outcome']}, expected {expectation.outcome}"
    if expectation.within is not None:
        closed = record["closed_at"]
        took = None if closed is None else closed - record["opened_at"]
        if took is None or took > expectation.within:
            shown = "still open" if took is None else f"took {format_duration(took)}"
            yield f"{shown}, expected within {format_duration(expectation.within)}"
    if expectation.max_fallbacks is not None and record["fallbacks"] > expectation.max_fallbacks:
        yield f"{record['fallbacks']} fallbacks, expected at most {expectation.max_fallbacks}"
    if expectation.min_fallbacks is not None and record["fallbacks"] < expectation.min_fallbacks:
        yield f"{record['fallbacks']} fallbacks, expected at least {expectation.min_fallbacks}"
    if expectation.channel is not None and record["channels"][-1] != expectation.channel:
        yield f"ended on {record['channels'][-1]}, expected {expectation.channel}"
    if expectation.late_notice is not None and record["late_notice"] != expectation.late_notice:
        yield "flagged late" if record["late_notice"] else "not flagged late"
    if (
        expectation.dispute_reason is not None
        and record["dispute_reason"] != expectation.dispute_reason
    ):
        yield f"dispute reason {record['dispute_reason']}, expected {expectation.dispute_reason}"


class Run(Protocol):
    """What a result is built from: a simulated `Exercise` or a live run."""

    scenario: Scenario
    seed: int
    tally: Tally
    watch: Watch

    @property
    def elapsed(self) -> float: ...

    def incidents(self) -> list[Incident]: ...

    def views(self) -> list[tuple[str, Incident]]: ...

    def local_ends(self) -> dict[str, float]: ...


def build_result(exercise: Run, timer_slack: float = 0.0) -> dict[str, Any]:
    """The result document of a finished run (``timer_slack``: see `bound_breaches`)."""
    scenario, tally = exercise.scenario, exercise.tally
    start = scenario.start
    incidents = [incident_record(i, start) for i in exercise.incidents()]
    expectations = []
    for expectation in scenario.expectations:
        passed, detail = check_expectation(expectation, incidents)
        expectations.append(
            {"description": expectation.description, "passed": passed, "detail": detail}
        )
    views = exercise.incidents() + [view for _, view in exercise.views()]
    invariants = check_invariants(
        exercise.watch, views, exercise.local_ends(), tally.accounted(), timer_slack
    )
    outcomes: dict[str, int] = {}
    for record in incidents:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    return {
        "hotline_version": __version__,
        "scenario": scenario.name,
        "seed": exercise.seed,
        "transport": "sim",
        "signing": scenario.signing,
        "ended_at": round(exercise.elapsed, 3),
        "incidents": incidents,
        "outcomes": dict(sorted(outcomes.items())),
        "messages": {
            "sent": tally.sent,
            "injected": tally.injected,
            "delivered": tally.delivered,
            "dropped": tally.dropped,
            "in_flight": tally.in_flight,
            "drops": dict(sorted(tally.drops.items())),
            "injections": dict(sorted(tally.injections.items())),
            "rejected": {reason.value: tally.rejected.get(reason.value, 0) for reason in Reason},
        },
        "expectations": expectations,
        "invariants": invariants,
    }


def passed(result: dict[str, Any]) -> bool:
    """Every expectation and invariant held."""
    return all(e["passed"] for e in result["expectations"]) and all(
        i["held"] for i in result["invariants"]
    )


def to_json(result: dict[str, Any]) -> str:
    """The canonical JSON text of a result (stable key order as built, two-space indent)."""
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
