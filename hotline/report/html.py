"""Self-contained HTML reports: one file, styles and pictures inline, nothing fetched.

`write_exercise_report` shows one run: its verdicts, the outcome table, summary charts
and a sequence diagram per incident. `write_sweep_report` shows a sweep: outcome
probabilities with their 95% bands, time-to-close percentiles and expectations' pass
rates against the varied value. Both write ``index.html`` into the directory given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from hotline.report.svg import (
    CHANNEL_COLOURS,
    OUTCOME_COLOURS,
    Arrow,
    Series,
    bars,
    lines,
    swimlanes,
)
from hotline.sim.sweep import OUTCOME_NAMES
from hotline.sim.timeline import Timeline

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #f2f2f2; }
.pass { color: #2e8b3d; font-weight: bold; } .fail { color: #c0392b; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 2em; }
.legend span { display: inline-block; margin-right: 1.5em; }
.legend i { display: inline-block; width: 1.5em; height: 0.4em; margin-right: 0.4em; }
svg text { font-family: system-ui, sans-serif; }
"""


def _page(title: str, body: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if c is None else str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _verdict(held: bool) -> str:
    return '<span class="pass">held</span>' if held else '<span class="fail">FAILED</span>'


def _legend() -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span><i style="background:{c}"></i>{escape(name)}</span>'
            for name, c in CHANNEL_COLOURS.items()
        )
        + "<span>thick: fallback to the next line; red: rejected or dropped</span></p>"
    )


def write_exercise_report(directory: Path, result: Mapping[str, Any], run: Timeline) -> Path:
    """Write the report of one run; returns the page's path."""
    incidents = result["incidents"]
    body = [
        f"<h1>Exercise {escape(result['scenario'])} (seed {result['seed']})</h1>",
        f"<p>{'Live, over MQTT' if result['transport'] == 'live' else 'Simulated'}: "
        f"{len(incidents)} incidents, {result['messages']['sent']} message copies sent, "
        f"{result['messages']['delivered']} delivered, {result['messages']['dropped']} "
        f"dropped; run ended at {result['ended_at']} s "
        f"(hotline {escape(result['hotline_version'])}).</p>",
        "<h2>Expectations and invariants</h2>",
        "<table><tr><th>check</th><th>verdict</th><th>detail</th></tr>"
        + "".join(
            f"<tr><td>{escape(e['description'])}</td><td>{_verdict(e['passed'])}</td>"
            f"<td>{escape(e['detail'])}</td></tr>"
            for e in result["expectations"]
        )
        + "".join(
            f"<tr><td>invariant: {escape(i['name'])}</td><td>{_verdict(i['held'])}</td>"
            f"<td>{escape(i['detail'])}</td></tr>"
            for i in result["invariants"]
        )
        + "</table>",
        "<h2>Outcomes</h2>",
        _table(
            (
                "incident",
                "from",
                "to",
                "lines",
                "outcome",
                "opened (s)",
                "closed (s)",
                "fallbacks",
                "calls",
            ),
            [
                (
                    i["id"],
                    i["originator"],
                    ", ".join(i["responders"]),
                    " > ".join(i["channels"]),
                    i["outcome"],
                    i["opened_at"],
                    i["closed_at"],
                    i["fallbacks"],
                    i["attempts"],
                )
                for i in incidents
            ],
        ),
        '<div class="charts">',
        bars("Outcomes", [(name, float(count)) for name, count in result["outcomes"].items()]),
        bars(
            "Time to outcome (s)",
            [
                (i["id"], float(i["closed_at"] - i["opened_at"]))
                for i in incidents
                if i["closed_at"] is not None
            ],
            " s",
        ),
        "</div>",
        "<h2>Sequence of each incident</h2>",
        _legend(),
    ]
    records = run.records or []
    by_incident: dict[str, list[Arrow]] = defaultdict(list)
    for record in records:
        by_incident[record.incident].append(
            Arrow(
                record.sent_at,
                record.arrived_at,
                record.sender,
                record.recipient,
                record.channel,
                record.kind,
                record.fate,
            )
        )
    notes: dict[str, list[str]] = defaultdict(list)
    for note in run.notes:
        notes[note.incident].append(f"{note.at:,.1f} s  {note.party}: {note.text}")
    stations = run.scenario.stations()  # station -> (party, channels)
    ranked = sorted(stations, key=lambda station: (stations[station][0], station))
    order = {station: index for index, station in enumerate(ranked)}
    for incident in incidents:
        arrows = sorted(by_incident.get(incident["id"], []), key=lambda a: a.sent_at)
        lanes = sorted(
            {a.sender for a in arrows} | {a.recipient for a in arrows},
            key=lambda s: order.get(s, len(order)),
        )
        body.append(
            f"<h3>{escape(incident['id'])}: {escape(incident['activity'])}, "
            f"{escape(incident['outcome'])}</h3>"
        )
        if arrows:
            body.append(swimlanes(lanes, arrows, notes.get(incident["id"], [])))
        else:
            body.append("<p>No message was sent.</p>")
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "index.html"
    page.write_text(_page(f"hotline exercise {result['scenario']}", body))
    return page


