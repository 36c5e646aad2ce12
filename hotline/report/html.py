"""Self-contained HTML reports: one file, styles and pictures inline, nothing fetched.

`write_exercise_report` shows one run: its verdicts, the outcome table, summary charts
and a sequence diagram per incident. `write_sweep_report` shows a sweep: outcome
probabilities with their 95% bands, time-to-close percentiles and expectations' pass
rates against the varied value. Both write ``index.html`` into the directory given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from hotline.core.names import Channel
from hotline.geo.agreed import agreed_map, verdict_codes
from hotline.report.mapsvg import (
    WIDE_MAP,
    Notice,
    degrees,
    describe,
    legend_svg,
    map_extent,
    map_svg,
    notices_of,
    panel_svg,
    time_panels,
)
from hotline.report.svg import (
    CHANNEL_COLOURS,
    OUTCOME_COLOURS,
    Arrow,
    Lane,
    Series,
    bars,
    lines,
    swimlanes,
)
from hotline.sim.durations import format_clock, format_duration
from hotline.sim.model import Scenario
from hotline.sim.sweep import OUTCOME_NAMES
from hotline.sim.timeline import Timeline
from hotline.timestamps import format_instant

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #f2f2f2; }
time { font-variant-numeric: tabular-nums; }
.pass { color: #2e8b3d; font-weight: bold; } .fail { color: #c0392b; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 2em; }
.legend span { display: inline-block; margin-right: 1.5em; }
.legend i { display: inline-block; width: 1.5em; height: 0.4em; margin-right: 0.4em; }
.sequence { overflow-x: auto; }
.notes { list-style: none; padding-left: 0; font-size: 0.85em; color: #444; }
.notes time { display: inline-block; min-width: 5em; }
svg.chart text { font-family: system-ui, sans-serif; }
.atlas { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
.judged { flex: 1 1 300px; list-style: none; padding-left: 0; margin: 0; font-size: 0.85em; }
.judged.under { flex-basis: 100%; columns: 340px; column-gap: 1.5em; }
.judged > li { margin-bottom: 0.9em; padding-left: 0.6em; border-left: 4px solid #ccc; }
.judged > li { break-inside: avoid; }
.judged ul { margin: 0.2em 0; padding-left: 1.2em; }
.judged code { background: #f4f4f4; padding: 0 0.2em; white-space: nowrap; }
.panels { display: flex; flex-wrap: wrap; gap: 12px; }
"""


class _Markup(str):
    """Text that is HTML already: `_table` puts it in its cell as it is."""


def _page(title: str, body: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _cell(value: Any) -> str:
    if isinstance(value, _Markup):
        return value
    return escape("" if value is None else str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _verdict(held: bool) -> str:
    return '<span class="pass">held</span>' if held else '<span class="fail">FAILED</span>'


def _at(start: float, at: float | None) -> _Markup:
    """Exercise time ``at`` on the exercise clock, its UTC time on hover."""
    if at is None:
        return _Markup("")
    instant = escape(format_instant(start + at))
    return _Markup(f'<time datetime="{instant}" title="{instant}">{format_clock(at)}</time>')


def _legend() -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span><i style="background:{c}"></i>{escape(name)}</span>'
            for name, c in CHANNEL_COLOURS.items()
        )
        + "</p><p>Each message copy has its row, in the order sent, and its arrow from "
        "sender to recipient. Thick: a fallback to the next line. Red: a copy rejected "
        "(the reason by its arrowhead) or dropped (crossed out, dotted on to where it was "
        "going). On the left, the exercise clock, each row tied to the time its copy was "
        "sent; hover over a time for its UTC time, over an arrow for its copy.</p>"
    )


def _summary(result: Mapping[str, Any], start: float) -> list[str]:
    """The heading: what ran, what went over the lines, and when exercise time 0 was."""
    messages = result["messages"]
    origin = escape(format_instant(start))
    return [
        f"<h1>Exercise {escape(result['scenario'])} (seed {result['seed']})</h1>",
        f"<p>{'Live, over MQTT' if result['transport'] == 'live' else 'Simulated'}: "
        f"{len(result['incidents'])} incidents, {messages['sent']} message copies sent, "
        f"{messages['delivered']} delivered, {messages['dropped']} dropped; run ended at "
        f"{_at(start, result['ended_at'])} (hotline {escape(result['hotline_version'])}).</p>",
        "<p>Times are on the exercise clock, <code>H:MM:SS</code> from the scenario's "
        f'start, <time datetime="{origin}">{origin}</time> (0:00:00); hover over one for '
        "its UTC time.</p>",
    ]


