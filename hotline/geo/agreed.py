"""The agreed map of an exercise, and what it says of a notice's area.

Theory of operation. A `MapSpec` is the map as data (what a scenario or a GeoJSON file
declares, validated by `hotline.geo.load`): deconfliction lines, each with the party
operating on either side and a buffer; zones with an owner (a party, or ``joint``) and
a kind; and each party's declared positions, fixed or moving along a track over
exercise time. It is plain, hashable data, so scenarios holding it travel to worker
processes as they are.

`AgreedMap` builds the shapes once (in a metric frame, `hotline.geo.frame`), prepared
for the predicates asked of every notice, and `AgreedMap.judge` says what a notice's
area does on the map for the party that sends it: how far it is from each line and on
which side it lies, whether it reaches into a line's buffer or across it onto another
party's side, which zones it enters that are not the sender's own, and which of the
other parties' positions lie within reach. Doctrine's geometry rules
(`hotline.core.channels.GeometryRules`) then turn that into verdicts: a crossing needs
a longer lead time and a higher line; an activity near another party's forces is
flagged.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple

import numpy
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import split
from shapely.prepared import PreparedGeometry, prep

from hotline.core.channels import GeometryRules
from hotline.core.names import Channel
from hotline.core.where import Where
from hotline.geo.frame import Area, Frame, Position

#: how far a line is drawn on past its ends (metres), beyond the box it divides (half as
#: far each way from the centre): a line is
#: agreed across the whole theatre, not only between its first and last points
_REACH: Final = 5_000_000.0
JOINT: Final = "joint"


class Compass(StrEnum):
    """Which side of a line, as people say it."""

    EAST = "east"
    WEST = "west"
    NORTH = "north"
    SOUTH = "south"


class ZoneKind(StrEnum):
    """What a zone is for."""

    DE_ESCALATION = "de-escalation"
    RESTRICTED_OPERATIONS = "restricted-operations"
    NO_STRIKE = "no-strike"


@dataclass(frozen=True, slots=True)
class LineSpec:
    """A deconfliction line: which party operates on which side, and its buffer."""

    name: str
    positions: tuple[Position, ...]
    sides: tuple[tuple[Compass, str], ...]  # (side, party), one or two
    buffer_km: float = 0.0


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A zone: a polygon with an owner (a party, or joint) and a kind."""

    name: str
    ring: tuple[Position, ...]
    owner: str
    kind: ZoneKind


@dataclass(frozen=True, slots=True)
class PositionSpec:
    """A party's declared position: a point, or a track of (exercise seconds, point)."""

    party: str
    name: str
    track: tuple[tuple[float, Position], ...]

    def at(self, t: float) -> Position:
        """Where it is at exercise time ``t`` (moving evenly between track points)."""
        track = self.track
        if t <= track[0][0]:
            return track[0][1]
        for (t0, p0), (t1, p1) in itertools.pairwise(track):
            if t <= t1:
                share = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return (p0[0] + (p1[0] - p0[0]) * share, p0[1] + (p1[1] - p0[1]) * share)
        return track[-1][1]


@dataclass(frozen=True, slots=True)
class MapSpec:
    """The agreed map, as data."""

    lines: tuple[LineSpec, ...] = ()
    zones: tuple[ZoneSpec, ...] = ()
    positions: tuple[PositionSpec, ...] = ()

    def all_positions(self) -> list[Position]:
        """Every coordinate the map names (its extent)."""
        found = [p for line in self.lines for p in line.positions]
        found += [p for zone in self.zones for p in zone.ring]
        found += [p for spot in self.positions for _, p in spot.track]
        return found


@dataclass(frozen=True, slots=True)
class LineVerdict:
    """What a notice's area does about one line."""

    line: str
    distance_km: float  # 0 when it touches the line
    sides: tuple[str, ...]  # the parties whose side it lies on (two when it straddles)
    in_buffer: bool
    crosses: bool  # it reaches onto another party's side


