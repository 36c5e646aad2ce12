"""Two runs of one scenario and seed, side by side: where a live run with faults departed
from the simulated run, incident by incident, and why.

Theory of operation. A fault plan decides each copy from its own draws (the seed and
the copy's identity, `hotline.faults.FaultPlan.draws`), so the faults it decides without
regard to timing (`PLAN_DECIDED`: drops, duplicates, corruption, forgeries, replays,
partitions, flaps, random loss) must fall on the same copies in both runs, for every
copy both runs sent. What depends on timing may differ: a delay or reorder, a copy
held in an outage or expired in it, a responder's answer that crosses a deadline. So
for each incident `compare_results` says whether the two runs agree (outcome, path,
fallbacks, attempts, dispute reason, each party's record and answer), and when they do
not, which faults each run met and the likeliest reason:

* ``plan``: both runs sent a copy (each result counts its copies by identity) and the
  plan decided it differently (a defect: this must not happen);
* ``path``: the runs sent different copies (a retry more or less), so different copies
  met the plan; look at what set the paths apart;
* ``timing``: only timing-dependent faults, or only the times, tell the runs apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from hotline.faults import PLAN_DECIDED
from hotline.sim.durations import format_duration

#: what must be the same in both runs of an incident, and how results name it
COMPARED: Final = (
    ("outcome", "outcome"),
    ("channels", "path"),
    ("fallbacks", "fallbacks"),
    ("attempts", "attempts"),
    ("dispute_reason", "dispute reason"),
)


class NotAResult(ValueError):
    """A document that is no exercise result."""


def check_result(document: object, name: str) -> Mapping[str, Any]:
    """``document`` if it is an exercise result (``hotline exercise run --json``).

    Raises:
        NotAResult: naming what is missing.
    """
    if not isinstance(document, Mapping):
        raise NotAResult(f"{name}: not an exercise result (a JSON object from exercise run --json)")
    for key in ("scenario", "seed", "transport", "incidents", "messages"):
        if key not in document:
            raise NotAResult(f"{name}: not an exercise result: no {key!r}")
    if not isinstance(document["incidents"], list):
        raise NotAResult(f"{name}: incidents: not a list")
    for index, incident in enumerate(document["incidents"]):
        if not isinstance(incident, Mapping) or not isinstance(incident.get("id"), str):
            raise NotAResult(f"{name}: incidents[{index}]: not an incident (no id)")
        for key, kind in (("faults", list), ("views", dict), ("answers", dict),
                          ("copies", dict)):  # fmt: skip
            if key in incident and not isinstance(incident[key], kind):
                raise NotAResult(f"{name}: incidents[{index}].{key}: not a {kind.__name__}")
    if not isinstance(document["messages"], Mapping):
        raise NotAResult(f"{name}: messages: not an object")
    for key in ("expectations", "invariants"):
        if not isinstance(document.get(key, []), list) or not all(
            isinstance(item, Mapping) for item in document.get(key, [])
        ):
            raise NotAResult(f"{name}: {key}: not a list of objects")
    return document


def _faults(
    incident: Mapping[str, Any],
) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """An incident's faults: those the plan decides, and those timing decides."""
    planned: set[tuple[str, str, str]] = set()
    timed: set[tuple[str, str, str]] = set()
    for entry in incident.get("faults", []):
        key = (str(entry.get("copy")), str(entry.get("fault")), str(entry.get("action")))
        (planned if entry.get("fault") in PLAN_DECIDED else timed).add(key)
    return planned, timed


def _records(incident: Mapping[str, Any], field: str, word: str) -> dict[str, Any]:
    table = incident.get(field) or {}
    return {party: (None if v is None else v.get(word)) for party, v in table.items()}


def compare_incident(
    first: Mapping[str, Any] | None, second: Mapping[str, Any] | None, names: tuple[str, str]
) -> dict[str, Any]:
    """One incident in both runs (None: the run never opened it)."""
    identifier = (first or second or {}).get("id")
    if first is None or second is None:
        missing = names[0] if first is None else names[1]
        return {"id": identifier, "same": False, "differences": [f"never opened in {missing}"],
                "why": "path", "faults": {}}  # fmt: skip
    differences = []
    for field, label in COMPARED:
        if first.get(field) != second.get(field):
            differences.append(f"{label}: {_show(first.get(field))} vs {_show(second.get(field))}")
    for field, word, label in (("views", "outcome", "record"), ("answers", "answer", "answer")):
        mine, theirs = _records(first, field, word), _records(second, field, word)
        for party in sorted(set(mine) | set(theirs)):
            if mine.get(party) != theirs.get(party):
                differences.append(
                    f"{party}'s {label}: {_show(mine.get(party))} vs {_show(theirs.get(party))}"
                )
    if "copies" in first and "copies" in second and first["copies"] != second["copies"]:
        counts = [first["copies"], second["copies"]]
        for identity in sorted(set(counts[0]) | set(counts[1])):
            sent = [c.get(identity, 0) for c in counts]
            if sent[0] != sent[1]:
                differences.append(f"copies of {identity}: {sent[0]} vs {sent[1]}")
    planned = [_faults(first)[0], _faults(second)[0]]
    timed = [_faults(first)[1], _faults(second)[1]]
    faults = {
        "plan": {names[0] + " only": _listed(planned[0] - planned[1]),
                 names[1] + " only": _listed(planned[1] - planned[0])},
        "timing": {names[0] + " only": _listed(timed[0] - timed[1]),
                   names[1] + " only": _listed(timed[1] - timed[0])},
    }  # fmt: skip
    if planned[0] != planned[1]:
        shared = [copy for copy, _, _ in planned[0] ^ planned[1] if _both_sent(copy, first, second)]
        why = "plan" if shared else "path"
        if shared:
            copies = ", ".join(sorted(set(shared)))
            differences.append(f"the plan decided a copy both runs sent differently ({copies})")
    elif differences:
        why = "timing"
    else:
        why = ""
    closed = (first.get("closed_at"), second.get("closed_at"))
    return {
        "id": identifier,
        "same": not differences,
        "differences": differences,
        "why": why,
        "closed_at": list(closed),
        "faults": faults,
    }


