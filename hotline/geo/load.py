"""Reading the agreed map: a scenario's ``[geometry]`` tables, or a GeoJSON file it names.

    [geometry]
    file = "khasham-2018.geojson"     # optional: features read from a GeoJSON file too

    [[geometry.lines]]
    name = "euphrates"
    points = [[40.05, 35.45], [40.25, 35.30], [40.50, 35.10]]   # [lon, lat], GeoJSON order
    sides = { east = "US", west = "RU" }
    buffer_km = 5

    [[geometry.zones]]
    name = "conoco-plant"
    kind = "restricted-operations"    # de-escalation, restricted-operations, no-strike
    owner = "US"                      # a party, or "joint"
    polygon = [[40.45, 35.35], [40.55, 35.35], [40.55, 35.45], [40.45, 35.45], [40.45, 35.35]]

    [[geometry.positions]]
    party = "US"
    name = "outpost"
    point = [40.52, 35.40]            # or a track: [{ at = "0s", point = [...] }, ...]

A GeoJSON file (RFC 7946: a FeatureCollection, WGS 84 longitude and latitude) holds the
same features: LineString features with ``"hotline": "line"`` and the line's fields in
their properties, Polygon features with ``"hotline": "zone"``, Point features with
``"hotline": "position"`` (a track: a LineString with ``"times"``, exercise seconds per
point). Every problem is one `ScenarioError` naming the file, the feature and why: a
ring not closed, a polygon that intersects itself, a latitude out of range, an unknown
party, a negative buffer. Shapes are checked by GEOS (shapely), not by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import shapely
from shapely.validation import explain_validity

from hotline.geo.agreed import Compass, LineSpec, MapSpec, PositionSpec, ZoneKind, ZoneSpec
from hotline.geo.frame import Position
from hotline.sim.durations import parse_duration
from hotline.sim.fields import FieldReader, ScenarioError, read_input

KEYS: Final = {
    "geometry": frozenset({"file", "lines", "zones", "positions"}),
    "line": frozenset({"name", "points", "sides", "buffer_km", "note"}),
    "zone": frozenset({"name", "kind", "owner", "polygon", "note"}),
    "position": frozenset({"name", "party", "point", "track", "note"}),
}
MAX_POINTS: Final = 10_000
MAX_GEOJSON_BYTES: Final = 20_000_000


class MapReader(FieldReader):
    """Reads the map's features, naming the file and the feature in every error.

    Args:
        source: the file the features are read from.
        parties: the scenario's parties (a side, an owner or a position names one).
    """

    def __init__(self, source: str, parties: Sequence[str]) -> None:
        super().__init__(source)
        self.parties = tuple(parties)

    # -- scenario tables -----------------------------------------------------------------

    def tables(self, value: object, base: Path | None) -> MapSpec:
        """The ``[geometry]`` table of a scenario (and the GeoJSON file it names)."""
        table = self.table(value, "geometry", KEYS["geometry"])
        lines: list[LineSpec] = []
        zones: list[ZoneSpec] = []
        positions: list[PositionSpec] = []
        if "file" in table:
            name = self.text(table, "file", "geometry", limit=4096)
            path = Path(name) if base is None else base / name
            found = read_geojson(path, self.parties)
            lines += found.lines
            zones += found.zones
            positions += found.positions
        lines += [self.line(entry, where) for where, entry in self.entries(table, "lines")]
        zones += [self.zone(entry, where) for where, entry in self.entries(table, "zones")]
        positions += [
            self.position(entry, where) for where, entry in self.entries(table, "positions")
        ]
        return self.checked(MapSpec(tuple(lines), tuple(zones), tuple(positions)))

    def entries(self, table: Mapping[str, Any], key: str) -> list[tuple[str, object]]:
        """The ``[[geometry.KEY]]`` tables, each with its place for errors."""
        entries = table.get(key, [])
        if not isinstance(entries, list):
            raise self.fail(f"geometry.{key}", f"must be an array of tables ([[geometry.{key}]])")
        return [(f"geometry.{key}[{index}]", entry) for index, entry in enumerate(entries)]

    def checked(self, spec: MapSpec) -> MapSpec:
        """Names are unique per kind of feature."""
        for kind, names in (
            ("line", [line.name for line in spec.lines]),
            ("zone", [zone.name for zone in spec.zones]),
            ("position", [f"{p.party}/{p.name}" for p in spec.positions]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise self.fail("geometry", f"two {kind}s are named {repeated[0]!r}")
        return spec

    def line(self, value: object, where: str) -> LineSpec:
        entry = self.table(value, where, KEYS["line"])
        name = self.text(entry, "name", where, limit=64)
        points = self.positions(entry.get("points"), f"{where}.points", minimum=2)
        if not shapely.LineString(points).is_simple:
            raise self.fail(f"{where}.points", "the line crosses itself")
        sides_table = self.table(entry.get("sides"), f"{where}.sides", frozenset(Compass))
        if not sides_table:
            raise self.fail(
                f"{where}.sides", 'name the party on one side at least: { east = "US" }'
            )
        sides = tuple(
            (Compass(side), self.party(party, f"{where}.sides.{side}"))
            for side, party in sides_table.items()
        )
        compasses = {side for side, _ in sides}
        if len(compasses) == 2 and compasses not in (
            {Compass.EAST, Compass.WEST},
            {Compass.NORTH, Compass.SOUTH},
        ):
            raise self.fail(
                f"{where}.sides",
                "two sides must face each other: east and west, or north and south",
            )
        buffer = self.number(entry, "buffer_km", where, -1e9, 1000.0) or 0.0
        if buffer < 0:
            raise self.fail(f"{where}.buffer_km", f"must not be negative, not {buffer:g}")
        return LineSpec(name, points, sides, buffer)

    def zone(self, value: object, where: str) -> ZoneSpec:
        entry = self.table(value, where, KEYS["zone"])
        name = self.text(entry, "name", where, limit=64)
        kind = ZoneKind(self.choice(entry, "kind", where, tuple(ZoneKind)))
        owner = self.text(entry, "owner", where, limit=64)
        if owner != "joint":
            owner = self.party(owner, f"{where}.owner")
        ring = self.ring(entry.get("polygon"), f"{where}.polygon")
        return ZoneSpec(name, ring, owner, kind)

    def position(self, value: object, where: str) -> PositionSpec:
        entry = self.table(value, where, KEYS["position"])
        name = self.text(entry, "name", where, limit=64)
        party = self.party(entry.get("party"), f"{where}.party")
        if ("point" in entry) == ("track" in entry):
            raise self.fail(where, "a position is a point or a track (one of them)")
        if "point" in entry:
            return PositionSpec(
                party, name, ((0.0, self.coordinate(entry["point"], f"{where}.point")),)
            )
        track = entry["track"]
        if not isinstance(track, list) or not track:
            raise self.fail(f"{where}.track", "must list { at = ..., point = [lon, lat] } tables")
        steps: list[tuple[float, Position]] = []
        for index, step in enumerate(track):
            spot = f"{where}.track[{index}]"
            row = self.table(step, spot, frozenset({"at", "point"}))
            at = self.convert(f"{spot}.at", row.get("at"), parse_duration)
            if steps and at <= steps[-1][0]:
                raise self.fail(f"{spot}.at", "a track's times must increase")
            steps.append((at, self.coordinate(row.get("point"), f"{spot}.point")))
        return PositionSpec(party, name, tuple(steps))

    # -- values --------------------------------------------------------------------------

    def party(self, value: object, where: str) -> str:
        if value not in self.parties:
            known = ", ".join(self.parties)
            raise self.fail(where, f"{value!r} is not a party of the scenario ({known})")
        return str(value)

    def coordinate(self, value: object, where: str) -> Position:
        """One ``[longitude, latitude]`` in degrees (GeoJSON order)."""
        if (
            not isinstance(value, list | tuple)
            or len(value) not in (2, 3)  # GeoJSON allows an altitude; it is not used
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        ):
            raise self.fail(where, f"must be [longitude, latitude] in degrees, not {value!r}")
        lon, lat = float(value[0]), float(value[1])
        if not -180.0 <= lon <= 180.0:
            raise self.fail(where, f"longitude {lon:g} is out of range (-180 to 180)")
        if not -90.0 <= lat <= 90.0:
            raise self.fail(where, f"latitude {lat:g} is out of range (-90 to 90); "
                            "coordinates are [longitude, latitude]")  # fmt: skip
        return (lon, lat)

    def positions(self, value: object, where: str, *, minimum: int) -> tuple[Position, ...]:
        if not isinstance(value, list | tuple) or not minimum <= len(value) <= MAX_POINTS:
            raise self.fail(
                where, f"must list {minimum} to {MAX_POINTS} [longitude, latitude] points"
            )
        return tuple(self.coordinate(point, f"{where}[{n}]") for n, point in enumerate(value))

    def ring(self, value: object, where: str) -> tuple[Position, ...]:
        """A polygon's one ring: closed (the last point is the first), at least four
        points, not crossing itself."""
        ring = self.positions(value, where, minimum=4)
        if ring[0] != ring[-1]:
            raise self.fail(where, "the ring is not closed: its last point must repeat its first")
        polygon = shapely.Polygon(ring)
        if not polygon.is_valid:
            raise self.fail(where, f"the polygon is not valid: {explain_validity(polygon)}")
        return ring


def read_geojson(path: Path, parties: Sequence[str]) -> MapSpec:
    """The map's features from a GeoJSON file (see the module doc).

    Raises:
        ScenarioError: naming the file, the feature and why.
    """
    source = str(path)
    data = read_input(path, MAX_GEOJSON_BYTES)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, "", f"not JSON ({exc})") from None
    reader = MapReader(source, parties)
    if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
        raise reader.fail("", "not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise reader.fail("features", "must be an array of features")
    made = [_read_feature(reader, f"features[{n}]", feature) for n, feature in enumerate(features)]
    return reader.checked(
        MapSpec(
            tuple(m for m in made if isinstance(m, LineSpec)),
            tuple(m for m in made if isinstance(m, ZoneSpec)),
            tuple(m for m in made if isinstance(m, PositionSpec)),
        )
    )


def _read_feature(
    reader: MapReader, where: str, feature: object
) -> LineSpec | ZoneSpec | PositionSpec:
    """One feature of a GeoJSON file: a line, a zone or a position."""
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise reader.fail(where, "not a GeoJSON Feature")
    properties = feature.get("properties") or {}
    geometry = feature.get("geometry")
    if not isinstance(properties, Mapping) or not isinstance(geometry, Mapping):
        raise reader.fail(where, "a feature needs properties and a geometry")
    label = f"{where} ({properties.get('name', 'unnamed')})"
    kind = properties.get("hotline")
    shape, coordinates = geometry.get("type"), geometry.get("coordinates")
    fields = {k: v for k, v in properties.items() if k != "hotline"}
    if kind == "line":
        _expect(reader, label, shape, "LineString")
        return reader.line({**fields, "points": coordinates}, label)
    if kind == "zone":
        _expect(reader, label, shape, "Polygon")
        if not isinstance(coordinates, list) or len(coordinates) != 1:
            raise reader.fail(f"{label}.geometry", "a zone is one ring, with no holes")
        return reader.zone({**fields, "polygon": coordinates[0]}, label)
    if kind != "position":
        raise reader.fail(
            f"{where}.properties.hotline", f"must be line, zone or position, not {kind!r}"
        )
    if shape == "Point":
        return reader.position({**fields, "point": coordinates}, label)
    if shape != "LineString":
        raise reader.fail(
            f"{label}.geometry", f"a position is a Point or a LineString track, not {shape!r}"
        )
    times = fields.pop("times", None)
    if (
        not isinstance(times, list)
        or not isinstance(coordinates, list)
        or len(times) != len(coordinates)
    ):
        raise reader.fail(f"{label}.properties.times", "a track needs a time for each point")
    track = [{"at": t, "point": p} for t, p in zip(times, coordinates, strict=True)]
    return reader.position({**fields, "track": track}, label)


def _expect(reader: MapReader, where: str, shape: object, wanted: str) -> None:
    if shape != wanted:
        raise reader.fail(f"{where}.geometry", f"must be a {wanted}, not {shape!r}")


def to_geojson(spec: MapSpec) -> dict[str, Any]:
    """The map as a GeoJSON FeatureCollection (read back by `read_geojson`)."""
    features: list[dict[str, Any]] = []
    for line in spec.lines:
        properties = {"hotline": "line", "name": line.name,
                      "sides": {side.value: party for side, party in line.sides},
                      "buffer_km": line.buffer_km}  # fmt: skip
        features.append(_feature("LineString", [list(p) for p in line.positions], properties))
    for zone in spec.zones:
        properties = {
            "hotline": "zone",
            "name": zone.name,
            "kind": zone.kind.value,
            "owner": zone.owner,
        }
        features.append(_feature("Polygon", [[list(p) for p in zone.ring]], properties))
    for spot in spec.positions:
        properties = {"hotline": "position", "name": spot.name, "party": spot.party}
        if len(spot.track) == 1:
            features.append(_feature("Point", list(spot.track[0][1]), properties))
        else:
            properties["times"] = [t for t, _ in spot.track]
            features.append(_feature("LineString", [list(p) for _, p in spot.track], properties))
    return {"type": "FeatureCollection", "features": features}


def _feature(shape: str, coordinates: object, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": shape, "coordinates": coordinates},
            "properties": properties}  # fmt: skip