@dataclass(frozen=True, slots=True)
class Near:
    """Another party's position within reach of a notice's area."""

    party: str
    position: str
    distance_km: float


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the map says of one notice (see the module doc)."""

    lines: tuple[LineVerdict, ...] = ()
    zones: tuple[str, ...] = ()  # zones entered that are not the sender's own
    near: tuple[Near, ...] = ()
    misplaced_km: float | None = None  # how far from where the activity really is
    verdicts: tuple[str, ...] = ()

    @property
    def crossing(self) -> bool:
        """Whether the area crosses a line, reaches into its buffer, or enters a zone
        that is not the sender's."""
        return bool(self.zones) or any(v.crosses or v.in_buffer for v in self.lines)

    def as_json(self) -> dict[str, Any]:
        """As a result document lists it (`geometry` of an incident)."""
        return {
            "lines": {
                v.line: {
                    "distance_km": round(v.distance_km, 3),
                    "sides": list(v.sides),
                    "in_buffer": v.in_buffer,
                    "crosses": v.crosses,
                }
                for v in self.lines
            },
            "zones": list(self.zones),
            "near": [
                {"party": n.party, "position": n.position, "distance_km": round(n.distance_km, 3)}
                for n in self.near
            ],
            "misplaced_km": None if self.misplaced_km is None else round(self.misplaced_km, 3),
            "verdicts": list(self.verdicts),
        }

    def summary(self) -> str:
        """One line for a timeline: the verdicts, or that the area is clear."""
        if not self.verdicts:
            sides = "; ".join(
                f"{v.line}: {v.distance_km:.1f} km, on {'/'.join(v.sides)}'s side"
                for v in self.lines
            )
            return f"geometry: clear ({sides})" if sides else "geometry: clear"
        return "geometry: " + ", ".join(self.verdicts)


@dataclass(slots=True)
class _Line:
    spec: LineSpec
    shape: shapely.LineString
    buffer_m: float
    #: party -> its side of the line (the shape, and prepared)
    sides: dict[str, tuple[BaseGeometry, PreparedGeometry[BaseGeometry]]] = field(
        default_factory=dict
    )


@dataclass(slots=True)
class _Zone:
    spec: ZoneSpec
    shape: shapely.Polygon
    prepared: PreparedGeometry[BaseGeometry]