def _both_sent(copy: str, first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether both runs sent the copy ``copy`` names (``notify A->B #2``: the third of
    its kind). Results that count copies (``copies``) say so exactly; without them, the
    same attempts and path stand in."""
    identity, _, ordinal = copy.rpartition(" #")
    if "copies" in first and "copies" in second and ordinal.isdigit():
        wanted = int(ordinal) + 1
        return all(run["copies"].get(identity, 0) >= wanted for run in (first, second))
    return first.get("attempts") == second.get("attempts") and first.get("channels") == second.get(
        "channels"
    )


def compare_results(
    first: Mapping[str, Any], second: Mapping[str, Any], names: tuple[str, str] = ("sim", "live")
) -> dict[str, Any]:
    """Two results side by side (see the module doc)."""
    notes = []
    if (first["scenario"], first["seed"]) != (second["scenario"], second["seed"]):
        notes.append(
            f"different runs: {first['scenario']} seed {first['seed']} vs "
            f"{second['scenario']} seed {second['seed']} (compare one scenario and seed)"
        )
    for name, result in zip(names, (first, second), strict=True):
        if result.get("interrupted"):
            notes.append(f"the {name} run was interrupted: it holds what happened until then")
    mine = {i["id"]: i for i in first["incidents"]}
    theirs = {i["id"]: i for i in second["incidents"]}
    order = list(mine) + [i for i in theirs if i not in mine]
    incidents = [compare_incident(mine.get(i), theirs.get(i), names) for i in order]
    counts = {}
    for key in ("drops", "injections"):
        a, b = first["messages"].get(key, {}), second["messages"].get(key, {})
        if a != b:
            counts[key] = {names[0]: a, names[1]: b}
    return {
        "runs": {names[0]: _run(first), names[1]: _run(second)},
        "notes": notes,
        "incidents": incidents,
        "departed": sum(not i["same"] for i in incidents),
        "plan_departures": sum(i["why"] == "plan" for i in incidents),
        "counts": counts,
    }


def _run(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "scenario": result["scenario"],
        "seed": result["seed"],
        "transport": result["transport"],
        "expectations_passed": sum(bool(e.get("passed")) for e in result.get("expectations", [])),
        "expectations": len(result.get("expectations", [])),
        "invariants_broken": [i["name"] for i in result.get("invariants", []) if not i["held"]],
    }


WHY: Final = {
    "plan": "the plan decided a copy both runs sent differently: a defect (plan-decided faults "
    "must not differ)",
    "path": "the runs sent different copies (the path departed first), so different copies met "
    "the plan",
    "timing": "only timing tells them apart (timing-dependent faults, or when answers and "
    "deadlines fell)",
}


def comparison_lines(
    comparison: Mapping[str, Any], names: tuple[str, str] = ("sim", "live")
) -> list[str]:
    """The comparison as readable lines."""
    lines = [f"note: {note}" for note in comparison["notes"]]
    for name in names:
        run = comparison["runs"][name]
        broken = ", ".join(run["invariants_broken"]) or "none"
        lines.append(
            f"{name}: {run['transport']} run of {run['scenario']} seed {run['seed']}: "
            f"{run['expectations_passed']}/{run['expectations']} expectations passed, "
            f"invariants broken: {broken}"
        )
    for incident in comparison["incidents"]:
        closed = incident.get("closed_at") or [None, None]
        times = " / ".join("open" if c is None else format_duration(c) for c in closed)
        if incident["same"]:
            lines.append(f"SAME     {incident['id']} (closed at {times})")
            continue
        lines.append(f"DEPARTED {incident['id']}: {'; '.join(incident['differences'])}")
        for kind, sides in incident["faults"].items():
            for side, entries in sides.items():
                if entries:
                    lines.append(f"    {kind} faults, {side}: {'; '.join(entries)}")
        if incident["why"]:
            lines.append(f"    why: {WHY[incident['why']]}")
    for key, sides in comparison["counts"].items():
        shown = " vs ".join(f"{_show(sides[n])} ({n})" for n in names)
        lines.append(f"{key}: {shown}")
    total = len(comparison["incidents"])
    lines.append(
        f"{total - comparison['departed']} of {total} incidents the same; "
        f"{comparison['departed']} departed ({comparison['plan_departures']} by the plan)"
    )
    return lines


def _listed(entries: Iterable[tuple[str, str, str]]) -> list[str]:
    return [f"{copy} {action} by {fault}" for copy, fault, action in sorted(entries)]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " -> ".join(str(v) for v in value)
    return "none" if value is None else str(value)
