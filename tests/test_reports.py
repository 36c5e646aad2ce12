"""HTML reports: what they show, that their pictures are well-formed SVG, and that a
real browser renders them."""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyproj import Geod

from hotline.cli import main
from hotline.core.names import Channel
from hotline.core.where import Where
from hotline.geo.agreed import AgreedMap, MapSpec, PositionSpec
from hotline.report.mapsvg import MAX_PANELS, Notice, map_extent, map_svg, panel_svg, time_panels
from hotline.report.svg import OUTCOME_COLOURS, TICKS, Arrow, Lane, swimlanes
from hotline.report.text import timeline_lines
from hotline.sim.durations import format_clock
from hotline.sim.exercise import run_exercise
from hotline.sim.scenario import load_scenario
from tests.conftest import REPO

SVG = "{http://www.w3.org/2000/svg}"


def _pictures(page: str) -> list[ET.Element]:
    return [ET.fromstring(block) for block in re.findall(r"<svg .*?</svg>", page, re.S)]


def _texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


def _classed(svg: ET.Element, name: str) -> list[ET.Element]:
    return [t for t in svg.iter(f"{SVG}text") if t.get("class") == name]


def _lane_labels(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in _classed(svg, "lane")]


def _report(example: str, directory: Path) -> Path:
    scenario = REPO / "examples" / f"{example}.toml"
    assert main(["exercise", "run", str(scenario), "-q", "--report", str(directory)]) == 0
    return directory / "index.html"


def _tutorial_report(directory: Path) -> Path:
    return _report("tutorial", directory)


def _swimlanes(page: str) -> list[ET.Element]:
    return [p for p in _pictures(page) if p.get("class") == "swimlane"]


def test_an_exercise_report_shows_outcomes_and_a_sequence_per_incident(tmp_path: Path) -> None:
    page = _tutorial_report(tmp_path).read_text()
    assert "<script" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    for incident in ("flight-1", "patrol-1", "strike-1"):
        assert f"<td>{incident}</td>" in page
    pictures = _pictures(page)
    lanes = [p for p in pictures if p.get("class") == "swimlane"]
    assert len(lanes) == 3
    strike = lanes[2]
    texts = _texts(strike)
    assert _lane_labels(strike) == ["BLUE-AOC", "BLUE-GO", "RED-AOC", "RED-GO"]
    assert any(t.startswith("escalate") for t in texts)
    colours = {line.get("stroke") for line in strike.iter(f"{SVG}line")}
    assert {"#1f6fb2", "#7b3fa0"} <= colours  # air and general-officer arrows
    thick = [ln for ln in strike.iter(f"{SVG}line") if ln.get("stroke-width") == "3"]
    assert len(thick) == 1  # the fallback to the general officers
    charts = [p for p in pictures if p.get("class") == "chart"]
    assert [_texts(c)[0] for c in charts] == ["Outcomes", "Time to outcome"]


