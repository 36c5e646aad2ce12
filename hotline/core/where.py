"""Where a notice's activity takes place: the ``where`` body map (protocol/PROTOCOL.md 3.4).

A location travels in the signed message as integers only: positions in micro-degrees
(degrees x 10**6, rounded half away from zero), longitude first as in GeoJSON, and
distances in whole metres. Every encoder therefore writes the same bytes for the same
place, so a signature over a location never depends on how a float was printed.

`Where` is the value type. It holds positions in degrees, already rounded to the
micro-degree, so two values that encode alike compare equal; `check_where` is the
receiving side's check of a decoded map, run by the wire rules of the notice kinds.
The older ``area`` map (floats, latitude first) is still read: `Where.from_area`
converts it.

Nothing here reads a clock, does IO, or needs a geometry library: the checks are the
protocol's, not geodesy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NoReturn

from hotline.core.errors import InvalidEnvelope, Reason

#: Positions are carried in millionths of a degree.
MICRODEGREES: Final = 1_000_000
MAX_LONGITUDE: Final = 180 * MICRODEGREES
MAX_LATITUDE: Final = 90 * MICRODEGREES
#: 128 positions are 256 integers: the body's array limit (PROTOCOL.md 3.3).
MAX_POSITIONS: Final = 128
#: The keys of a ``where`` map, in the order senders write them.
WHERE_KEYS: Final = ("shape", "coords", "radius_m", "width_m")
_MAX_UINT: Final = 2**64 - 1
# Stands for a key the map does not hold (nil is a value, and is refused).
_ABSENT: Final = object()


class Shape(StrEnum):
    """What a ``where`` map describes."""

    POINT = "point"
    CIRCLE = "circle"
    POLYGON = "polygon"
    ROUTE = "route"


_SHAPES: Final[dict[object, Shape]] = {shape.value: shape for shape in Shape}
_SHAPE_LIST: Final = ", ".join(Shape)


def _invalid(field: str, detail: str, reason: Reason = Reason.INVALID_FIELD) -> NoReturn:
    raise InvalidEnvelope(reason, field, detail)


def _scaled(value: float, factor: int) -> int:
    """``value`` x ``factor``, rounded half away from zero.

    The product is taken in double precision, as any language computes it, so every
    implementation turns one float into one integer; a product too large to be a
    position or a distance comes back as 2**64, out of every range.
    """
    product = abs(value) * factor
    if product >= 2.0**53:  # a whole number already, or infinite
        whole = int(min(product, 2.0**64))
    else:
        whole = math.floor(product)
        if product - whole >= 0.5:  # exact: no rounding in this subtraction
            whole += 1
    return whole if value >= 0 else -whole


def _real(value: object) -> float | None:
    """``value`` as a float if it is a finite number of degrees (or kilometres): an int
    or a float, not a boolean; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        # beyond 2**64 no position or distance is in range, and float() could overflow
        return float(value) if -_MAX_UINT <= value <= _MAX_UINT else None
    if isinstance(value, float) and math.isfinite(value):
        return float(value)
    return None


def check_where(value: object, field: str = "body.where") -> None:
    """Raise `InvalidEnvelope` unless ``value`` is a valid ``where`` map.

    The checks run in the order of PROTOCOL.md 3.4, so a map with several defects is
    reported by its first: the map itself, its keys, ``shape``, ``coords`` (size, then
    each integer, then the count of integers), the positions the shape needs,
    ``radius_m``, then ``width_m``.

    Args:
        value: a decoded body value.
        field: the path reported for it.

    Raises:
        InvalidEnvelope: reason ``invalid-field``, or ``field-too-large`` for more than
            128 positions; ``field`` names the offending part (``body.where.coords[3]``).
    """
    if not isinstance(value, Mapping):
        _invalid(field, "a location is a map of shape, coords, radius_m and width_m")
    for key in value:
        if key not in WHERE_KEYS:
            _invalid(f"{field}.{key}", f"a location has only the keys {', '.join(WHERE_KEYS)}")
    named = value.get("shape")
    shape = _SHAPES.get(named) if type(named) is str else None
    if shape is None:
        _invalid(f"{field}.shape", f"the shape is one of {_SHAPE_LIST}")
    coords = value.get("coords")
    if type(coords) is not list and type(coords) is not tuple:
        _invalid(f"{field}.coords", "coords is an array of integers")
    _check_coords(coords, field)
    pairs = [(coords[i], coords[i + 1]) for i in range(0, len(coords), 2)]
    radius, width = value.get("radius_m", _ABSENT), value.get("width_m", _ABSENT)
    _check_extent(shape, pairs, radius, width, field)


