"""The agreed map: distances against hand-computed ones, the edges of buffers, sides of
lines, zones and positions, the judgement of notices, bad maps refused naming the file,
the feature and why, and the map carried into results, journals and GeoJSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.audit.evidence import verify_journal
from hotline.audit.journal import read_entries
from hotline.cli import main
from hotline.core.channels import GeometryRules
from hotline.core.names import Channel
from hotline.core.where import Where
from hotline.geo.agreed import (
    AgreedMap,
    Compass,
    LineSpec,
    MapSpec,
    PositionSpec,
    ZoneKind,
    ZoneSpec,
)
from hotline.geo.load import read_geojson, to_geojson
from hotline.sim.exercise import run_exercise
from hotline.sim.fields import ScenarioError
from hotline.sim.result import build_result
from hotline.sim.scenario import load_scenario, parse_scenario
from tests.conftest import REPO

A, E2 = 6_378_137.0, 0.00669437999014  # WGS 84: semi-major axis, first eccentricity squared

#: a north-south line along the 40th meridian, the US east of it, RU west, 5 km buffer
MERIDIAN = LineSpec(
    "meridian", ((40.0, 34.0), (40.0, 36.0)), ((Compass.EAST, "US"), (Compass.WEST, "RU")), 5.0
)
RULES = GeometryRules(crossing_lead=86_400, crossing_line=Channel.GENERAL_OFFICER, near_km=10.0)


def parallel_km(lat: float, dlon: float) -> float:
    """By hand: an arc of a parallel on the ellipsoid, N cos(lat) dlon."""
    phi = math.radians(lat)
    n = A / math.sqrt(1 - E2 * math.sin(phi) ** 2)
    return n * math.cos(phi) * math.radians(dlon) / 1000


def meridian_km(lat: float, dlat: float) -> float:
    """By hand: a short arc of a meridian, M dlat with M the meridian's radius there."""
    phi = math.radians(lat + dlat / 2)
    m: float = A * (1 - E2) / (1 - E2 * math.sin(phi) ** 2) ** 1.5
    return m * math.radians(dlat) / 1000


