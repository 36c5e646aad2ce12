"""Locations (hotline/core/where.py, PROTOCOL.md 3.4 and 12.15): canonical round trips,
the older ``area`` read as a location, every defect refused with its reason code and
field path, the dispute fields about a location, a located notice carried end to end,
and the verifier written from the spec agreeing with hotline's on locations."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.core.errors import InvalidEnvelope, Reason, RejectedMessage
from hotline.core.events import NoticeReceived, Received
from hotline.core.incident import Notice
from hotline.core.names import Channel, DisputeReason, Kind, Precedence
from hotline.core.verifier import Verifier
from hotline.core.where import MAX_POSITIONS, Shape, Where, check_where
from hotline.core.wire import Envelope, encode_envelope
from hotline.keyfiles import keyring_to_document
from hotline.vectors import CAOC, KEYRING, NOTICE, NOW, POLICY
from tests import spec_verifier as spec
from tests.harness import T0, Net, endpoint, make_doctrine, signed

KHASHAM = [40_187_000, 35_243_000]
# the strike box's corners, as a closed ring
BOX = [40_150_000, 35_220_000, 40_230_000, 35_220_000, 40_230_000, 35_270_000]
BOX += [40_150_000, 35_270_000, 40_150_000, 35_220_000]

# -- values -----------------------------------------------------------------------------

longitudes = st.floats(min_value=-180.0, max_value=180.0)
latitudes = st.floats(min_value=-90.0, max_value=90.0)
positions = st.tuples(longitudes, latitudes)
# A coarse grid, so that two drawn locations are sometimes the same place.
grid_positions = st.tuples(
    st.integers(-3, 3).map(lambda n: 40.187 + n * 1e-6),
    st.integers(-3, 3).map(lambda n: 35.243 + n * 1e-6),
)


@st.composite
def wheres(draw: st.DrawFn, places: st.SearchStrategy[tuple[float, float]] = positions) -> Where:
    """Any valid location."""
    shape = draw(st.sampled_from(Shape))
    points: list[tuple[float, float]]
    if shape is Shape.POINT or shape is Shape.CIRCLE:
        points = [draw(places)]
    elif shape is Shape.POLYGON:
        ring = draw(st.lists(places, min_size=3, max_size=MAX_POSITIONS - 1))
        points = [*ring, ring[0]]
    else:
        points = draw(st.lists(places, min_size=2, max_size=MAX_POSITIONS))
    return Where(
        shape=shape,
        positions=tuple(points),
        radius_m=draw(st.integers(1, 2**40)) if shape is Shape.CIRCLE else None,
        width_m=draw(st.none() | st.integers(0, 2**40)) if shape is Shape.ROUTE else None,
    )


def over_the_wire(value: object) -> object:
    data: bytes = msgpack.packb(value)
    return msgpack.unpackb(data, raw=False)


@given(wheres())
def test_a_location_survives_the_wire_unchanged(where: Where) -> None:
    body = where.to_body()
    assert Where.from_body(over_the_wire(body)) == where
    assert Where.from_body(over_the_wire(body)).to_body() == body


@given(wheres())
def test_a_location_is_integers_only_in_range(where: Where) -> None:
    body = where.to_body()
    assert list(body) == [k for k in ("shape", "coords", "radius_m", "width_m") if k in body]
    coords = body["coords"]
    assert isinstance(coords, list)
    assert all(type(n) is int for n in coords)
    assert all(abs(n) <= (90 if i % 2 else 180) * 10**6 for i, n in enumerate(coords))
    assert {type(v) for k, v in body.items() if k != "coords"} <= {str, int}


@given(wheres(grid_positions), wheres(grid_positions))
def test_equal_locations_and_only_they_encode_to_the_same_bytes(one: Where, two: Where) -> None:
    same_bytes = msgpack.packb(one.to_body()) == msgpack.packb(two.to_body())
    assert (one == two) == same_bytes
    rebuilt = Where(
        shape=one.shape, positions=one.positions, radius_m=one.radius_m, width_m=one.width_m
    )
    assert rebuilt == one
    assert msgpack.packb(rebuilt.to_body()) == msgpack.packb(one.to_body())


@given(positions)
def test_positions_are_held_rounded_to_the_micro_degree(place: tuple[float, float]) -> None:
    where = Where.point(*place)
    lon, lat = where.positions[0]
    assert abs(lon - place[0]) <= 0.5e-6 + 1e-12
    assert abs(lat - place[1]) <= 0.5e-6 + 1e-12
    assert Where.point(lon, lat) == where


@pytest.mark.parametrize(
    ("degrees", "micro"),
    [
        (40.1872345, 40_187_235),  # the examples of PROTOCOL.md 3.4
        (-0.0000005, -1),
        (0.0078125, 7_813),  # an exact tie in binary: away from zero, not to even
        (-0.0078125, -7_813),
        (180.0, 180_000_000),
        (-0.0, 0),
    ],
)
def test_rounding_is_half_away_from_zero(degrees: float, micro: int) -> None:
    assert Where.point(degrees, 0.0).to_body()["coords"] == [micro, 0]


def test_the_convenience_constructors() -> None:
    assert Where.point(40.187, 35.243).to_body() == {"shape": "point", "coords": KHASHAM}
    assert Where.circle(40.187, 35.243, 5000).to_body() == {
        "shape": "circle",
        "coords": KHASHAM,
        "radius_m": 5000,
    }
    ring = [(BOX[i] / 1e6, BOX[i + 1] / 1e6) for i in range(0, len(BOX), 2)]
    assert Where.polygon(ring).to_body() == {"shape": "polygon", "coords": BOX}
    route = Where.route([(40.1, 35.3), (40.19, 35.24)], width_m=2000)
    assert route.to_body() == {
        "shape": "route",
        "coords": [40_100_000, 35_300_000, 40_190_000, 35_240_000],
        "width_m": 2000,
    }
    assert Where.route([(40.1, 35.3), (40.19, 35.24)]).width_m is None


# -- the older area ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("area", "expected"),
    [
        ({"lat": 35.243, "lon": 40.187}, Where.point(40.187, 35.243)),
        ({"lat": 35.243, "lon": 40.187, "note": "depot"}, Where.point(40.187, 35.243)),
        ({"lat": 35.243, "lon": 40.187, "radius_km": 5.0}, Where.circle(40.187, 35.243, 5000)),
        ({"lat": 35, "lon": 40, "radius_km": 0.0025}, Where.circle(40.0, 35.0, 3)),  # 2.5 m up
        ({"lat": 35.243, "lon": 40.187, "radius_km": 0.0004}, Where.point(40.187, 35.243)),
        ({"lat": 35.243, "lon": 40.187, "radius_km": None}, Where.point(40.187, 35.243)),
        (
            {"route": [[35.30, 40.10], [35.24, 40.19]], "width_km": 2.0},
            Where.route([(40.10, 35.30), (40.19, 35.24)], width_m=2000),
        ),
        (
            {"route": [[35.30, 40.10], [35.24, 40.19]], "note": "wadi"},
            Where.route([(40.10, 35.30), (40.19, 35.24)]),
        ),
        ({"route": [[35.30, 40.10]]}, None),  # one point is no route
        ({"route": [[35.30, 40.10], [35.24]]}, None),
        ({"route": "wadi"}, None),
        ({"route": [[35.3, 40.1], [35.2, 40.2]], "width_km": -1.0}, None),
        ({"lat": 35.243, "lon": 40.187, "radius_km": -1.0}, None),
        ({"lat": 35.243, "lon": 40.187, "radius_km": "5"}, None),
        ({"lat": 95.0, "lon": 40.187}, None),  # latitude first: out of range
        ({"lat": 35.243}, None),
        ({"lat": True, "lon": 40.187}, None),
        ({"lat": math.nan, "lon": 40.187}, None),
        ({"lat": 35, "lon": 10**400}, None),
        ({"note": "somewhere east"}, None),
        ({}, None),
    ],
)
def test_the_older_area_reads_as_a_location(area: dict[str, Any], expected: Where | None) -> None:
    assert Where.from_area(area) == expected


# -- defects ----------------------------------------------------------------------------

INVALID = Reason.INVALID_FIELD
DEFECTS: list[tuple[str, object, Reason, str]] = [
    ("not a map", KHASHAM, INVALID, "body.where"),
    ("nil", None, INVALID, "body.where"),
    ("unknown key", {"shape": "point", "coords": KHASHAM, "note": "x"}, INVALID, "body.where.note"),
    ("no shape", {"coords": KHASHAM}, INVALID, "body.where.shape"),
    ("unknown shape", {"shape": "line", "coords": KHASHAM}, INVALID, "body.where.shape"),
    ("shape not a str", {"shape": 1, "coords": KHASHAM}, INVALID, "body.where.shape"),
    ("no coords", {"shape": "point"}, INVALID, "body.where.coords"),
    ("coords a map", {"shape": "point", "coords": {}}, INVALID, "body.where.coords"),
    (
        "float",
        {"shape": "point", "coords": [40187000.0, 35_243_000]},
        INVALID,
        "body.where.coords[0]",
    ),
    ("boolean", {"shape": "point", "coords": [0, True]}, INVALID, "body.where.coords[1]"),
    (
        "longitude",
        {"shape": "point", "coords": [180_000_001, 0]},
        INVALID,
        "body.where.coords[0]",
    ),
    ("latitude", {"shape": "point", "coords": [0, -90_000_001]}, INVALID, "body.where.coords[1]"),
    ("odd count", {"shape": "route", "coords": [0, 0, 1]}, INVALID, "body.where.coords"),
    ("no positions", {"shape": "point", "coords": []}, INVALID, "body.where.coords"),
    ("two points", {"shape": "point", "coords": [0, 0, 1, 1]}, INVALID, "body.where.coords"),
    ("open ring", {"shape": "polygon", "coords": BOX[:-2]}, INVALID, "body.where.coords"),
    (
        "ring of 3",
        {"shape": "polygon", "coords": BOX[:4] + BOX[:2]},
        INVALID,
        "body.where.coords",
    ),
    ("route of 1", {"shape": "route", "coords": KHASHAM}, INVALID, "body.where.coords"),
    ("no radius", {"shape": "circle", "coords": KHASHAM}, INVALID, "body.where.radius_m"),
    (
        "zero radius",
        {"shape": "circle", "coords": KHASHAM, "radius_m": 0},
        INVALID,
        "body.where.radius_m",
    ),
    (
        "float radius",
        {"shape": "circle", "coords": KHASHAM, "radius_m": 5000.0},
        INVALID,
        "body.where.radius_m",
    ),
    (
        "radius on a point",
        {"shape": "point", "coords": KHASHAM, "radius_m": 5000},
        INVALID,
        "body.where.radius_m",
    ),
    (
        "width on a point",
        {"shape": "point", "coords": KHASHAM, "width_m": 10},
        INVALID,
        "body.where.width_m",
    ),
    (
        "negative width",
        {"shape": "route", "coords": BOX[:4], "width_m": -1},
        INVALID,
        "body.where.width_m",
    ),
    (
        "nil width",
        {"shape": "route", "coords": BOX[:4], "width_m": None},
        INVALID,
        "body.where.width_m",
    ),
    (
        "129 positions",
        {"shape": "route", "coords": KHASHAM * 129},
        Reason.FIELD_TOO_LARGE,
        "body.where.coords",
    ),
]
DEFECT_IDS = [name for name, *_ in DEFECTS]


@pytest.mark.parametrize(("name", "value", "reason", "field"), DEFECTS, ids=DEFECT_IDS)
def test_a_broken_location_is_refused_with_its_code_and_path(
    name: str, value: object, reason: Reason, field: str
) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        Where.from_body(value)
    assert (caught.value.reason, caught.value.field) == (reason, field)
    with pytest.raises(InvalidEnvelope) as caught:
        check_where(value, "body.where")
    assert (caught.value.reason, caught.value.field) == (reason, field)


@pytest.mark.parametrize(("name", "value", "reason", "field"), DEFECTS, ids=DEFECT_IDS)
@pytest.mark.parametrize(
    "kind", [Kind.NOTIFY, Kind.PROTEST, Kind.REPORT, Kind.RELAY, Kind.ESCALATE]
)
def test_every_notice_kind_refuses_it_when_built_and_when_received(
    kind: Kind, name: str, value: object, reason: Reason, field: str
) -> None:
    body = {"activity": "strike", "where": value, "for": "TR-GROUND"}
    with pytest.raises(InvalidEnvelope) as caught:
        replace(NOTICE, kind=kind, body=body)
    assert (caught.value.reason, caught.value.field) == (reason, field)
    fields = msgpack.unpackb(encode_envelope(NOTICE), raw=False)
    fields.update(k=kind.value, body=body)
    with pytest.raises(RejectedMessage) as refused:
        Verifier(KEYRING, POLICY).verify(CAOC.sign_bytes(msgpack.packb(fields)), NOW)
    assert refused.value.reason is reason


def test_other_kinds_ignore_a_where() -> None:
    for kind in (Kind.ACK, Kind.STANDBY, Kind.WITHDRAW, Kind.HEARTBEAT):
        replace(NOTICE, kind=kind, ref=bytes(32), body={"where": "anywhere"})


def test_a_relay_names_its_station_before_its_location_is_judged() -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        replace(NOTICE, kind=Kind.RELAY, body={"for": "T" * 65, "where": 1})
    assert caught.value.reason is Reason.FIELD_TOO_LARGE
    with pytest.raises(InvalidEnvelope) as caught:
        replace(NOTICE, kind=Kind.RELAY, body={"for": "TR-GROUND", "where": 1})
    assert caught.value.field == "body.where"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"positions": ((180.000001, 0.0),)}, "body.where.coords[0]"),
        ({"positions": ((0.0, -90.000001),)}, "body.where.coords[1]"),
        ({"positions": ((math.nan, 0.0),)}, "body.where.coords[0]"),
        ({"positions": ((0.0, math.inf),)}, "body.where.coords[1]"),
        ({"positions": ((0.0, "35"),)}, "body.where.coords[1]"),
        ({"positions": ((0.0, True),)}, "body.where.coords[1]"),
        ({"positions": ((10**400, 0.0),)}, "body.where.coords[0]"),
        ({"positions": ((1.0, 2.0), (0.0,))}, "body.where.coords[2]"),
        ({"positions": ()}, "body.where.coords"),
        ({"radius_m": 5000}, "body.where.radius_m"),
        ({"width_m": 0}, "body.where.width_m"),
    ],
)
def test_a_location_is_checked_when_made(changes: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"shape": Shape.POINT, "positions": ((40.187, 35.243),), **changes}
    with pytest.raises(InvalidEnvelope) as caught:
        Where(**fields)
    assert (caught.value.reason, caught.value.field) == (Reason.INVALID_FIELD, field)


def test_more_than_128_positions_are_too_large_when_made() -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        Where.route([(40.0, 35.0)] * 129)
    assert (caught.value.reason, caught.value.field) == (
        Reason.FIELD_TOO_LARGE,
        "body.where.coords",
    )
    assert len(Where.route([(40.0, 35.0)] * 128).positions) == 128


@pytest.mark.parametrize(
    "fields",
    [
        {"shape": "point", "positions": ((0.0, 0.0),)},
        {"shape": Shape.POINT, "positions": [(0.0, 0.0)]},
        {"shape": Shape.CIRCLE, "positions": ((0.0, 0.0),), "radius_m": 5.0},
        {"shape": Shape.CIRCLE, "positions": ((0.0, 0.0),), "radius_m": True},
    ],
)
def test_a_field_of_the_wrong_python_type_is_a_type_error(fields: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        Where(**fields)


# -- disputes about a location ----------------------------------------------------------


def test_the_location_dispute_reasons() -> None:
    new = {DisputeReason.INSIDE_AGREED_ZONE, DisputeReason.LOCATION_WRONG, DisputeReason.TOO_CLOSE}
    assert {r.value for r in new} == {"inside-agreed-zone", "location-wrong", "too-close"}
    assert list(DisputeReason)[-1] is DisputeReason.OTHER
    for reason in DisputeReason:
        answer(Kind.DISPUTE, reason=reason.value, distance_m=1200)


def answer(kind: Kind, **body: object) -> Envelope:
    return replace(NOTICE, kind=kind, ref=bytes(32), body=body)


@pytest.mark.parametrize("distance", [0, 1, 3500, 2**64 - 1])
def test_a_dispute_may_say_by_how_much(distance: int) -> None:
    answer(Kind.DISPUTE, reason="location-wrong", distance_m=distance)
    answer(Kind.CORRECT, answer="dispute", reason="too-close", distance_m=distance)


@pytest.mark.parametrize("distance", [-1, 3500.0, True, None, "3500", [3500]])
def test_a_distance_is_a_whole_number_of_metres(distance: object) -> None:
    for kind, body in (
        (Kind.DISPUTE, {"reason": "too-close"}),
        (Kind.CORRECT, {"answer": "dispute", "reason": "too-close"}),
    ):
        with pytest.raises(InvalidEnvelope) as caught:
            answer(kind, **body, distance_m=distance)
        assert (caught.value.reason, caught.value.field) == (
            Reason.INVALID_FIELD,
            "body.distance_m",
        )
    # only a dispute's distance is read: elsewhere it is a field like any other
    answer(Kind.CORRECT, answer="ack", distance_m=distance)
    answer(Kind.ACK, distance_m=distance)
    replace(NOTICE, body={"activity": "strike", "distance_m": distance})


def test_a_dispute_reason_is_judged_before_its_distance() -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        answer(Kind.DISPUTE, reason="too-far", distance_m=-1)
    assert caught.value.field == "body.reason"


# -- notices ----------------------------------------------------------------------------

CIRCLE = Where.circle(40.187, 35.243, 5000)
AREA = {"lat": 35.243, "lon": 40.187, "radius_km": 5.0}


def test_a_notice_writes_its_location_beside_any_area() -> None:
    body = Notice(activity="strike", where=CIRCLE, area=AREA).to_body()
    assert body["where"] == CIRCLE.to_body()
    assert body["area"] == AREA
    assert "where" not in Notice(activity="strike", area=AREA).to_body()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"where": CIRCLE.to_body()}, CIRCLE),
        ({"area": AREA}, CIRCLE),  # converted
        ({"where": Where.point(40.0, 35.0).to_body(), "area": AREA}, Where.point(40.0, 35.0)),
        ({"where": {"shape": "line"}, "area": AREA}, CIRCLE),  # a bad where is passed over
        ({"where": {"shape": "line"}}, None),
        ({"area": {"note": "east"}}, None),
        ({}, None),
    ],
)
def test_a_received_notice_reads_where_first_then_area(
    body: dict[str, Any], where: Where | None
) -> None:
    notice = Notice.from_body({"activity": "strike", **body})
    assert notice.located() == where  # the older area read as a where only when asked
    assert notice.area == body.get("area")
    assert notice.where in (where, None)


def test_a_located_notice_round_trips_through_its_body() -> None:
    notice = Notice(activity="strike", starts_at=T0 + 600, where=Where.polygon(_box()))
    assert Notice.from_body(over_the_wire(notice.to_body())) == notice  # type: ignore[arg-type]


def _box() -> list[tuple[float, float]]:
    return [(BOX[i] / 1e6, BOX[i + 1] / 1e6) for i in range(0, len(BOX), 2)]


def test_a_signed_located_notice_verifies_and_opens_a_view_that_holds_it() -> None:
    doctrine = make_doctrine()
    russia = endpoint("RU", doctrine)
    where = Where.route([(40.10, 35.30), (40.16, 35.27), (40.19, 35.24)], width_m=2000)
    data = signed(
        "US-CAOC",
        "RU-HMEIMIM",
        "US-CAOC:located",
        Kind.NOTIFY,
        at=T0,
        seq=1,
        body={"activity": "strike", "where": where.to_body(), "attempt": 1},
    )
    received, opened = russia.receive(data, T0 + 1, channel=Channel.AIR)
    assert isinstance(received, Received)
    assert received.envelope.body["where"] == where.to_body()
    assert isinstance(opened, NoticeReceived)
    assert opened.incident.notice.where == where


def test_the_location_goes_with_the_notice_and_its_escalation() -> None:
    net = Net.of(["US", "RU"], cut={Channel.AIR})
    where = Where.polygon(_box())
    net.endpoints["US"].notify(
        channel=Channel.AIR,
        precedence=Precedence.FLASH,
        notice=Notice(activity="strike", starts_at=T0 + 7200, where=where),
        now=net.now,
        parties=["RU"],
    )
    net.run(until=T0 + 3 * 3600)
    sent = {env.kind: env for _, party, env in net.sent if party == "US"}
    assert sent[Kind.NOTIFY].body["where"] == where.to_body()
    assert sent[Kind.ESCALATE].body["where"] == where.to_body()
    (opened,) = net.events("RU", NoticeReceived)
    assert opened.incident.channel is Channel.GENERAL_OFFICER
    assert opened.incident.notice.where == where


# -- agreement with the verifier written from the spec -----------------------------------

SPEC_KEYRING = spec.keyring_from_document(keyring_to_document(KEYRING))
BASE: dict[str, Any] = msgpack.unpackb(encode_envelope(NOTICE), raw=False)


def both_verdicts(kind: str, body: dict[str, Any]) -> tuple[str, str]:
    data = CAOC.sign_bytes(msgpack.packb({**BASE, "k": kind, "ref": bytes(32), "body": body}))
    try:
        Verifier(KEYRING, POLICY).verify(data, NOW)
        ours = "valid"
    except RejectedMessage as rejected:
        ours = str(rejected.reason)
    return ours, spec.verdict(spec.SpecVerifier(SPEC_KEYRING), data, NOW, None)


_numbers = (
    st.sampled_from([0, 1, -1, 5000, 2**53, 2**64 - 1, -(2**63), 180_000_000, 180_000_001])
    | st.sampled_from([-180_000_001, 90_000_000, 90_000_001, -90_000_001, 35_243_000])
    | st.integers(-200_000_000, 200_000_000)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.none()
    | st.sampled_from(["", "40.187", "point"])
)
_coords = (
    st.lists(_numbers, max_size=10)
    | st.lists(st.integers(-90_000_000, 90_000_000), max_size=12)
    | st.just(KHASHAM * 129)
    | st.just(BOX)
    | st.just(BOX[:-2])
)
_shapes = st.sampled_from(["point", "circle", "polygon", "route", "line", "", "POINT"])
_maps = st.fixed_dictionaries(
    {},
    optional={
        "shape": _shapes | _numbers,
        "coords": _coords | _numbers,
        "radius_m": _numbers,
        "width_m": _numbers,
        "note": _numbers,
    },
)
locations = _maps | wheres().map(Where.to_body) | _numbers | _coords


@given(
    kind=st.sampled_from(["notify", "protest", "report", "relay", "escalate", "ack"]),
    where=locations,
    relay_for=st.sampled_from(["TR-GROUND", "T" * 65, None]),
)
def test_the_spec_verifier_agrees_on_any_location(
    kind: str, where: object, relay_for: str | None
) -> None:
    body = {"activity": "strike", "where": where, "for": relay_for}
    ours, theirs = both_verdicts(kind, body)
    assert ours == theirs


@given(
    kind=st.sampled_from(["dispute", "correct"]),
    reason=st.sampled_from([r.value for r in DisputeReason] + ["too-far"]),
    answer_given=st.sampled_from(["dispute", "ack"]),
    distance=_numbers | st.lists(st.integers(-(2**63), 2**64 - 1), max_size=1),
)
def test_the_spec_verifier_agrees_on_any_distance(
    kind: str, reason: str, answer_given: str, distance: object
) -> None:
    body = {"reason": reason, "answer": answer_given, "distance_m": distance}
    ours, theirs = both_verdicts(kind, body)
    assert ours == theirs


def location_mutations(count: int, seed: int = 20180207) -> list[tuple[str, dict[str, Any]]]:
    """Seeded single and double edits of valid locations: a value swapped, a key dropped
    or added, an integer nudged across a bound, a position added or taken away."""
    rng = random.Random(seed)
    valid = [
        Where.point(40.187, 35.243).to_body(),
        CIRCLE.to_body(),
        Where.polygon(_box()).to_body(),
        Where.route([(40.10, 35.30), (40.19, 35.24)], width_m=2000).to_body(),
    ]
    pool: list[object] = [0, 1, -1, 0.0, 5000.0, True, None, "", "line", [], {}, 2**64 - 1]
    bounds = [180_000_000, 180_000_001, -180_000_001, 90_000_000, 90_000_001, -90_000_001]
    keys = ["shape", "coords", "radius_m", "width_m", "note"]
    cases = []
    for _ in range(count):
        where = dict(rng.choice(valid))
        coords = list(where["coords"])  # type: ignore[call-overload]
        for _ in range(rng.choice((1, 1, 2))):
            operation = rng.randrange(6)
            if operation == 0:
                where[rng.choice(keys)] = rng.choice(pool + bounds)
            elif operation == 1:
                where.pop(rng.choice(keys), None)
            elif operation == 2 and coords:
                coords[rng.randrange(len(coords))] = rng.choice(pool + bounds)
            elif operation == 3:
                coords += rng.choice(([rng.choice(bounds)], coords[:2], coords[:2] * 127))
            elif operation == 4 and coords:
                del coords[rng.randrange(len(coords)) :]
            else:
                where["shape"] = rng.choice(["point", "circle", "polygon", "route"])
            if "coords" in where:
                where["coords"] = coords
        kind = rng.choice(["notify", "protest", "report", "relay", "escalate"])
        cases.append((kind, {"activity": "strike", "where": where, "for": "TR-GROUND"}))
    return cases


def test_the_spec_verifier_agrees_on_seeded_location_edits() -> None:
    verdicts = [both_verdicts(kind, body) for kind, body in location_mutations(1500)]
    disagreements = [pair for pair in verdicts if pair[0] != pair[1]]
    assert not disagreements, disagreements[:10]
    reached = {ours for ours, _ in verdicts}
    assert {"valid", "invalid-field", "field-too-large"} <= reached
