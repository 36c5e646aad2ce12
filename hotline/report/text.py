"""Exercise results for a terminal: the outcome table, a summary, verdicts, a timeline."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hotline.sim.durations import format_clock, format_duration
from hotline.sim.timeline import Timeline

OUTCOME_STYLE = {
    "acknowledged": "green",
    "resolved": "green",
    "withdrawn": "cyan",
    "disputed": "yellow",
    "unresolved": "red",
    "open": "magenta",
}


def outcome_table(result: dict[str, Any], limit: int = 200) -> Table:
    """One row per incident (the first ``limit``)."""
    table = Table(title=f"{result['scenario']} (seed {result['seed']})", title_justify="left")
    for header in (
        "incident",
        "from",
        "to",
        "lines",
        "outcome",
        "took",
        "calls",
        "fallbacks",
        "notes",
    ):
        table.add_column(header, no_wrap=header in ("incident", "outcome", "took"))
    for record in result["incidents"][:limit]:
        took = (
            "-"
            if record["closed_at"] is None
            else format_duration(record["closed_at"] - record["opened_at"])
        )
        table.add_row(
            record["id"],
            record["originator"],
            ", ".join(record["responders"]),
            " > ".join(record["channels"]),
            Text(record["outcome"], style=OUTCOME_STYLE.get(record["outcome"], "")),
            took,
            str(record["attempts"]),
            str(record["fallbacks"]),
            record["note"],
        )
    return table


def render_result(console: Console, result: dict[str, Any]) -> None:
    """Table, message summary, expectations and invariants."""
    incidents = result["incidents"]
    console.print(outcome_table(result))
    if len(incidents) > 200:
        console.print(f"  ... and {len(incidents) - 200} more incidents (see --json)")
    outcomes = ", ".join(f"{count} {name}" for name, count in result["outcomes"].items())
    console.print(f"incidents: {len(incidents)} ({outcomes or 'none'})")
    messages = result["messages"]
    rejected = {k: v for k, v in messages["rejected"].items() if v}
    line = (
        f"messages: {messages['sent']} sent, {messages['delivered']} delivered, "
        f"{messages['dropped']} dropped, {messages['in_flight']} in flight"
    )
    if rejected:
        line += "; rejected: " + ", ".join(f"{k} {v}" for k, v in rejected.items())
    console.print(line)
    for expectation in result["expectations"]:
        mark = (
            Text("PASS", style="green") if expectation["passed"] else Text("FAIL", style="bold red")
        )
        detail = f" ({expectation['detail']})" if expectation["detail"] else ""
        console.print(mark, f"{expectation['description']}{detail}")
    for invariant in result["invariants"]:
        if not invariant["held"]:
            console.print(
                Text("BROKEN", style="bold red"), f"{invariant['name']}: {invariant['detail']}"
            )


def timeline_lines(exercise: Timeline, incident: str | None = None) -> list[str]:
    """The run's messages and decisions, one line each, in time order.

    With ``incident``, only that incident's lines: the minimal trace printed when an
    invariant about it breaks.
    """
    rows: list[tuple[float, int, str]] = []
    for index, record in enumerate(exercise.records or []):
        if incident is not None and record.incident != incident:
            continue
        arrival = (
            "" if record.arrived_at is None else f" +{record.arrived_at - record.sent_at:.1f}s"
        )
        rows.append(
            (
                record.sent_at,
                index,
                f"{format_clock(record.sent_at):>10}  {record.channel:<15} "
                f"{record.sender} -> {record.recipient}  {record.kind:<8} {record.incident}  "
                f"{record.fate}{arrival}",
            )
        )
    offset = len(rows)
    for index, note in enumerate(exercise.notes):
        if incident is not None and note.incident != incident:
            continue
        rows.append(
            (
                note.at,
                offset + index,
                f"{format_clock(note.at):>10}  {'':<15} {note.party}: {note.text}"
                + (f" ({note.incident})" if note.incident else ""),
            )
        )
    rows.sort(key=lambda row: (row[0], row[1]))
    return [text for _, _, text in rows]


def render_traces(
    console: Console, result: dict[str, Any], exercise: Timeline, most: int = 3
) -> None:
    """The timeline of each incident a broken invariant names (the first ``most``)."""
    named: list[str] = []
    for invariant in result["invariants"]:
        if not invariant["held"]:
            named += [i for i in invariant.get("incidents", []) if i not in named]
    for incident in named[:most]:
        console.print(f"trace of {incident}:", markup=False)
        for line in timeline_lines(exercise, incident):
            console.print(line, markup=False)