class AgreedMap:
    """The map's shapes, built once, and the judgement of notices against them.

    Raises:
        ValueError: a line that does not divide the theatre in two (it doubles back on
            itself), naming the line.
    """

    def __init__(self, spec: MapSpec) -> None:
        self.spec = spec
        self.frame = Frame.around(spec.all_positions())
        self.lines = [self._line(line) for line in spec.lines]
        self.zones = []
        for zone in spec.zones:
            polygon = self.frame.polygon(zone.ring)
            self.zones.append(_Zone(zone, polygon, prep(polygon)))
        # positions in the frame once: a notice is judged against them all
        self._spots = [
            _Spot(spot, [t for t, _ in spot.track], self.frame.xy([p for _, p in spot.track]))
            for spot in spec.positions
        ]
        self._moving = any(len(spot.track) > 1 for spot in spec.positions)
        # areas and judgements already made: a run judges the same areas again and again
        # (a notice's retries and escalations, a sweep's thousands of runs)
        self._areas: dict[Where, Area] = {}
        self._judged: dict[tuple[object, ...], Judgement] = {}

    def _line(self, spec: LineSpec) -> _Line:
        frame = self.frame
        shape = frame.line(spec.positions)
        made = _Line(spec, shape, spec.buffer_km * 1000.0)
        coords = list(shape.coords)
        (x0, y0), (x1, y1) = coords[0], coords[1]
        (xa, ya), (xb, yb) = coords[-2], coords[-1]
        extended = shapely.LineString(
            [beyond((x1, y1), (x0, y0)), *coords, beyond((xa, ya), (xb, yb))]
        )
        box = shapely.box(-_REACH / 2, -_REACH / 2, _REACH / 2, _REACH / 2)
        halves = [g for g in split(box, extended).geoms if isinstance(g, shapely.Polygon)]
        if len(halves) != 2:
            raise ValueError(f"line {spec.name!r} must divide the map in two (it crosses itself)")
        for compass, party in spec.sides:
            half = _pick(halves, compass)
            made.sides[party] = (half, prep(half))
        return made

    def judge(
        self,
        where: Where,
        party: str,
        at: float,
        rules: GeometryRules,
        *,
        channel: Channel | None = None,
        lead: float | None = None,
        actual: Position | None = None,
        advance: bool = True,
    ) -> Judgement:
        """What the map says of a notice ``party`` sends about ``where``, for an
        activity at exercise time ``at``, sent on ``channel`` with ``lead`` seconds of
        notice (None: no start time given); ``actual`` is where the activity really
        is, when known. ``advance`` False: the notice is of something under way or past
        (a protest, a report), which no lead time or line rule concerns."""
        request = Request(where, party, at, rules, channel, lead, actual, advance)
        return self.judge_all([request])[0]

    def judge_all(self, requests: Sequence[Request]) -> list[Judgement]:
        """The judgements of many notices at once: GEOS and PROJ measure them all in a
        few vectorised calls (a run judges its script's notices ahead, in batches), and
        each judgement is kept, so asking again costs a look-up."""
        keys = [r.key(self._moving) for r in requests]
        wanted = {key: r for key, r in zip(keys, requests, strict=True) if key not in self._judged}
        if wanted:
            fresh = list(wanted.values())
            cache = _bounded(self._judged, len(fresh))
            for key, judged in zip(wanted, self._measure(fresh), strict=True):
                cache[key] = judged
        return [self._judged[key] for key in keys]

    def _measure(self, requests: list[Request]) -> list[Judgement]:
        frame = self.frame
        known = self._areas
        new = list(dict.fromkeys(r.where for r in requests if r.where not in known))
        if new:
            cache = _bounded(known, len(new))
            for where, area in zip(new, frame.areas(new), strict=True):
                cache[where] = area
        areas = [known.get(r.where) or self._area(r.where) for r in requests]
        cores = numpy.array([a.core for a in areas], dtype=object)
        reach = numpy.array([a.reach for a in areas])
        parties = [r.party for r in requests]
        lines: list[list[LineVerdict]] = [[] for _ in requests]
        for line in self.lines:
            metres = shapely.distance(cores, line.shape)
            touching = metres <= reach
            km = numpy.zeros(len(requests))
            apart = numpy.flatnonzero(~touching)
            if apart.size:
                km[apart] = frame.geodesic_km(shapely.shortest_line(cores[apart], line.shape))
                km[apart] = numpy.maximum(0.0, km[apart] - reach[apart] / 1000.0)
            sides = {
                owner: shapely.distance(cores, half) <= reach
                for owner, (half, _) in line.sides.items()
            }
            in_buffer = (line.buffer_m > 0) & (metres <= line.buffer_m + reach)
            for n, party in enumerate(parties):
                on = tuple(owner for owner, touched in sides.items() if touched[n])
                crosses = bool(on) and (
                    (party in line.sides and on != (party,))
                    or (party not in line.sides and len(on) > 1)
                )
                lines[n].append(
                    LineVerdict(line.spec.name, float(km[n]), on, bool(in_buffer[n]), crosses)
                )
        entered: list[list[str]] = [[] for _ in requests]
        for zone in self.zones:
            touched = shapely.distance(cores, zone.shape) <= reach
            for n in numpy.flatnonzero(touched).tolist():
                if zone.spec.owner != parties[n]:
                    entered[n].append(zone.spec.name)
        near = self._near_all(requests, cores, reach)
        return [
            _verdicts(r, tuple(lines[n]), tuple(entered[n]), near[n], self._misplaced(r))
            for n, r in enumerate(requests)
        ]

    def _near_all(
        self,
        requests: list[Request],
        cores: numpy.ndarray[Any, Any],
        reach: numpy.ndarray[Any, Any],
    ) -> list[tuple[Near, ...]]:
        """Other parties' positions within each request's reach (``near_km``)."""
        found: list[list[Near]] = [[] for _ in requests]
        limits = numpy.array([(r.rules.near_km or -1.0) * 1000.0 for r in requests])
        for spot in self._spots:
            if spot.fixed is not None:
                points = numpy.full(len(requests), spot.fixed, dtype=object)
            else:
                points = numpy.array([spot.at(r.at) for r in requests], dtype=object)
            # the frame's metres are within a fraction of a percent of the ellipsoid's
            # here: only what could be within reach is measured on the ellipsoid
            metres = shapely.distance(cores, points) - reach
            close = numpy.flatnonzero((metres <= limits * 1.01) & (limits >= 0))
            close = numpy.array(
                [n for n in close if requests[n].party != spot.spec.party], dtype=int
            )
            if not close.size:
                continue
            km = self.frame.geodesic_km(shapely.shortest_line(cores[close], points[close]))
            km = numpy.maximum(0.0, km - reach[close] / 1000.0)
            for n, distance in zip(close, km, strict=True):
                if distance * 1000.0 <= limits[n]:
                    found[n].append(Near(spot.spec.party, spot.spec.name, float(distance)))
        return [tuple(each) for each in found]

    def line_shapes(self) -> list[tuple[LineSpec, shapely.LineString, dict[str, BaseGeometry]]]:
        """Each line in the frame, with each party's side of it: the half of the theatre
        the judgement gives that party (for drawing: a side drawn is a side judged)."""
        return [
            (line.spec, line.shape, {party: half for party, (half, _) in line.sides.items()})
            for line in self.lines
        ]

    def zone_shapes(self) -> list[tuple[ZoneSpec, shapely.Polygon]]:
        """Each zone in the frame."""
        return [(zone.spec, zone.shape) for zone in self.zones]

    def area(self, where: Where) -> BaseGeometry:
        """A notice's area in the map's frame, as one shape (for drawing)."""
        return self._area(where).shape()

    def _area(self, where: Where) -> Area:
        """A notice's area in the map's frame (made once per area)."""
        found = self._areas.get(where)
        if found is None:
            found = _bounded(self._areas)[where] = self.frame.area(where)
        return found

    def _misplaced(self, request: Request) -> float | None:
        if request.actual is None:
            return None
        return self.misplaced_km(request.where, request.actual)

    def distance_to_positions(self, where: Where, party: str, at: float) -> float | None:
        """How near ``where`` comes to ``party``'s own positions at ``at`` (km), or None
        when the party declared none."""
        area = self._area(where)
        distances = [
            self.frame.distance_km(area, spot.at(at))
            for spot in self._spots
            if spot.spec.party == party
        ]
        return min(distances) if distances else None

    def zone_of(self, where: Where, party: str) -> str | None:
        """The first zone ``where`` enters that ``party`` owns, or that is joint."""
        area = self._area(where)
        for zone in self.zones:
            if zone.spec.owner in (party, JOINT) and area.touches(zone.shape, zone.prepared):
                return zone.spec.name
        return None

    def misplaced_km(self, where: Where, actual: Position) -> float:
        """How far the notice's area is from where the activity really is (km)."""
        return self.frame.distance_km(self._area(where), self.frame.point(actual))