def _checks(result: Mapping[str, Any]) -> list[str]:
    """The verdict of every expectation and invariant."""
    return [
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
    ]


def _outcomes(result: Mapping[str, Any], start: float) -> list[str]:
    """One row per incident, and charts of the outcomes and of the time to each."""
    incidents = result["incidents"]
    return [
        "<h2>Outcomes</h2>",
        _table(
            (
                *("incident", "from", "to", "lines", "outcome"),
                *("opened", "closed", "took", "fallbacks", "calls"),
            ),
            [
                (
                    i["id"],
                    i["originator"],
                    ", ".join(i["responders"]),
                    " > ".join(i["channels"]),
                    i["outcome"],
                    _at(start, i["opened_at"]),
                    _at(start, i["closed_at"]),
                    "-"
                    if i["closed_at"] is None
                    else format_duration(i["closed_at"] - i["opened_at"]),
                    i["fallbacks"],
                    i["attempts"],
                )
                for i in incidents
            ],
        ),
        '<div class="charts">',
        bars("Outcomes", [(name, float(count)) for name, count in result["outcomes"].items()]),
        bars(
            "Time to outcome",
            [
                (i["id"], float(i["closed_at"] - i["opened_at"]))
                for i in incidents
                if i["closed_at"] is not None
            ],
            show=format_duration,
        ),
        "</div>",
    ]


def _agreed_map(result: Mapping[str, Any], scenario: Scenario) -> list[str]:
    """The agreed map with every notice's area, what the map said of each beside it,
    and the exercise over time in small multiples (nothing when there is no map)."""
    if scenario.geometry is None:
        return []
    spec = scenario.geometry
    shown = agreed_map(spec)
    notices = notices_of(scenario, result)
    extent = map_extent(shown, notices)
    body = [
        "<h2>Agreed map</h2>",
        "<p>The scenario's agreed map and the area of every notice, coloured by its "
        "incident's outcome and labelled with its id; hover over an area for its "
        "incident, outcome and verdicts. Drawn as the judgement measures it: an azimuthal "
        f"equidistant projection centred on {degrees(shown.frame.centre)}, north up, so "
        "distances read true by the scale bar"
        + (
            "; each side of a line is the half of the theatre the line, carried on past "
            "its ends (dotted), splits off.</p>"
            if spec.lines
            else ".</p>"
        ),
        legend_svg(shown, notices),
        '<div class="atlas">',
        # beside the map while the list is about as long as the map is high; under it,
        # in columns, when it would run on far below (the map then takes the width)
        map_svg(shown, notices, scenario.parties, extent)
        if len(notices) <= _BESIDE
        else map_svg(
            shown, notices, scenario.parties, extent, width=WIDE_MAP[0], height=WIDE_MAP[1]
        ),
        _judged(notices, beside=len(notices) <= _BESIDE),
        "</div>",
    ]
    panels = time_panels(notices)
    if len(panels) > 1:
        grouped = panels[0].step is not None
        every = (
            f"one per {format_duration(panels[0].step or 0)} in which a notice was sent"
            if grouped
            else "one per time a notice was sent"
        )
        body += [
            "<h3>Over exercise time</h3>",
            f"<p>{len(panels)} panels, {every} ({format_clock(panels[0].first)} to "
            f"{format_clock(panels[-1].last)}): each shows the positions where they were "
            "at its last notice and every notice sent up to then, the earlier ones faded, "
            "coloured by final outcome.</p>",
            '<div class="panels">',
            *(
                panel_svg(shown, notices, scenario.parties, extent, panel, ident=f"panel-{n}")
                for n, panel in enumerate(panels)
            ),
            "</div>",
        ]
    return body