CURVES = OUTCOME_NAMES  # every outcome, open among them


def _interval(stat: Mapping[str, Any]) -> str:
    return f"{stat['p']:.3f} [{stat['low']:.3f}, {stat['high']:.3f}]"


def _expectation_rows(
    xs: Sequence[str], points: Sequence[Mapping[str, Any]]
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for x, point in zip(xs, points, strict=True):
        for stat in point["expectations"]:
            passed = stat["passed"]
            verdict = "held" if passed["count"] == stat["runs"] else "FAILED"
            rows.append(
                (
                    x,
                    stat["description"],
                    verdict,
                    f"{passed['count']} of {stat['runs']}",
                    _interval(passed),
                    ", ".join(str(seed) for seed in stat["failed_seeds"]),
                )
            )
    return rows


def write_sweep_report(directory: Path, document: Mapping[str, Any]) -> Path:
    """Write the report of a sweep; returns the page's path.

    Each outcome's probability (open among them: still open when its run ended) over
    the incidents, the time to close over the closed incidents only (how many of all is
    in the table), and each expectation's pass rate over the runs.
    """
    varied = list(document["vary"])
    x_path = varied[0] if varied else "(no variation)"
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for point in document["points"]:
        groups[tuple(point["values"].get(p) for p in varied[1:])].append(point)
    body = [
        f"<h1>Sweep of {escape(document['scenario'])}</h1>",
        f"<p>{document['runs']} seeded runs per point from seed {document['seed']}; "
        f"varied: {escape(', '.join(varied) or 'nothing')}. Bands are 95% Wilson "
        "intervals. Outcome probabilities are over every incident; <em>open</em> is an "
        "incident still open when its run ended. The time to close (p50, p90, p99) is over "
        "the closed incidents only: the <em>closed</em> column says how many of all. "
        "Expectations are judged in each run, as <code>hotline exercise run</code> "
        "judges them; their pass rate is over the runs.</p>",
    ]
    for key, points in groups.items():
        suffix = ", ".join(f"{p} = {v}" for p, v in zip(varied[1:], key, strict=True))
        xs = [str(p["values"].get(x_path, "")) for p in points]
        probabilities = [
            Series(
                name,
                [p["outcomes"][name]["p"] for p in points],
                [p["outcomes"][name]["low"] for p in points],
                [p["outcomes"][name]["high"] for p in points],
                OUTCOME_COLOURS[name],
            )
            for name in CURVES
            if any(p["outcomes"][name]["count"] for p in points)
        ]
        probabilities.append(
            Series(
                "acknowledged on first line",
                [p["first_line_ack"]["p"] for p in points],
                colour="#222",
                dashed=True,
            )
        )
        times = [
            Series(
                quantile,
                [
                    None
                    if p["time_to_outcome"][quantile] is None
                    else p["time_to_outcome"][quantile] / 60
                    for p in points
                ],
                colour=colour,
                dashed=quantile != "p50",
            )
            for quantile, colour in (("p50", "#1f6fb2"), ("p90", "#d08a00"), ("p99", "#c0392b"))
        ]
        if suffix:
            body.append(f"<h2>{escape(suffix)}</h2>")
        body.append('<div class="charts">')
        body.append(
            lines(
                "Outcome probability",
                x_label=x_path,
                xs=xs,
                series=probabilities,
                y_label="probability",
                y_max=1.0,
            )
        )
        body.append(
            lines(
                "Time to close (closed incidents only)",
                x_label=x_path,
                xs=xs,
                series=times,
                y_label="minutes",
            )
        )
        body.append("</div>")
        body.append(
            _table(
                (
                    x_path,
                    *CURVES,
                    "first line",
                    "closed",
                    "p50 s",
                    "p90 s",
                    "p99 s",
                    "broken runs",
                ),
                [
                    (
                        x,
                        *(_interval(p["outcomes"][n]) for n in CURVES),
                        f"{p['first_line_ack']['p']:.3f}",
                        f"{p['closed_incidents']} of {p['incidents']}",
                        *(p["time_to_outcome"][q] for q in ("p50", "p90", "p99")),
                        p["runs_with_broken_invariants"],
                    )
                    for x, p in zip(xs, points, strict=True)
                ],
            )
        )
        expectations = _expectation_rows(xs, points)
        if expectations:
            body.append("<h3>Expectations: pass rate over the runs</h3>")
            body.append(
                _table(
                    (
                        x_path,
                        "expectation",
                        "verdict",
                        "passed runs",
                        "pass rate [95%]",
                        "first failing seeds",
                    ),
                    expectations,
                )
            )
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "index.html"
    page.write_text(_page(f"hotline sweep {document['scenario']}", body))
    return page