class Request(NamedTuple):
    """A notice to judge (see `AgreedMap.judge`)."""

    where: Where
    party: str
    at: float
    rules: GeometryRules
    channel: Channel | None = None
    lead: float | None = None
    actual: Position | None = None
    advance: bool = True

    def key(self, moving: bool) -> tuple[object, ...]:
        """What the judgement depends on (the time only when positions move)."""
        return self._replace(at=self.at if moving else 0.0)


def _verdicts(
    request: Request,
    lines: tuple[LineVerdict, ...],
    zones: tuple[str, ...],
    near: tuple[Near, ...],
    misplaced: float | None,
) -> Judgement:
    """What the measurements come to under doctrine's rules."""
    rules = request.rules
    verdicts = [f"crosses-line:{v.line}" for v in lines if v.crosses]
    verdicts += [f"in-buffer:{v.line}" for v in lines if v.in_buffer and not v.crosses]
    verdicts += [f"enters-zone:{name}" for name in zones]
    verdicts += [f"near-forces:{n.party}:{n.position}" for n in near]
    if misplaced is not None and rules.misplaced_km is not None and misplaced > rules.misplaced_km:
        verdicts.append(f"misplaced:{misplaced:.1f}km")
    judged = Judgement(lines, zones, near, misplaced)
    if request.advance and judged.crossing:
        lead, channel, wanted = request.lead, request.channel, rules.crossing_line
        if rules.crossing_lead is not None and (lead is None or lead < rules.crossing_lead):
            verdicts.append("short-notice-for-crossing")
        if wanted is not None and channel is not None and _below(channel, wanted):
            verdicts.append(f"needs-line:{wanted}")
    return Judgement(lines, zones, near, misplaced, tuple(verdicts))


