"""What an exercise shows: the result document (the JSON contract) and its verdicts.

The document's shape is a contract (see README, "Exercise result JSON"): keys and
meanings stay; new keys may be added. Times are exercise seconds from the start,
rounded to milliseconds; nothing in it depends on the wall clock, so the same scenario
and seed give the same bytes (`to_json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from hotline import __version__
from hotline.core.errors import Reason
from hotline.core.incident import Incident
from hotline.core.names import Channel, Kind
from hotline.geo.agreed import Judgement
from hotline.sim.durations import format_duration
from hotline.sim.exercise import Tally
from hotline.sim.invariants import Watch, check_invariants
from hotline.sim.model import Expectation, Scenario


def _seconds(value: float | None, start: float) -> float | None:
    return None if value is None else round(value - start, 3)


_ANSWER_WORDS: Final = {
    Kind.ACK: "acknowledged",
    Kind.DISPUTE: "disputed",
    Kind.STANDBY: "standby",
    Kind.RESOLVE: "resolved",
}
_REJECTION_NOTES: Final = {
    "future": "a sender's clock runs ahead (clock skew)",
    "stale": "sent too long ago, or a sender's clock runs behind (clock skew)",
}


def incident_record(
    incident: Incident,
    start: float,
    views: Sequence[tuple[str, Incident]] = (),
    rejected: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """One incident as the result document shows it.

    Args:
        incident: the originator's view.
        start: the exercise's start (times are seconds from it).
        views: every responder view of this incident, with its party.
        rejected: copies of this incident's messages refused, by reason code.
    """
    responders = list(incident.legs[0].recipients)
    rejected = {k: v for k, v in sorted((rejected or {}).items()) if v}
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
        "kind": incident.kind.value,
        "lead": incident.lead or None,
        "relay_for": incident.relay_for or None,
        "note": incident_note(incident, rejected),
        "views": view_records(incident, views, start),
        "answers": answer_records(incident, start),
        "rejected": rejected,
        "unconfirmed": sorted(
            f"{station} ({channel})" for station, channel in incident.unconfirmed
        ),
    }


def incident_note(incident: Incident, rejected: Mapping[str, int]) -> str:
    """A short account of how the incident went, for the outcome table."""
    notes = []
    if incident.disputes:
        station, why = incident.disputes[0]
        notes.append(f"disputed by {station}: {why}")
    if incident.fallbacks:
        notes.append(f"escalated: {incident.escalation}")
    elif incident.escalation:
        notes.append(f"line failed: {incident.escalation}")
    if incident.ending:
        notes.append(incident.ending)
    late = [a for a in incident.answers if a.effect != "taken" and a.kind is not Kind.CORRECT]
    for answer in late:
        word = _ANSWER_WORDS.get(answer.kind, str(answer.kind))
        notes.append(f"late {word} from {answer.station} {answer.effect}")
    for answer in incident.answers:
        if answer.kind is Kind.CORRECT:
            notes.append(f"{answer.station} corrected its answer to {answer.corrects_to}")
    if incident.lead:
        notes.append(
            "late notice" if incident.lead == "short-notice" else "notice gives no start time"
        )
    for code, count in rejected.items():
        because = _REJECTION_NOTES.get(code)
        if because is not None:
            notes.append(f"{count} refused as {code}: {because}")
    if incident.relay_for:
        notes.append(f"for {incident.relay_for}: delivery unconfirmed")
    for station, channel in incident.unconfirmed:
        notes.append(f"{station} ({channel}) never confirmed the outcome")
    return "; ".join(notes)


def view_records(
    incident: Incident, views: Sequence[tuple[str, Incident]], start: float
) -> dict[str, Any]:
    """Each party's view of the incident: its outcome and when it reached it."""
    found: dict[str, Any] = {
        incident.party: {
            "role": "originator",
            "outcome": incident.outcome,
            "at": _seconds(incident.outcome_at, start),
        }
    }
    for party, view in sorted(views, key=lambda pv: (pv[0], pv[1].opened_at)):
        entry = found.setdefault(party, {"role": "responder", "lines": {}})
        entry["lines"][view.channel.value] = {
            "station": view.station,
            "outcome": view.outcome,
            "at": _seconds(view.outcome_at, start),
        }
    for entry in found.values():
        lines = entry.get("lines")
        if lines is not None:
            outcomes = {line["outcome"] for line in lines.values()}
            entry["outcome"] = outcomes.pop() if len(outcomes) == 1 else "mixed"
            times = [line["at"] for line in lines.values()]
            entry["at"] = None if None in times else max(times)
    return found


def answer_records(incident: Incident, start: float) -> dict[str, Any]:
    """Each addressed party's answer as the originator heard it: its last answer taken,
    else its last one recorded or refused as late (None: no answer)."""
    parties: dict[str, Any] = {}
    for leg in incident.legs:
        rules = incident.doctrine[leg.channel]
        for station in leg.recipients:
            party = rules.party_of(station) or station
            parties.setdefault(party, None)
    for answer in incident.answers:
        party = incident.doctrine[answer.channel].party_of(answer.station) or answer.station
        if answer.kind is Kind.CORRECT:
            entry = parties.get(party)
            if entry is not None:
                entry["corrections"].append(
                    {
                        "at": _seconds(answer.at, start),
                        "line": answer.channel.value,
                        "to": _ANSWER_WORDS[Kind(answer.corrects_to)],
                        "reason": answer.reason or None,
                    }
                )
            continue
        previous = parties.get(party)
        if answer.kind is Kind.STANDBY and previous is not None:
            continue  # a standby does not hide a final answer given on another line
        if answer.effect != "taken" and previous is not None and previous["effect"] == "taken":
            continue  # a late answer stays beside the one that counted (it is in the note)
        parties[party] = {
            "answer": _ANSWER_WORDS[answer.kind],
            "line": answer.channel.value,
            "station": answer.station,
            "at": _seconds(answer.at, start),
            "reason": answer.reason or None,
            "effect": answer.effect,
            "corrections": [] if previous is None else previous["corrections"],
        }
    return parties