def _judged(notices: Sequence[Notice], *, beside: bool) -> str:
    """What the map said of each notice: its area, distances and verdicts."""
    if not notices:
        return '<p class="judged">No notice gives an area.</p>'
    meanings = {code.partition(":")[0]: meaning for code, meaning in verdict_codes().items()}
    items = []
    for notice in notices:
        what = f"{notice.kind} of {notice.activity}" if notice.activity else notice.kind
        lines = [
            f"{escape(what)} from {escape(notice.originator)} ({escape(notice.party)}), sent "
            f"{format_clock(notice.at)}"
        ]
        if notice.starts_in is not None:
            lines[0] += f"; activity from {format_clock(notice.at + notice.starts_in)}"
            if notice.lasts is not None:
                lines[0] += f" to {format_clock(notice.at + notice.starts_in + notice.lasts)}"
        lines.append(escape(describe(notice.where)))
        judged = notice.geometry or {}
        facts = [
            _on_line(name, line, notice.party) for name, line in judged.get("lines", {}).items()
        ]
        facts += [f"enters zone {escape(zone)}" for zone in judged.get("zones", [])]
        facts += [
            f"{escape(near['party'])}'s {escape(near['position'])} {near['distance_km']:.1f} km "
            "away"
            for near in judged.get("near", [])
        ]
        if judged.get("misplaced_km") is not None:
            facts.append(f"{judged['misplaced_km']:.1f} km from where it really was")
        verdicts = " ".join(
            f'<code title="{escape(meanings.get(v.partition(":")[0], ""))}">{escape(v)}</code>'
            for v in notice.verdicts
        )
        items.append(
            f'<li data-incident="{escape(notice.incident)}" '
            f'style="border-color:{notice.colour}"><b>{escape(notice.incident)}</b>: '
            f"{escape(notice.outcome)}<br>"
            + "<br>".join(lines)
            + ("<ul>" + "".join(f"<li>{f}</li>" for f in facts) + "</ul>" if facts else "<br>")
            + (f"verdicts: {verdicts}" if verdicts else "verdicts: none, clear")
            + ("" if notice.geometry is not None else " (the run did not judge it)")
            + "</li>"
        )
    return f'<ol class="{"judged" if beside else "judged under"}">' + "".join(items) + "</ol>"


#: how many notices' verdicts are listed beside the map (more go under it)
_BESIDE = 5


def _on_line(name: str, line: Mapping[str, Any], party: str) -> str:
    """What the map said of a notice's area about one line, in words."""
    sides = [escape(side) for side in line.get("sides", [])]
    if len(sides) == 1:
        text = f"line {escape(name)}: {line['distance_km']:.1f} km off, on {sides[0]}'s side"
    else:
        text = f"line {escape(name)}: astride it, on {' and '.join(sides)}'s sides"
    if line.get("crosses"):
        text += f", reaching beyond {escape(party)}'s own"
    elif line.get("in_buffer"):
        text += ", inside its buffer"
    return text


def _lanes(scenario: Scenario, stations: Iterable[str]) -> list[Lane]:
    """The lanes of ``stations``: by party (in the scenario's order), within a party by
    line (air, ground, general officers: `Channel`'s order), so each party's stations
    sit together; stations the scenario does not name come last."""
    parties = {party: rank for rank, party in enumerate(scenario.parties)}
    channels = {channel: rank for rank, channel in enumerate(Channel)}
    known = scenario.stations()
    ranked: list[tuple[tuple[int, int, int, str], Lane]] = []
    for station in set(stations):
        if station not in known:
            ranked.append(((1, 0, 0, station), Lane(station)))
            continue
        party, on = known[station]
        lines = sorted(on, key=channels.__getitem__)
        rank = (0, parties[party], channels[lines[0]] if lines else 0, station)
        ranked.append((rank, Lane(station, party, tuple(str(line) for line in lines))))
    return [lane for _, lane in sorted(ranked, key=lambda pair: pair[0])]


def _sequences(result: Mapping[str, Any], run: Timeline) -> list[str]:
    """A sequence diagram per incident, and the decisions made in it below."""
    start = run.scenario.start
    by_incident: dict[str, list[Arrow]] = defaultdict(list)
    for record in run.records or []:
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
        notes[note.incident].append(
            f"<li>{_at(start, note.at)} {escape(note.party)}: {escape(note.text)}</li>"
        )
    body = ["<h2>Sequence of each incident</h2>", _legend()]
    for incident in result["incidents"]:
        arrows = sorted(by_incident.get(incident["id"], []), key=lambda a: a.sent_at)
        body.append(
            f"<h3>{escape(incident['id'])}: {escape(incident['activity'])}, "
            f"{escape(incident['outcome'])}</h3>"
        )
        if arrows:
            lanes = _lanes(run.scenario, [s for a in arrows for s in (a.sender, a.recipient)])
            body.append(f'<div class="sequence">{swimlanes(lanes, arrows, start=start)}</div>')
        else:
            body.append("<p>No message was sent.</p>")
        if notes.get(incident["id"]):
            body.append('<ul class="notes">' + "".join(notes[incident["id"]]) + "</ul>")
    return body


def write_exercise_report(directory: Path, result: Mapping[str, Any], run: Timeline) -> Path:
    """Write the report of one run; returns the page's path.

    The page is its sections in turn, each drawn by a function of its own.
    """
    start = run.scenario.start
    body = [
        *_summary(result, start),
        *_checks(result),
        *_outcomes(result, start),
        *_agreed_map(result, run.scenario),
        *_sequences(result, run),
    ]
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