def judge(spec: MapSpec, where: Where, party: str = "US", **kwargs: object) -> object:
    return AgreedMap(spec).judge(where, party, 0.0, RULES, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("dlon", [0.01, 0.1, 0.5])
def test_distance_to_a_line_matches_the_hand_computed_arc(dlon: float) -> None:
    found = AgreedMap(MapSpec((MERIDIAN,))).judge(Where.point(40.0 + dlon, 35.0), "US", 0, RULES)
    (line,) = found.lines
    assert line.distance_km == pytest.approx(parallel_km(35.0, dlon), rel=1e-3)
    assert line.sides == ("US",)


def test_distance_to_a_position_matches_the_hand_computed_arc() -> None:
    spot = PositionSpec("RU", "post", ((0.0, (40.5, 35.0)),))
    agreed = AgreedMap(MapSpec(positions=(spot,)))
    wide = GeometryRules(near_km=50.0)
    (near,) = agreed.judge(Where.point(40.5, 35.2), "US", 0, wide).near
    assert near.distance_km == pytest.approx(meridian_km(35.0, 0.2), rel=1e-3)


@pytest.mark.parametrize(("metres", "inside"), [(4_950, True), (5_050, False)])
def test_either_side_of_a_buffer_s_edge(metres: int, inside: bool) -> None:
    dlon = metres / 1000 / parallel_km(35.0, 1.0)
    (line,) = (
        AgreedMap(MapSpec((MERIDIAN,))).judge(Where.point(40.0 + dlon, 35.0), "US", 0, RULES).lines
    )
    assert line.in_buffer is inside
    assert not line.crosses


def test_sides_zones_positions_and_the_rules() -> None:
    zone = ZoneSpec(
        "plant",
        ((40.2, 35.0), (40.3, 35.0), (40.3, 35.1), (40.2, 35.1), (40.2, 35.0)),
        "US",
        ZoneKind.RESTRICTED_OPERATIONS,
    )
    spot = PositionSpec("US", "outpost", ((0.0, (40.25, 35.05)),))
    spec = MapSpec((MERIDIAN,), (zone,), (spot,))
    agreed = AgreedMap(spec)
    # a RU strike across the line, into the US zone, near the US outpost, 20 minutes ahead
    found = agreed.judge(
        Where.circle(40.25, 35.05, 2000), "RU", 0, RULES, channel=Channel.AIR, lead=1200
    )
    assert found.verdicts == (
        "crosses-line:meridian",
        "enters-zone:plant",
        "near-forces:US:outpost",
        "short-notice-for-crossing",
        "needs-line:general-officer",
    )
    # the same area notified by the US: its own side, zone and forces
    own = agreed.judge(
        Where.circle(40.25, 35.05, 2000), "US", 0, RULES, channel=Channel.AIR, lead=1200
    )
    assert own.verdicts == ()
    # a day ahead on the general officers' line: only what the area does stays
    ahead = agreed.judge(
        Where.circle(40.25, 35.05, 2000),
        "RU",
        0,
        RULES,
        channel=Channel.GENERAL_OFFICER,
        lead=90_000,
    )
    assert ahead.verdicts == (
        "crosses-line:meridian",
        "enters-zone:plant",
        "near-forces:US:outpost",
    )
    # a route with its entry on one side and its exit on the other straddles the line
    (straddle,) = agreed.judge(Where.route([(39.9, 35.5), (40.1, 35.5)]), "RU", 0, RULES).lines
    assert straddle.sides in (("US", "RU"), ("RU", "US"))
    assert straddle.crosses
    assert straddle.distance_km == 0.0


def test_a_track_moves_over_exercise_time() -> None:
    track = PositionSpec("RU", "column", ((0.0, (40.5, 35.0)), (3600.0, (40.5, 35.5))))
    agreed = AgreedMap(MapSpec(positions=(track,)))
    notice = Where.point(40.5, 35.5)
    assert agreed.judge(notice, "US", 0.0, RULES).near == ()
    (near,) = agreed.judge(notice, "US", 3600.0, RULES).near
    assert near.distance_km == pytest.approx(0.0, abs=1e-6)
    assert track.at(1800.0) == pytest.approx((40.5, 35.25))


@given(
    st.floats(min_value=0.2, max_value=1.5),  # degrees east of the line: beyond its buffer
    st.floats(min_value=34.2, max_value=35.8),
    st.integers(min_value=0, max_value=5_000),
)
def test_a_notice_on_its_own_side_clear_of_everything_is_never_flagged(
    dlon: float, lat: float, radius_m: int
) -> None:
    zone = ZoneSpec(
        "ru-zone", ((39.0, 35.0), (39.5, 35.0), (39.5, 35.5), (39.0, 35.5), (39.0, 35.0)), "RU",
        ZoneKind.NO_STRIKE,
    )  # fmt: skip
    spot = PositionSpec("RU", "west", ((0.0, (39.5, 35.0)),))
    agreed = AgreedMap(MapSpec((MERIDIAN,), (zone,), (spot,)))
    where = Where.circle(40.0 + dlon, lat, radius_m) if radius_m else Where.point(40.0 + dlon, lat)
    found = agreed.judge(where, "US", 0.0, RULES, channel=Channel.AIR, lead=0.0)
    assert found.verdicts == ()
    assert not found.crossing


def test_bad_maps_are_refused_naming_the_feature(tmp_path: Path) -> None:
    base = (REPO / "examples" / "tutorial.toml").read_text()
    cases = [
        ('[[geometry.zones]]\nname = "z"\nkind = "no-strike"\nowner = "BLUE"\n'
         "polygon = [[40, 35], [41, 35], [41, 36], [40, 36]]\n",
         "geometry.zones[0].polygon: the ring is not closed"),
        ('[[geometry.zones]]\nname = "z"\nkind = "no-strike"\nowner = "BLUE"\n'
         "polygon = [[40, 35], [41, 36], [41, 35], [40, 36], [40, 35]]\n",
         "geometry.zones[0].polygon: the polygon is not valid: Self-intersection"),
        ('[[geometry.positions]]\nname = "p"\nparty = "BLUE"\npoint = [35.2, 140.1]\n',
         "geometry.positions[0].point: latitude 140.1 is out of range"),
        ('[[geometry.positions]]\nname = "p"\nparty = "GREEN"\npoint = [40, 35]\n',
         "geometry.positions[0].party: 'GREEN' is not a party of the scenario"),
        ('[[geometry.lines]]\nname = "l"\npoints = [[40, 34], [40, 36]]\n'
         'sides = { east = "BLUE" }\nbuffer_km = -2\n',
         "geometry.lines[0].buffer_km: must not be negative"),
        ('[[geometry.lines]]\nname = "l"\npoints = [[40, 34], [40, 36]]\n'
         'sides = { east = "BLUE", north = "RED" }\n',
         "two sides must face each other"),
    ]  # fmt: skip
    for text, error in cases:
        with pytest.raises(ScenarioError) as refused:
            parse_scenario(base + "\n" + text, "tutorial.toml")
        assert error in str(refused.value), (error, str(refused.value))
        assert str(refused.value).startswith("tutorial.toml: ")


def test_a_geojson_map_reads_back_and_its_errors_name_the_file(tmp_path: Path) -> None:
    zone = ZoneSpec("z", ((40.2, 35.0), (40.3, 35.0), (40.3, 35.1), (40.2, 35.0)), "joint",
                    ZoneKind.DE_ESCALATION)  # fmt: skip
    track = PositionSpec("RU", "column", ((0.0, (40.5, 35.0)), (3600.0, (40.5, 35.5))))
    spec = MapSpec((MERIDIAN,), (zone,), (track,))
    path = tmp_path / "map.geojson"
    path.write_text(json.dumps(to_geojson(spec)))
    assert read_geojson(path, ["US", "RU"]) == spec
    bad = to_geojson(spec)
    bad["features"][1]["geometry"]["coordinates"][0][2] = [40.3, 95.0]
    path.write_text(json.dumps(bad))
    with pytest.raises(ScenarioError) as refused:
        read_geojson(path, ["US", "RU"])
    assert str(refused.value).startswith(f"{path}: features[1] (z).polygon[2]: latitude 95")
    path.write_text('{"type": "Feature"}')
    with pytest.raises(ScenarioError, match="not a GeoJSON FeatureCollection"):
        read_geojson(path, ["US"])


def test_results_journals_and_geojson_carry_the_map_s_verdicts(tmp_path: Path) -> None:
    scenario = load_scenario(REPO / "examples" / "deir-ez-zor-2017.toml")
    result = build_result(run_exercise(scenario, journals=tmp_path / "journals"))
    strike = next(i for i in result["incidents"] if i["id"] == "strike-notice")
    assert strike["geometry"]["verdicts"][:2] == [
        "crosses-line:euphrates",
        "near-forces:US:partners-and-advisers",
    ]
    journal = tmp_path / "journals" / "RU.journal"
    judged = [e for e in read_entries(journal) if e.kind == "judgement"]
    assert [e.incident for e in judged] == ["strike-notice"]
    assert judged[0].body["verdicts"] == strike["geometry"]["verdicts"]
    verify_journal(journal)  # a journal with judgements checks as any other
    out = tmp_path / "exercise.geojson"
    assert main(["exercise", "run", str(REPO / "examples" / "deir-ez-zor-2017.toml"),
                 "-q", "--geojson", str(out)]) == 0  # fmt: skip
    document = json.loads(out.read_text())
    kinds = [f["properties"]["hotline"] for f in document["features"]]
    assert kinds.count("line") == 1
    assert kinds.count("position") == 2
    assert kinds.count("notice") == 3
    notice = next(
        f for f in document["features"] if f["properties"].get("incident") == "strike-notice"
    )
    assert notice["geometry"]["type"] == "Polygon"  # a circle, as GeoJSON has none
    assert notice["properties"]["radius_m"] == 10_000
    assert notice["properties"]["outcome"] == "acknowledged"


def test_responders_dispute_on_the_map() -> None:
    result = build_result(
        run_exercise(load_scenario(REPO / "examples" / "de-escalation-zone-2018.toml"))
    )
    answers = {i["id"]: i["answers"] for i in result["incidents"]}
    assert answers["strike-in-the-zone"]["TR"]["reason"] == "inside-agreed-zone"
    assert answers["patrol-past-the-brigade"]["IR"]["reason"] == "too-close"
    assert answers["clear-flight"]["TR"]["answer"] == "acknowledged"
    assert all(e["passed"] for e in result["expectations"])


def test_notices_placed_wrong_are_flagged_with_the_distance() -> None:
    result = build_result(
        run_exercise(load_scenario(REPO / "examples" / "misrouted-call-2016.toml"))
    )
    notice = next(i for i in result["incidents"] if i["id"] == "coalition-strike-notice")
    assert notice["geometry"]["misplaced_km"] == pytest.approx(9.24, abs=0.01)
    assert "misplaced:9.2km" in notice["geometry"]["verdicts"]