def _check_coords(coords: Sequence[object], field: str) -> None:
    if len(coords) > 2 * MAX_POSITIONS:
        _invalid(
            f"{field}.coords",
            f"more than {MAX_POSITIONS} positions ({2 * MAX_POSITIONS} integers)",
            Reason.FIELD_TOO_LARGE,
        )
    for index, item in enumerate(coords):
        # A boolean is no integer on the wire (PROTOCOL.md 3), whatever Python thinks.
        if type(item) is not int:
            _invalid(f"{field}.coords[{index}]", "positions are integers of micro-degrees")
        limit = MAX_LATITUDE if index % 2 else MAX_LONGITUDE
        if not -limit <= item <= limit:
            name = "latitude" if index % 2 else "longitude"
            _invalid(f"{field}.coords[{index}]", f"{name} {item} outside -{limit} .. {limit}")
    if len(coords) % 2:
        _invalid(f"{field}.coords", "coords holds longitude, latitude pairs: an even count")


def _check_extent(
    shape: Shape,
    positions: Sequence[tuple[object, object]],
    radius: object,
    width: object,
    field: str,
) -> None:
    """The positions ``shape`` needs, then its radius and width (`_ABSENT`: no such key)."""
    count = len(positions)
    if shape is Shape.POINT or shape is Shape.CIRCLE:
        if count != 1:
            _invalid(f"{field}.coords", f"a {shape} has exactly one position, not {count}")
    elif shape is Shape.POLYGON:
        if count < 4:
            _invalid(f"{field}.coords", f"a polygon ring has at least 4 positions, not {count}")
        if positions[0] != positions[-1]:
            _invalid(f"{field}.coords", "a polygon ring ends where it starts")
    elif count < 2:
        _invalid(f"{field}.coords", f"a route has at least 2 positions, not {count}")
    if shape is Shape.CIRCLE:
        if type(radius) is not int or not 0 < radius <= _MAX_UINT:
            _invalid(f"{field}.radius_m", "a circle has a radius of 1 metre or more")
    elif radius is not _ABSENT:
        _invalid(f"{field}.radius_m", "only a circle has a radius")
    if width is not _ABSENT:
        if shape is not Shape.ROUTE:
            _invalid(f"{field}.width_m", "only a route has a width")
        if type(width) is not int or not 0 <= width <= _MAX_UINT:
            _invalid(f"{field}.width_m", "a route's width is a whole number of metres, 0 or more")


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """Where an activity takes place, as the ``where`` body map carries it.

    Positions are rounded to the micro-degree when the value is made, so a `Where`
    holds exactly what goes on the wire: two values compare equal exactly when they
    encode to the same bytes.

    Args:
        shape: a point, a circle (around one position), a polygon (one closed ring, no
            holes) or a route (entry point first, exit point last).
        positions: (longitude, latitude) pairs in degrees, WGS 84: one for a point or
            a circle, at least 4 for a polygon (the first repeated as the last), at
            least 2 for a route; at most 128.
        radius_m: a circle's radius in metres, 1 or more; only for a circle.
        width_m: a route's corridor width in metres, 0 or more; optional, only for a
            route.

    Raises:
        InvalidEnvelope: a value the protocol does not allow (the reason code and field
            path a receiver would report, ``body.where...``).
        TypeError: a field of the wrong Python type.
    """

    shape: Shape
    positions: tuple[tuple[float, float], ...]
    radius_m: int | None = None
    width_m: int | None = None

    def __post_init__(self) -> None:
        # Types are checked here as a compiled build checks the annotations, so that
        # pure Python refuses the same values the same way.
        radius: object = self.radius_m
        width: object = self.width_m
        positions: object = self.positions
        if (
            type(self.shape) is not Shape
            or type(positions) is not tuple
            or (radius is not None and type(radius) is not int)
            or (width is not None and type(width) is not int)
        ):
            raise TypeError(
                "Where takes a Shape, a tuple of (longitude, latitude) pairs and integer"
                " metres (or None)"
            )
        pairs: tuple[object, ...] = positions
        if len(pairs) > MAX_POSITIONS:
            _invalid(
                "body.where.coords",
                f"more than {MAX_POSITIONS} positions",
                Reason.FIELD_TOO_LARGE,
            )
        micro = _microdegrees(pairs)
        _check_extent(
            self.shape,
            micro,
            _ABSENT if radius is None else radius,
            _ABSENT if width is None else width,
            "body.where",
        )
        rounded = tuple((lon / MICRODEGREES, lat / MICRODEGREES) for lon, lat in micro)
        object.__setattr__(self, "positions", rounded)

    def to_body(self) -> dict[str, object]:
        """The canonical ``where`` map: integers only, keys in the protocol's order."""
        coords: list[int] = []
        for lon, lat in self.positions:
            coords.append(_scaled(lon, MICRODEGREES))
            coords.append(_scaled(lat, MICRODEGREES))
        body: dict[str, object] = {"shape": self.shape.value, "coords": coords}
        if self.radius_m is not None:
            body["radius_m"] = self.radius_m
        if self.width_m is not None:
            body["width_m"] = self.width_m
        return body

    @staticmethod
    def from_body(value: object, field: str = "body.where") -> Where:
        """Read a ``where`` map strictly.

        Args:
            value: the decoded map.
            field: the path reported for a defect.

        Raises:
            InvalidEnvelope: the map breaks a rule of PROTOCOL.md 3.4; its reason code
                and field path are those a receiver reports.
        """
        check_where(value, field)
        found: Mapping[str, object] = value  # type: ignore[assignment]
        coords: Sequence[int] = found["coords"]  # type: ignore[assignment]
        radius, width = found.get("radius_m"), found.get("width_m")
        return Where(
            shape=_SHAPES[found["shape"]],
            positions=tuple(
                (coords[i] / MICRODEGREES, coords[i + 1] / MICRODEGREES)
                for i in range(0, len(coords), 2)
            ),
            radius_m=radius if type(radius) is int else None,
            width_m=width if type(width) is int else None,
        )

    @staticmethod
    def from_area(area: Mapping[str, object]) -> Where | None:
        """Convert the older ``area`` map (floats, latitude first) to a `Where`.

        ``lat`` and ``lon`` give a point, or with ``radius_km`` a circle of that radius
        rounded to the metre (a radius that rounds to 0 m leaves a point); ``route``,
        a list of [lat, lon] pairs, gives a route whose width is ``width_km`` in
        metres. ``note`` has no place in a `Where`.

        Args:
            area: an ``area`` body map.

        Returns:
            The location, or None when the map is neither form or its values make no
            valid location (a latitude out of range, a route of one point, a negative
            radius).
        """
        route = area.get("route")
        if route is not None:
            return _route_of_area(route, area.get("width_km"))
        lat, lon = _real(area.get("lat")), _real(area.get("lon"))
        if lat is None or lon is None:
            return None
        radius_m: int | None = None
        if "radius_km" in area and area["radius_km"] is not None:
            radius_km = _real(area["radius_km"])
            if radius_km is None or radius_km < 0:
                return None
            radius_m = _scaled(radius_km, 1000)
        position = (lon, lat)
        try:
            if not radius_m:
                return Where(shape=Shape.POINT, positions=(position,))
            return Where(shape=Shape.CIRCLE, positions=(position,), radius_m=radius_m)
        except InvalidEnvelope:
            return None

    @staticmethod
    def point(lon: float, lat: float) -> Where:
        """A point at (``lon``, ``lat``), degrees."""
        return Where(shape=Shape.POINT, positions=((lon, lat),))

    @staticmethod
    def circle(lon: float, lat: float, radius_m: int) -> Where:
        """A circle of ``radius_m`` metres around (``lon``, ``lat``), degrees."""
        return Where(shape=Shape.CIRCLE, positions=((lon, lat),), radius_m=radius_m)

    @staticmethod
    def polygon(ring: Sequence[tuple[float, float]]) -> Where:
        """A polygon: one closed ring of (lon, lat) pairs, the first repeated as the last."""
        return Where(shape=Shape.POLYGON, positions=tuple(ring))

    @staticmethod
    def route(points: Sequence[tuple[float, float]], width_m: int | None = None) -> Where:
        """A route through (lon, lat) pairs, entry point first and exit point last, with
        an optional corridor width in metres."""
        return Where(shape=Shape.ROUTE, positions=tuple(points), width_m=width_m)