def test_rejections_and_drops_are_marked(tmp_path: Path) -> None:
    scenario = REPO / "examples" / "warnings-unheard-2015.toml"
    assert main(["exercise", "run", str(scenario), "-q", "--report", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    texts = [t for p in _pictures(page) for t in _texts(p)]
    assert any(t.startswith("rejected: unknown-key") for t in texts)
    assert any(t.startswith("dropped") for t in texts)


CLOCK = re.compile(r"(?:(\d+)d)?(\d+):(\d\d):(\d\d)")


def _seconds(clock: str) -> int:
    match = CLOCK.fullmatch(clock)
    assert match, f"{clock!r} is not on the exercise clock"
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def test_times_are_on_the_terminals_clock_with_their_utc_time_on_hover(tmp_path: Path) -> None:
    page = _report("khasham-2018", tmp_path).read_text()
    for raw in ("309.114", "309.1", "7,200", "7200.0", "14421.193"):
        assert raw not in page  # exercise seconds, as the report used to print them
    assert not re.search(r"\d s\b", page)
    # the outcome table: opened and closed on the clock, their UTC time on hover
    closed = "2018-02-07T20:05:09.114Z"
    assert f'<time datetime="{closed}" title="{closed}">0:05:09</time>' in page
    assert (
        '<time datetime="2018-02-07T22:00:00Z" title="2018-02-07T22:00:00Z">2:00:00</time>' in page
    )
    assert "<td>5m09s</td>" in page  # took, as the terminal's outcome table writes it
    assert "2018-02-07T20:00:00Z</time> (0:00:00)" in page  # the start, said once
    # every time in the diagrams (each copy's send, the axis's ticks): the same clock,
    # and the UTC time it stands for on hover
    start = datetime(2018, 2, 7, 20, tzinfo=UTC)
    shown: list[str] = []
    for svg in _swimlanes(page):
        for group in svg.iter(f"{SVG}g"):
            title = group.find(f"{SVG}title")
            for text in group.findall(f"{SVG}text"):
                if text.get("class") in {"sent", "tick"}:
                    assert title is not None
                    assert title.text is not None
                    at = datetime.fromisoformat(title.text) - start
                    assert text.text == format_clock(at.total_seconds())
                    shown.append(text.text)
    sent = [t.text or "" for svg in _swimlanes(page) for t in _classed(svg, "sent")]
    assert sent[:4] == ["0:00:00", "0:04:42", "0:05:09", "0:05:47"]
    assert set(sent) < set(shown)
    # what the terminal's timeline prints for each copy
    run = run_exercise(load_scenario(REPO / "examples" / "khasham-2018.toml"))
    terminal = [line.split()[0] for line in timeline_lines(run) if " -> " in line]
    assert sorted(terminal) == sorted(sent)


#: Monospace fonts advance 0.55 em (Consolas) to 0.602 em (DejaVu Sans Mono, Menlo) a
#: character: the diagrams, all in monospace, assume 0.62 (hotline.report.svg.CHAR_EM),
#: and the browser test below measures the fonts a browser really uses against it.
MONO_EM = 0.62


def _extent(text: ET.Element) -> tuple[float, float]:
    """Where a centred label starts and ends, at most."""
    x, width = float(text.get("x", "0")), len(text.text or "") * MONO_EM
    width *= float(text.get("font-size", "16"))
    assert text.get("text-anchor") == "middle"
    return x - width / 2, x + width / 2


@pytest.mark.parametrize(
    "example", ["khasham-2018", "deir-ez-zor-2017", "three-party-2017", "tutorial"]
)
def test_every_lane_is_wide_enough_for_its_station_name(example: str, tmp_path: Path) -> None:
    page = _report(example, tmp_path).read_text()
    stations = load_scenario(REPO / "examples" / f"{example}.toml").stations()
    for svg in _swimlanes(page):
        assert "monospace" in svg.get("font-family", "")
        labels = _classed(svg, "lane")
        names = [t.text for t in labels]
        assert set(names) <= set(stations)  # full names
        assert len(set(names)) == len(names) >= 2
        xs = [float(t.get("x", "0")) for t in labels]
        lines = sorted(
            float(ln.get("x1", "0")) for ln in svg.iter(f"{SVG}line") if ln.get("stroke") == "#999"
        )
        assert lines == xs  # each label over its lane's line
        spacing = {round(b - a, 1) for a, b in itertools.pairwise(xs)}
        assert len(spacing) == 1
        half = spacing.pop() / 2
        sent = max(float(t.get("x", "0")) for t in _classed(svg, "sent"))  # their right end
        for x, label in zip(xs, labels, strict=True):
            left, right = _extent(label)
            assert x - half <= left, f"{label.text} overflows its lane"
            assert right <= x + half, f"{label.text} overflows its lane"
            assert sent < left
            assert right <= float(svg.get("width", "0"))
    if example == "khasham-2018":
        assert [_lane_labels(svg) for svg in _swimlanes(page)] == [["US-GROUND", "RU-GROUND"]] * 2


@pytest.mark.parametrize(
    "example", ["deir-ez-zor-2017", "three-party-2017", "patrol-dispute-2020", "tutorial"]
)
def test_lanes_are_grouped_by_party_then_by_line(example: str, tmp_path: Path) -> None:
    scenario = load_scenario(REPO / "examples" / f"{example}.toml")
    parties, lines, stations = list(scenario.parties), list(Channel), scenario.stations()
    page = _report(example, tmp_path).read_text()
    for svg in _swimlanes(page):
        lanes = _lane_labels(svg)
        ranks = [
            (parties.index(stations[s][0]), min(lines.index(c) for c in stations[s][1]))
            for s in lanes
        ]
        assert ranks == sorted(ranks), lanes  # the scenario's order of parties, then lines
        groups = [t.text for t in _classed(svg, "party")]
        assert groups == list(dict.fromkeys(stations[s][0] for s in lanes))  # once each
    if example == "deir-ez-zor-2017":
        partners = next(svg for svg in _swimlanes(page) if len(_lane_labels(svg)) == 4)
        assert _lane_labels(partners) == ["RU-HMEIMIM", "RU-GROUP", "US-CAOC", "US-CJTF"]


def test_each_diagram_has_a_time_axis_ticked_in_clock_time(tmp_path: Path) -> None:
    page = _report("khasham-2018", tmp_path).read_text()
    diagrams = _swimlanes(page)
    assert len(diagrams) == 2
    for svg in diagrams:
        assert len([ln for ln in svg.iter(f"{SVG}line") if ln.get("class") == "axis"]) == 1
        ticks = _classed(svg, "tick")
        times = [_seconds(t.text or "") for t in ticks]
        ys = [float(t.get("y", "0")) for t in ticks]
        assert len(times) >= 3
        steps = {b - a for a, b in itertools.pairwise(times)}
        assert len(steps) == 1
        step = steps.pop()
        assert step in TICKS  # one interval, of those that make sense
        gaps = [b - a for a, b in itertools.pairwise(ys)]
        assert min(gaps) >= 26  # labels apart
        assert max(gaps) - min(gaps) < 0.5  # linear
        sent = [_seconds(t.text or "") for t in _classed(svg, "sent")]
        assert times[0] <= min(sent)
        assert max(sent) <= times[-1]
    massing = [_seconds(t.text or "") for t in _classed(diagrams[0], "tick")]
    assert massing[0] == 0
    assert massing[-1] >= 4 * 3600  # the correction, four hours in
    assert all(at % 3600 == 0 for at in massing)  # hours, for hours of traffic


def test_a_dropped_copy_is_crossed_out_on_its_own_arrow_between_lanes() -> None:
    lanes = [Lane(f"{p}-AIR", p, ("air",)) for p in "ABCD"]
    arrows = [
        Arrow(0.0, None, "A-AIR", "C-AIR", "air", "notify", "dropped: lost"),
        Arrow(1.0, None, "D-AIR", "A-AIR", "air", "protest", "dropped: partition"),
        Arrow(2.0, None, "C-AIR", "B-AIR", "air", "ack", "dropped: station-down"),
        Arrow(3.0, None, "B-AIR", "D-AIR", "air", "close", "in-flight"),
    ]
    svg = ET.fromstring(swimlanes(lanes, arrows, start=0.0))
    xs = {t.text: float(t.get("x", "0")) for t in _classed(svg, "lane")}
    copies = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "copy"]
    for arrow, copy in zip(arrows, copies, strict=True):
        x1, x2 = xs[arrow.sender], xs[arrow.recipient]
        dashed, rest = copy.findall(f"{SVG}line")
        assert float(dashed.get("x1", "0")) == pytest.approx(x1, abs=0.1)
        assert float(rest.get("x2", "0")) == pytest.approx(x2, abs=0.1)  # where it was going
        cx, cy = float(dashed.get("x2", "0")), float(dashed.get("y2", "0"))
        y1, y2 = float(dashed.get("y1", "0")), float(rest.get("y2", "0"))
        assert min(x1, x2) < cx < max(x1, x2)
        assert all(abs(cx - x) >= 40 for x in xs.values())  # in a gap, on no lane
        assert cy == pytest.approx(y1 + (y2 - y1) * (cx - x1) / (x2 - x1), abs=0.2)
        crosses = [p for p in copy.findall(f"{SVG}path") if p.get("class") == "drop"]
        notes = [t.text for t in _classed(copy, "note")]
        if arrow.fate == "in-flight":
            assert not crosses
            assert notes == ["in flight at the end"]
            continue
        assert notes == [arrow.fate]
        (cross,) = crosses
        corner = re.match(r"M([\d.]+),([\d.]+) ", cross.get("d", ""))
        assert corner is not None  # the cross is centred where the dashed part stops
        assert float(corner[1]) + 5 == pytest.approx(cx, abs=0.2)
        assert float(corner[2]) + 5 == pytest.approx(cy, abs=0.2)


def test_a_sweep_report_draws_probabilities_with_bands_and_percentiles(tmp_path: Path) -> None:
    code = main(
        [
            "sweep",
            str(REPO / "examples" / "tutorial.toml"),
            "--runs",
            "5",
            "--workers",
            "1",
            "--vary",
            "network.air.loss=0,0.4",
            "--report",
            str(tmp_path),
            "--allow-failed-expectations",  # at 40% loss some runs fail them, as they should
        ]
    )
    assert code == 0
    page = (tmp_path / "index.html").read_text()
    probability, times = _pictures(page)
    assert _texts(probability)[0] == "Outcome probability"
    assert len(list(probability.iter(f"{SVG}polygon"))) >= 1  # a 95% band
    assert "acknowledged on first line" in _texts(probability)
    assert {"p50", "p90", "p99"} <= set(_texts(times))
    assert "<td>0.4</td>" in page


#: each example with a map: the outcome of each notice with an area, the lines and
#: zones it names, and each line's parties (a side label each)
MAPS = {
    "khasham-2018": (
        {"column-massing": "disputed", "column-advancing": "disputed"},
        {"euphrates": ("US", "RU")},
        (),
    ),
    "deir-ez-zor-2017": (
        {
            "strike-notice": "acknowledged",
            "partners-hit": "resolved",
            "warning-for-syrian-forces": "acknowledged",
        },
        {"euphrates": ("US", "RU")},
        (),
    ),
    "misrouted-call-2016": (
        {"coalition-strike-notice": "acknowledged", "stop-the-strikes": "acknowledged"},
        {},
        (),
    ),
    "de-escalation-zone-2018": (
        {
            "strike-in-the-zone": "disputed",
            "patrol-past-the-brigade": "disputed",
            "clear-flight": "acknowledged",
        },
        {},
        ("idlib", "morek-post"),
    ),
}


def _map_report(example: str, directory: Path) -> tuple[str, dict[str, Any]]:
    """The report of ``example`` and its result document."""
    scenario = REPO / "examples" / f"{example}.toml"
    result = directory / "result.json"
    code = main(
        ["exercise", "run", str(scenario), "-q", "--report", str(directory), "--json", str(result)]
    )
    assert code == 0
    return (directory / "index.html").read_text(), json.loads(result.read_text())


def _classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def _with_class(svg: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in svg.iter() if name in _classes(e)]


def _only(pictures: list[ET.Element], kind: str) -> ET.Element:
    (found,) = [p for p in pictures if p.get("class") == kind]
    return found


@pytest.mark.parametrize("example", list(MAPS))
def test_a_scenario_with_a_map_draws_it_with_every_notice_coloured_by_outcome(
    example: str, tmp_path: Path
) -> None:
    outcomes = MAPS[example][0]
    page, result = _map_report(example, tmp_path)
    assert "<script" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert page.count("<h2>Agreed map</h2>") == 1
    pictures = _pictures(page)
    drawn = _only(pictures, "map")
    assert "monospace" in drawn.get("font-family", "")
    records = {i["id"]: i for i in result["incidents"]}
    # one drawn area per notice with a `where`, in its outcome's colour
    notices = _with_class(drawn, "notice")
    assert sorted(n.get("data-incident", "") for n in notices) == sorted(outcomes)
    for notice in notices:
        incident = notice.get("data-incident", "")
        outcome = outcomes[incident]
        assert records[incident]["outcome"] == outcome
        assert f"outcome-{outcome}" in _classes(notice)
        (area,) = _with_class(notice, "area")
        colour = OUTCOME_COLOURS[outcome]
        assert colour in {area.get("fill"), area.get("stroke")}
        # hover: the incident, its outcome and what the map said of it
        title = notice.find(f"{SVG}title")
        assert title is not None
        assert title.text is not None
        assert title.text.startswith(f"{incident}: {outcome}\n")
        verdicts = records[incident]["geometry"]["verdicts"]
        assert f"verdicts: {', '.join(verdicts) or 'none (clear)'}" in title.text
        for verdict in verdicts:  # and listed beside the map
            assert f">{html.escape(verdict)}</code>" in page


@pytest.mark.parametrize("example", list(MAPS))
def test_the_map_names_its_lines_zones_and_notices_with_a_legend_and_panels(
    example: str, tmp_path: Path
) -> None:
    outcomes, lines, zones = MAPS[example]
    page, result = _map_report(example, tmp_path)
    records = {i["id"]: i for i in result["incidents"]}
    pictures = _pictures(page)
    drawn = _only(pictures, "map")
    labels = {t.get("data-incident"): t for t in _classed(drawn, "notice-label")}
    assert set(labels) == set(outcomes)
    # every line named on it, each party on its side; every zone named
    assert {g.get("data-line") for g in _with_class(drawn, "line")} == set(lines)
    texts = _texts(drawn)
    for name, parties in lines.items():
        assert any(t.startswith(f"{name} line") for t in texts)
        for party in parties:
            assert any(t.startswith(f"{party} side") for t in texts)
    assert {g.get("data-zone") for g in _with_class(drawn, "zone")} == set(zones)
    named = [t.text or "" for t in _classed(drawn, "zone-label")]
    for zone in zones:
        assert any(t.startswith(zone) for t in named)
    # the legend: every outcome, each in its colour
    legend = _only(pictures, "map-legend")
    for outcome, colour in OUTCOME_COLOURS.items():
        assert outcome in _texts(legend)
        (swatch,) = _with_class(legend, f"outcome-{outcome}")
        assert swatch.get("stroke") == colour
    # over exercise time: a panel per time a notice was sent, each adding its notices
    panels = [p for p in pictures if p.get("class") == "panel"]
    assert len(panels) == len({records[i]["opened_at"] for i in outcomes})
    new = [
        n.get("data-incident", "")
        for p in panels
        for n in _with_class(p, "notice")
        if "faded" not in _classes(n)
    ]
    assert sorted(new) == sorted(outcomes)  # each notice new in one panel
    assert len(_with_class(panels[-1], "notice")) == len(outcomes)  # the last shows all
    if example == "khasham-2018":
        assert [_texts(p)[0] for p in panels] == ["at 0:00:00", "at 2:00:00"]
        faded = [
            n.get("data-incident")
            for n in _with_class(panels[1], "notice")
            if "faded" in _classes(n)
        ]
        assert faded == ["column-massing"]
        # each side's name lies on its side: the US east of the river, Russia west
        sides = {t.text: float(t.get("x", "0")) for t in _classed(drawn, "side-label")}
        assert sides["US side (east)"] > sides["RU side (west)"]
    if example == "misrouted-call-2016":  # where the strikes really fell, and how far off
        (actual,) = _with_class(drawn, "actual")
        assert actual.get("data-incident") == "coalition-strike-notice"
        assert float(actual.get("data-km", "0")) == pytest.approx(
            records["coalition-strike-notice"]["geometry"]["misplaced_km"], abs=0.001
        )
        assert "9.2 km" in [t.text for t in _classed(drawn, "distance-label")]


def test_a_scenario_without_a_map_has_no_map_section(tmp_path: Path) -> None:
    page = _tutorial_report(tmp_path).read_text()
    assert "Agreed map" not in page
    kinds = {p.get("class") for p in _pictures(page)}
    assert not kinds & {"map", "panel", "map-legend"}


GEOD = Geod(ellps="WGS84")


def _spot(name: str, position: tuple[float, float]) -> PositionSpec:
    return PositionSpec("A", name, ((0.0, position),))


def _scale(svg: ET.Element) -> float:
    """Pixels per kilometre, read off the scale bar as a reader would."""
    (bar,) = _with_class(svg, "scale-bar")
    (label,) = _classed(svg, "scale-label")
    km = float((label.text or "").removesuffix(" km"))
    return (float(bar.get("x2", "0")) - float(bar.get("x1", "0"))) / km


def _markers(svg: ET.Element) -> dict[str, tuple[float, float]]:
    found = {}
    for spot in _with_class(svg, "position"):
        (marker,) = _with_class(spot, "marker")
        found[spot.get("data-name", "")] = (
            float(marker.get("data-x", "0")),
            float(marker.get("data-y", "0")),
        )
    return found


@pytest.mark.parametrize("latitude", [0.0, 35.3, 60.0])
def test_the_map_is_drawn_true_to_its_scale_bar_north_up(latitude: float) -> None:
    # two positions 10 km apart on the ellipsoid, off the map's centre (a third lies
    # 150 km away), and one 10 km due north of the first
    origin = (30.0, latitude)
    east, north, _ = GEOD.fwd(*origin, 60.0, 10_000.0)
    ahead = (float(east), float(north))
    east, north, _ = GEOD.fwd(*origin, 0.0, 10_000.0)
    above = (float(east), float(north))
    east, north, _ = GEOD.fwd(*origin, 225.0, 150_000.0)
    far = (float(east), float(north))
    spec = MapSpec(
        positions=tuple(
            _spot(n, p)
            for n, p in (("origin", origin), ("ahead", ahead), ("above", above), ("far", far))
        )
    )
    shown = AgreedMap(spec)
    svg = ET.fromstring(map_svg(shown, [], ["A"], map_extent(shown, [])))
    per_km = _scale(svg)
    spots = _markers(svg)
    (x0, y0), (x1, y1), (x2, y2) = spots["origin"], spots["ahead"], spots["above"]
    assert math.hypot(x1 - x0, y1 - y0) / per_km == pytest.approx(10.0, rel=0.01)
    assert math.hypot(x2 - x0, y2 - y0) / per_km == pytest.approx(10.0, rel=0.01)
    # north is up: exactly at the map's centre, and off it to within the meridians'
    # convergence (the graticule draws them), under a degree here
    assert y2 < y0
    assert math.degrees(math.atan2(abs(x2 - x0), y0 - y2)) < 1.0
    assert x1 > x0  # and east to the right


def _notice(incident: str, at: float, where: Where, outcome: str = "acknowledged") -> Notice:
    return Notice(incident, "notify", at, where, "A", outcome)


def test_panels_show_positions_where_they_were_then(tmp_path: Path) -> None:
    # a column moving 20 km north over two hours past a fixed post
    start = (36.0, 35.0)
    east, north, _ = GEOD.fwd(*start, 0.0, 20_000.0)
    end = (float(east), float(north))
    post = (36.2, 35.1)
    column = PositionSpec("B", "column", ((0.0, start), (7200.0, end)))
    shown = AgreedMap(MapSpec(positions=(column, _spot("post", post))))
    notices = [_notice(f"n{k}", 3600.0 * k, Where.point(36.1, 35.05)) for k in range(3)]
    extent = map_extent(shown, notices)
    panels = time_panels(notices)
    assert [p.last for p in panels] == [0.0, 3600.0, 7200.0]
    for panel in panels:
        svg = ET.fromstring(panel_svg(shown, notices, ["A", "B"], extent, panel, ident="p"))
        spots = _markers(svg)
        (x0, y0), (x1, y1) = spots["column"], spots["post"]
        _, _, metres = GEOD.inv(*column.at(panel.last), *post)
        assert math.hypot(x1 - x0, y1 - y0) / _scale(svg) == pytest.approx(metres / 1000, rel=0.01)
        shown_now = [n.get("data-incident") for n in _with_class(svg, "notice")]
        assert shown_now == [n.incident for n in notices if n.at <= panel.last]
        assert len(_with_class(svg, "track")) == 1  # the whole track, dotted
    whole = ET.fromstring(map_svg(shown, notices, ["A", "B"], extent))
    assert len(_with_class(whole, "then")) == len(notices)  # where it was at each notice


def test_many_notices_are_grouped_into_at_most_a_dozen_panels() -> None:
    notices = [
        _notice(f"n{k:02d}", 1500.0 * k + 7 * k, Where.point(36.0 + k / 100, 35.0))
        for k in range(20)
    ]
    panels = time_panels(notices)
    assert len(panels) <= MAX_PANELS
    step = panels[0].step
    assert step is not None
    assert step in TICKS
    assert {p.step for p in panels} == {step}
    assert [i for p in panels for i in p.new] == [n.incident for n in notices]  # each once
    for panel in panels:
        assert panel.first <= panel.last < panel.first + step
        assert panel.heading == f"{format_clock(panel.first)} to {format_clock(panel.first + step)}"
    few = time_panels(notices[:3])
    assert [p.heading for p in few] == ["at 0:00:00", "at 0:25:07", "at 0:50:14"]


def _busy_scenario(directory: Path, count: int = 20) -> Path:
    """A scenario with a line, a zone of each kind, a moving position and ``count``
    notices of every shape, some crowded together, over ten hours."""
    events = []
    for k in range(count):
        lon, lat = 29.92 + (k * 37 % 50) / 100, 50.08 + (k * 23 % 47) / 100
        where = [
            f"{{ circle = [{lon:.3f}, {lat:.3f}], radius_km = {1 + k % 3} }}",
            f"{{ point = [{lon:.3f}, {lat:.3f}] }}",
            f"{{ route = [[{lon:.3f}, {lat:.3f}], [{lon + 0.05:.3f}, {lat - 0.04:.3f}]], width_km = {k % 2} }}",
            f"{{ polygon = [[{lon:.3f}, {lat:.3f}], [{lon + 0.03:.3f}, {lat:.3f}], [{lon:.3f}, {lat + 0.03:.3f}], [{lon:.3f}, {lat:.3f}]] }}",
        ][k % 4]
        actual = f"\nactual = [{lon + 0.06:.3f}, {lat + 0.03:.3f}]" if k % 7 == 5 else ""
        events.append(
            f'[[events]]\nat = "{k * 1800 + k * 97}s"\noriginator = "{("BLUE", "RED", "GREEN")[k % 3]}-AIR"\n'
            f'incident = "notice-{k:02d}"\nactivity = "strike"\nstarts_in = "1h"\nwhere = {where}{actual}\n'
        )
    text = """
[scenario]
name = "busy-map"
description = "Many notices on a map with a line, three zones and a moving column."
start = "2020-01-01T00:00:00Z"
seed = 1
duration = "12h"

[parties.BLUE]
air = "BLUE-AIR"

[parties.RED]
air = "RED-AIR"

[parties.GREEN]
air = "GREEN-AIR"

[doctrine.channels.air]
fallback = "none"

[[geometry.lines]]
name = "river"
points = [[30.0, 50.6], [30.15, 50.35], [30.2, 50.0]]
sides = { west = "RED", east = "BLUE" }
buffer_km = 3

[[geometry.zones]]
name = "market"
kind = "no-strike"
owner = "joint"
polygon = [[30.3, 50.3], [30.4, 50.3], [30.4, 50.36], [30.3, 50.36], [30.3, 50.3]]

[[geometry.zones]]
name = "airfield"
kind = "restricted-operations"
owner = "RED"
polygon = [[29.9, 50.1], [29.98, 50.1], [29.98, 50.16], [29.9, 50.16], [29.9, 50.1]]

[[geometry.zones]]
name = "valley"
kind = "de-escalation"
owner = "GREEN"
polygon = [[30.25, 50.45], [30.45, 50.45], [30.45, 50.6], [30.25, 50.6], [30.25, 50.45]]

[[geometry.positions]]
party = "RED"
name = "column"
track = [{ at = "0s", point = [29.85, 50.45] }, { at = "6h", point = [30.05, 50.3] }, { at = "10h", point = [30.1, 50.1] }]

[[geometry.positions]]
party = "BLUE"
name = "base"
point = [30.35, 50.2]

[[responders]]
station = "BLUE-AIR"
action = "dispute"
reason = "other"
delay = "5m"

[[responders]]
station = "RED-AIR"
action = "ack"
delay = "5m"

[[responders]]
station = "GREEN-AIR"
action = "ack"
delay = "5m"
"""
    path = directory / "busy.toml"
    path.write_text(text + "\n" + "\n".join(events))
    return path


def test_a_busy_map_names_every_notice_and_groups_its_panels(tmp_path: Path) -> None:
    scenario = _busy_scenario(tmp_path)
    assert main(["exercise", "run", str(scenario), "-q", "--report", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    pictures = _pictures(page)
    drawn = _only(pictures, "map")
    incidents = [f"notice-{k:02d}" for k in range(20)]
    assert sorted(n.get("data-incident", "") for n in _with_class(drawn, "notice")) == incidents
    assert sorted(t.get("data-incident", "") for t in _classed(drawn, "notice-label")) == incidents
    assert {g.get("data-kind") for g in _with_class(drawn, "zone")} == {
        "no-strike",
        "restricted-operations",
        "de-escalation",
    }
    panels = [p for p in pictures if p.get("class") == "panel"]
    assert 1 < len(panels) <= MAX_PANELS
    assert f"{len(panels)} panels, one per 1h in which a notice was sent" in page
    assert '<ol class="judged under">' in page  # twenty lists run under the map


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Run in the page the browser test loads (a copy of reports, never a report: those have
# no script): every text of every sequence diagram measured as drawn, in the fonts the
# browser picked. Found problems go into <pre id="measured"> as a JSON list.
MEASURE = """<script>
const found = [];
for (const svg of document.querySelectorAll("svg.swimlane")) {
  const view = svg.viewBox.baseVal;
  const bands = [...svg.querySelectorAll("rect.band")].map((r) => r.getBBox());
  const lanes = [];
  for (const text of svg.querySelectorAll("text")) {
    const box = text.getBBox();
    const size = parseFloat(text.getAttribute("font-size"));
    const name = `${text.textContent} (${text.getAttribute("class")})`;
    if (box.x < 0 || box.y < 0 || box.x + box.width > view.width
        || box.y + box.height > view.height) found.push(`${name} is clipped`);
    if (box.width > text.textContent.length * MONO_EM * size + 0.5)
      found.push(`${name} is ${box.width} px wide, more than assumed`);
    if (text.classList.contains("lane")) {
      lanes.push(box);
      if (!bands.some((b) => b.x <= box.x && box.x + box.width <= b.x + b.width))
        found.push(`${name} leaves its party's band`);
    }
  }
  lanes.sort((a, b) => a.x - b.x);
  for (let i = 1; i < lanes.length; i++)
    if (lanes[i].x < lanes[i - 1].x + lanes[i - 1].width + 8) found.push("lane labels touch");
}
// the maps, their panels and legends: no text clipped or wider than assumed, and on a
// map no label over another (more than the pixel or two a font's ascent takes)
for (const svg of document.querySelectorAll("svg.map, svg.panel, svg.map-legend")) {
  const view = svg.viewBox.baseVal;
  const placed = [];
  for (const text of svg.querySelectorAll("text")) {
    const box = text.getBBox();
    const size = parseFloat(text.getAttribute("font-size"));
    const name = `${text.textContent} (${text.getAttribute("class")} in ${svg.className.baseVal})`;
    if (box.x < 0 || box.y < 0 || box.x + box.width > view.width
        || box.y + box.height > view.height) found.push(`${name} is clipped`);
    if (box.width > text.textContent.length * MONO_EM * size + 0.5)
      found.push(`${name} is ${box.width} px wide, more than assumed`);
    if (!svg.classList.contains("map")) continue;
    for (const [other, seen] of placed) {
      const across = Math.min(box.x + box.width, seen.x + seen.width) - Math.max(box.x, seen.x);
      const down = Math.min(box.y + box.height, seen.y + seen.height) - Math.max(box.y, seen.y);
      if (across > 2 && down > 2) found.push(`${name} lies over ${other}`);
    }
    placed.push([name, box]);
  }
}
const out = document.createElement("pre");
out.id = "measured";
out.textContent = JSON.stringify(found);
document.body.append(out);
</script>""".replace("MONO_EM", str(MONO_EM))


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt-get install chromium")
def test_the_reports_render_in_a_headless_browser(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = _report("khasham-2018", tmp_path / "khasham")
    # one page holding the diagrams of several reports, and the measuring script
    diagrams = [
        svg
        for example in ("tutorial", "deir-ez-zor-2017", "warnings-unheard-2015")
        for svg in re.findall(
            r'<svg [^>]*class="swimlane".*?</svg>',
            _report(example, tmp_path / example).read_text(),
            re.S,
        )
    ]
    # and the maps of the other examples with one, and of a busy one
    busy = _busy_scenario(tmp_path)
    assert main(["exercise", "run", str(busy), "-q", "--report", str(tmp_path / "busy")]) == 0
    maps = [
        svg
        for page_of in (
            *(_report(e, tmp_path / e) for e in MAPS if e != "khasham-2018"),
            tmp_path / "busy" / "index.html",
        )
        for svg in re.findall(
            r'<svg [^>]*class="(?:map|panel|map-legend)".*?</svg>', page_of.read_text(), re.S
        )
    ]
    measured = tmp_path / "measured.html"
    measured.write_text(
        page.read_text().replace("</body>", "\n".join(diagrams + maps) + MEASURE + "</body>")
    )
    shot = tmp_path / "report.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*command, "--dump-dom", measured.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    ).stdout
    assert dom.count('class="swimlane"') == 2 + len(diagrams) == 2 + 3 + 3 + 1
    assert dom.count('class="map"') == 1 + 4  # khasham's, and the others'
    assert dom.count('class="panel"') == 2 + sum('class="panel"' in svg for svg in maps) > 12
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found is not None, "the measuring script did not run"
    assert json.loads(html.unescape(found[1])) == []  # nothing clipped, nothing overlaps
    subprocess.run(
        [*command, "--window-size=1200,2200", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 2200)
    assert len(data) > 50_000  # a page of tables and diagrams, not a blank one