def check_expectation(
    expectation: Expectation, incidents: list[dict[str, Any]], slack: float = 0.0
) -> tuple[bool, str]:
    """Whether ``expectation`` holds over the incident records, and why not; ``within``
    allows ``slack`` seconds more (a live run's timers fire after its loop wakes)."""
    chosen = [i for i in incidents if expectation.incident in ("*", i["id"])]
    if not chosen:
        return False, f"no incident {expectation.incident!r} was opened"
    failures = []
    for record in chosen:
        problems = list(_problems(expectation, record, slack))
        if problems:
            failures.append(f"{record['id']}: {'; '.join(problems)}")
    if failures:
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        return False, " | ".join(failures[:3]) + more
    return True, ""


def _problems(expectation: Expectation, record: dict[str, Any], slack: float) -> Iterable[str]:
    if expectation.outcome is not None and record["outcome"] != expectation.outcome:
        yield f"outcome {record['outcome']}, expected {expectation.outcome}"
    if expectation.within is not None:
        closed = record["closed_at"]
        took = None if closed is None else closed - record["opened_at"]
        if took is None or took > expectation.within + slack:
            shown = "still open" if took is None else f"took {format_duration(took)}"
            allowed = f" (+{format_duration(slack)} for live timers)" if slack else ""
            yield f"{shown}, expected within {format_duration(expectation.within)}{allowed}"
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
    for party, wanted in expectation.views.items():
        view = record["views"].get(party)
        held = "none" if view is None else view["outcome"]
        if held != wanted:
            yield f"{party}'s view {held}, expected {wanted}"
    for party, wanted in expectation.answers.items():
        answer = record["answers"].get(party)
        given = "none" if answer is None else answer["answer"]
        if given != wanted:
            yield f"{party}'s answer {given}, expected {wanted}"


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

    def declared(self) -> dict[str, dict[Channel, str]]: ...


def build_result(exercise: Run, timer_slack: float = 0.0) -> dict[str, Any]:
    """The result document of a finished run (``timer_slack``: see `bound_breaches`)."""
    scenario, tally = exercise.scenario, exercise.tally
    start = scenario.start
    originated, answering = exercise.incidents(), exercise.views()
    # the invariants first: what they work with is let go before the records are made
    # (at 100k incidents, the peak of a run's memory is here)
    invariants = check_invariants(
        exercise.watch,
        originated + [view for _, view in answering],
        exercise.local_ends(),
        tally.accounted(),
        slack=timer_slack,
        flying=tally.flying,
    )
    views: dict[str, list[tuple[str, Incident]]] = {}
    for party, view in answering:
        found = views.get(view.id)
        if found is None:
            views[view.id] = [(party, view)]
        else:
            found.append((party, view))
    del answering
    incidents = [
        incident_record(i, start, views.get(i.id, ()), tally.rejected_by.get(i.id))
        for i in originated
    ]
    judged: Mapping[str, Judgement] = getattr(exercise, "judged", {})
    if judged:  # the scenario has an agreed map: what it says of each notice
        for record in incidents:
            if record["id"] in judged:
                record["geometry"] = judged[record["id"]].as_json()
    if tally.faults is not None:  # the run had faults, loss or outages: what each copy met
        copies = tally.copies or {}
        for record in incidents:
            record["faults"] = tally.faults.get(record["id"], [])
            record["copies"] = dict(sorted(copies.get(record["id"], {}).items()))
    expectations = []
    for expectation in scenario.expectations:
        passed, detail = check_expectation(expectation, incidents, timer_slack)
        expectations.append(
            {"description": expectation.description, "passed": passed, "detail": detail}
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
        "lines": line_records(exercise),
        "expectations": expectations,
        "invariants": invariants,
    }


def line_records(exercise: Run) -> dict[str, dict[str, Any]]:
    """Each line as the parties declared it and as it worked: a line can be declared
    suspended and still carry traffic (2017), or be declared working and be down."""
    declared = exercise.declared()
    scenario = exercise.scenario
    lines = {}
    for channel in Channel:
        link = scenario.network[channel]
        lines[channel.value] = {
            "declarations": [
                {
                    "at": event.at,
                    "party": event.party,
                    "state": "suspended" if event.action == "suspend" else "working",
                }
                for event in scenario.events
                if event.action in ("suspend", "resume") and event.channel == channel
            ],
            "declared_suspended_by": sorted(
                party for party, states in declared.items() if states.get(channel) == "suspended"
            ),
            "carried": exercise.watch.carried.get(channel.value, 0),
            "outages": [[start, end] for start, end in link.outages],
        }
    return lines


def passed(result: dict[str, Any]) -> bool:
    """Every expectation and invariant held."""
    return all(e["passed"] for e in result["expectations"]) and all(
        i["held"] for i in result["invariants"]
    )


def to_json(result: dict[str, Any]) -> str:
    """The canonical JSON text of a result (stable key order as built, two-space indent)."""
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