#: how many areas and judgements a map keeps before it starts afresh
_KEPT: Final = 10_000


def _bounded(cache: dict[Any, Any], coming: int = 1) -> dict[Any, Any]:
    """``cache``, emptied first when ``coming`` more would overfill it (a run with
    endless distinct areas keeps a bounded memory)."""
    if len(cache) + coming > _KEPT:
        cache.clear()
    return cache


class _Spot:
    """A declared position in the frame: its track's times and points (one point for a
    fixed position, made once: a GEOS point costs more to make than to measure)."""

    __slots__ = ("fixed", "points", "spec", "times")

    def __init__(
        self, spec: PositionSpec, times: list[float], points: list[tuple[float, float]]
    ) -> None:
        self.spec, self.times, self.points = spec, times, points
        self.fixed = shapely.Point(points[0]) if len(points) == 1 else None

    def at(self, t: float) -> shapely.Point:
        """Where it is at exercise time ``t``: moving evenly between its track's points."""
        if self.fixed is not None:
            return self.fixed
        times, points = self.times, self.points
        if t <= times[0]:
            return shapely.Point(points[0])
        for (t0, (x0, y0)), (t1, (x1, y1)) in itertools.pairwise(zip(times, points, strict=True)):
            if t <= t1:
                share = (t - t0) / (t1 - t0)
                return shapely.Point(x0 + (x1 - x0) * share, y0 + (y1 - y0) * share)
        return shapely.Point(points[-1])


def beyond(a: Sequence[float], b: Sequence[float], reach: float = _REACH) -> tuple[float, float]:
    """A point ``reach`` metres past ``b`` on the ray from ``a`` through ``b`` (a line is
    carried on past its ends, in the frame)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    return b[0] + dx / length * reach, b[1] + dy / length * reach


def _pick(halves: list[shapely.Polygon], compass: Compass) -> BaseGeometry:
    """The half of the theatre that lies to ``compass``."""
    if compass in (Compass.EAST, Compass.WEST):
        keyed = sorted(halves, key=lambda h: h.centroid.x)
    else:
        keyed = sorted(halves, key=lambda h: h.centroid.y)
    return keyed[-1] if compass in (Compass.EAST, Compass.NORTH) else keyed[0]


def _below(channel: Channel, wanted: Channel) -> bool:
    """Whether ``channel`` is a lower line than ``wanted``: the general officers' is
    the top of every ladder, and air and ground are lines of their own."""
    return channel is not wanted and channel is not Channel.GENERAL_OFFICER


_BUILT: dict[MapSpec, AgreedMap] = {}


def agreed_map(spec: MapSpec) -> AgreedMap:
    """The map's shapes for ``spec``, built once per process (a sweep runs thousands of
    runs of one scenario)."""
    found = _BUILT.get(spec)
    if found is None:
        found = _BUILT[spec] = AgreedMap(spec)
    return found


def verdict_codes() -> Mapping[str, str]:
    """Every verdict code the judgement gives, and what it means (for docs)."""
    return {
        "crosses-line:LINE": "the area reaches across the line onto another party's side",
        "in-buffer:LINE": "the area reaches into the line's buffer",
        "enters-zone:ZONE": "the area enters a zone that is not the sender's (joint included)",
        "near-forces:PARTY:POSITION": "another party's declared position is within near_km",
        "short-notice-for-crossing": "a crossing or entry with less lead time than crossing_lead",
        "needs-line:LINE": "a crossing or entry sent on a lower line than crossing_line",
        "misplaced:Nkm": "the notice's area is N km from where the activity really is",
    }
