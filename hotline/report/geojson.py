"""An exercise as GeoJSON (RFC 7946), for any GIS tool: the agreed map, and each notice's
area with its outcome and the map's verdicts (``exercise run --geojson PATH``).

A notice's area becomes a Point, a Polygon, or a LineString (a route, its first point
the entry and its last the exit); a circle, which GeoJSON lacks, becomes a Polygon of
64 points on the ellipsoid around its centre, and keeps its centre and radius in its
properties. Coordinates are longitude and latitude in degrees (WGS 84).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pyproj import Geod

from hotline.core.where import Shape, Where
from hotline.geo.load import to_geojson
from hotline.sim.model import NOTICE_ACTIONS, Scenario

_GEOD: Final = Geod(ellps="WGS84")
CIRCLE_POINTS: Final = 64


def area_geometry(where: Where) -> dict[str, Any]:
    """A notice's area as a GeoJSON geometry."""
    points = [list(p) for p in where.positions]
    if where.shape is Shape.POINT:
        return {"type": "Point", "coordinates": points[0]}
    if where.shape is Shape.ROUTE:
        return {"type": "LineString", "coordinates": points}
    if where.shape is Shape.POLYGON:
        return {"type": "Polygon", "coordinates": [points]}
    assert where.radius_m is not None  # a circle has one (Where checks)
    lon, lat = where.positions[0]
    ring = []
    for step in range(CIRCLE_POINTS):
        azimuth = 360.0 * step / CIRCLE_POINTS
        x, y, _ = _GEOD.fwd(lon, lat, azimuth, where.radius_m)
        ring.append([round(float(x), 7), round(float(y), 7)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def exercise_geojson(scenario: Scenario, result: Mapping[str, Any]) -> dict[str, Any]:
    """The agreed map's features and one feature per notice with an area."""
    features = list(to_geojson(scenario.geometry)["features"]) if scenario.geometry else []
    incidents = {i["id"]: i for i in result.get("incidents", [])}
    for event in scenario.events:
        place = event.located()
        if event.action not in NOTICE_ACTIONS or place is None:
            continue
        record = incidents.get(event.incident, {})
        properties: dict[str, Any] = {
            "hotline": "notice",
            "incident": event.incident,
            "originator": event.originator,
            "activity": event.activity,
            "channel": event.channel.value,
            "shape": place.shape.value,
            "outcome": record.get("outcome", "open"),
            "verdicts": record.get("geometry", {}).get("verdicts", []),
        }
        if place.radius_m is not None:
            properties["radius_m"] = place.radius_m
            properties["centre"] = list(place.positions[0])
        if place.width_m is not None:
            properties["width_m"] = place.width_m
        if event.actual is not None:
            properties["actual"] = list(event.actual)
        features.append(
            {"type": "Feature", "geometry": area_geometry(place), "properties": properties}
        )
    return {"type": "FeatureCollection", "features": features}