def _microdegrees(pairs: tuple[object, ...]) -> list[tuple[int, int]]:
    """Each (lon, lat) pair in micro-degrees, refused as a receiver would refuse it."""
    micro: list[tuple[int, int]] = []
    for index, pair in enumerate(pairs):
        if (type(pair) is not tuple and type(pair) is not list) or len(pair) != 2:
            _invalid(
                f"body.where.coords[{2 * index}]", "a position is a (longitude, latitude) pair"
            )
        lon, lat = pair
        values: list[int] = []
        for offset, (degrees, limit) in enumerate(((lon, MAX_LONGITUDE), (lat, MAX_LATITUDE))):
            name = "latitude" if offset else "longitude"
            where = f"body.where.coords[{2 * index + offset}]"
            real = _real(degrees)
            if real is None:
                _invalid(where, f"the {name} is a finite number of degrees")
            value = _scaled(real, MICRODEGREES)
            if not -limit <= value <= limit:
                _invalid(
                    where,
                    f"{name} {degrees} outside -{limit // MICRODEGREES} .. {limit // MICRODEGREES}",
                )
            values.append(value)
        micro.append((values[0], values[1]))
    return micro


def _route_of_area(route: object, width_km: object) -> Where | None:
    if type(route) is not list and type(route) is not tuple:
        return None
    points: list[tuple[float, float]] = []
    for point in route:
        if (type(point) is not list and type(point) is not tuple) or len(point) != 2:
            return None
        lat, lon = _real(point[0]), _real(point[1])
        if lat is None or lon is None:
            return None
        points.append((lon, lat))
    width_m: int | None = None
    if width_km is not None:
        width = _real(width_km)
        if width is None or width < 0:
            return None
        width_m = _scaled(width, 1000)
    try:
        return Where(shape=Shape.ROUTE, positions=tuple(points), width_m=width_m)
    except InvalidEnvelope:
        return None
