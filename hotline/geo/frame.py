"""Where shapes are measured: a local metric frame for shapes, the ellipsoid for distances.

Theory of operation. The agreed map of an exercise covers a theatre a few hundred
kilometres across. Its shapes (a line's buffer, zones, a notice's circle or corridor)
are built and compared in metres, in an azimuthal equidistant projection centred on
the theatre (pyproj), where GEOS (shapely) does the geometry: buffers, intersections,
nearest points. Distances that are reported are measured on the WGS 84 ellipsoid
(`pyproj.Geod`): between a notice's point and the nearest point of a line, of a zone or
of a position, found in the frame and brought back to longitude and latitude. No
geometry algorithm is written here by hand.

A notice's area is an `Area`: a core shape (its point, its route, its polygon) and a
reach around it in metres (a circle's radius, half a corridor's width). Whether it
touches a shape, and how far it is from one, follow from the core's distance to that
shape (GEOS), without building the buffered shape: buffering a circle costs GEOS more
than all the judgement's predicates together, and a run judges every notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy
import shapely
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from shapely.prepared import PreparedGeometry

from hotline.core.where import Shape, Where

Position = tuple[float, float]  # longitude, latitude in degrees (GeoJSON order)

_GEOD = Geod(ellps="WGS84")


class Frame:
    """A metric frame centred on ``centre`` (longitude, latitude)."""

    def __init__(self, centre: Position) -> None:
        lon, lat = centre
        self.centre = centre
        projection = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"
        self._forward = Transformer.from_crs("EPSG:4326", projection, always_xy=True)
        self._back = Transformer.from_crs(projection, "EPSG:4326", always_xy=True)

    @classmethod
    def around(cls, positions: Iterable[Position]) -> Frame:
        """A frame centred on the middle of ``positions`` (the map's extent)."""
        points = list(positions)
        if not points:
            return cls((0.0, 0.0))
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return cls(((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2))

    def xy(self, positions: Sequence[Position]) -> list[tuple[float, float]]:
        """``positions`` in the frame, metres (one at a time: pyproj's scalar call is a
        quarter of the cost of its array call for the few points of a notice)."""
        forward = self._forward.transform
        return [forward(lon, lat) for lon, lat in positions]

    def lonlat(self, x: float, y: float) -> Position:
        """A point of the frame as longitude and latitude."""
        lon, lat = self._back.transform(x, y)
        return float(lon), float(lat)

    def point(self, position: Position) -> shapely.Point:
        """A position as a point of the frame."""
        return shapely.Point(self.xy([position])[0])

    def line(self, positions: Sequence[Position]) -> shapely.LineString:
        """A polyline of the frame."""
        return shapely.LineString(self.xy(positions))

    def polygon(self, ring: Sequence[Position]) -> shapely.Polygon:
        """A polygon of the frame (one ring)."""
        return shapely.Polygon(self.xy(ring))

    def areas(self, wheres: Sequence[Where]) -> list[Area]:
        """Many notices' areas at once: the points and circles among them projected and
        made in one PROJ call and one GEOS call (they are most notices)."""
        made: list[Area | None] = [None] * len(wheres)
        single = [n for n, w in enumerate(wheres) if w.shape in (Shape.POINT, Shape.CIRCLE)]
        if single:
            lon = [wheres[n].positions[0][0] for n in single]
            lat = [wheres[n].positions[0][1] for n in single]
            xs, ys = self._forward.transform(lon, lat)
            points = numpy.asarray(shapely.points(numpy.column_stack([xs, ys])))
            for n, point in zip(single, points.tolist(), strict=True):
                made[n] = Area(point, float(wheres[n].radius_m or 0))
        return [self.area(w) if a is None else a for w, a in zip(wheres, made, strict=True)]

    def area(self, where: Where) -> Area:
        """A notice's area in the frame: a point, a circle (its centre, reaching its
        radius), a polygon, or a route (reaching half its width either side)."""
        if where.shape is Shape.POINT:
            return Area(self.point(where.positions[0]), 0.0)
        if where.shape is Shape.CIRCLE:
            assert where.radius_m is not None  # a circle has one (Where checks)
            return Area(self.point(where.positions[0]), float(where.radius_m))
        if where.shape is Shape.POLYGON:
            return Area(self.polygon(where.positions), 0.0)
        return Area(self.line(where.positions), (where.width_m or 0) / 2)

    def distance_km(self, area: Area, shape: BaseGeometry) -> float:
        """The shortest distance between an area and a shape of the frame, on the
        ellipsoid (0 when they touch): between their nearest points, found in the frame,
        less the area's reach."""
        if area.touches(shape):
            return 0.0
        near_a, near_b = nearest_points(area.core, shape)
        between = geodesic_km(self.lonlat(near_a.x, near_a.y), self.lonlat(near_b.x, near_b.y))
        return max(0.0, between - area.reach / 1000.0)

    def geodesic_km(self, segments: numpy.ndarray[Any, Any]) -> numpy.ndarray[Any, Any]:
        """The lengths on the ellipsoid (km) of segments of the frame (shapely lines of
        two points, as `shapely.shortest_line` gives), all in two PROJ calls."""
        coords = shapely.get_coordinates(segments).reshape(-1, 2, 2)
        lon, lat = self._back.transform(coords[:, :, 0].ravel(), coords[:, :, 1].ravel())
        lon, lat = numpy.asarray(lon).reshape(-1, 2), numpy.asarray(lat).reshape(-1, 2)
        _, _, metres = _GEOD.inv(lon[:, 0], lat[:, 0], lon[:, 1], lat[:, 1])
        return numpy.asarray(metres, dtype=float) / 1000.0


class Area:
    """A notice's area in a frame: a core shape, and how far around it the area reaches
    (metres). Predicates go through GEOS distances (see the module doc)."""

    __slots__ = ("core", "reach")

    def __init__(self, core: BaseGeometry, reach: float) -> None:
        self.core, self.reach = core, reach

    def touches(
        self, shape: BaseGeometry, prepared: PreparedGeometry[BaseGeometry] | None = None
    ) -> bool:
        """Whether the area meets ``shape`` (its prepared form, when given, answers for a
        core that reaches no further than itself)."""
        if not self.reach:
            return (
                prepared.intersects(self.core)
                if prepared is not None
                else shape.intersects(self.core)
            )
        return bool(shape.distance(self.core) <= self.reach)

    def metres_to(self, shape: BaseGeometry) -> float:
        """The distance from the area to ``shape`` in the frame's metres."""
        return max(0.0, float(self.core.distance(shape)) - self.reach)

    def shape(self) -> BaseGeometry:
        """The area as one shape (drawing; costly for a circle)."""
        return self.core.buffer(self.reach) if self.reach else self.core


def geodesic_km(a: Position, b: Position) -> float:
    """The distance between two positions on the WGS 84 ellipsoid, in kilometres."""
    _, _, metres = _GEOD.inv(a[0], a[1], b[0], b[1])
    return float(metres) / 1000.0
