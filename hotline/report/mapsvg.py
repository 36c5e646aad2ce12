"""The agreed map of an exercise, drawn: lines, zones, positions and each notice's area.

Theory of operation. Everything is projected with the map's own frame
(`hotline.geo.frame`: azimuthal equidistant, centred on the map), the one the
judgement measures in, so what is drawn is what was judged: a circle is the frame's
buffer of its centre (`AgreedMap.area`), a corridor the buffer of its route, and the
sides of a line the halves of the theatre it splits, split here as the judgement
splits them. One scale holds both ways and distances read true by the scale bar (to a
fraction of a percent across a theatre a few hundred kilometres wide); north is up at
the centre, and the faint graticule shows the meridians leaning by a degree or less
towards the edges.

`map_svg` draws the whole exercise: every notice's area coloured by its incident's
outcome (`OUTCOME_COLOURS`, as the report's charts colour them) and labelled with the
incident id, each event's ``actual`` (where the activity really was) as a cross tied to
its notice with the distance. `panel_svg` draws one moment of the small multiples that
`time_panels` lays out: positions where they were then, the notices sent up to then.

Every text is monospace (`MONO`), its width known before a browser draws it
(`text_width`): labels are placed by `_Labels`, which keeps each inside the picture,
clear of the others and of every marker and, where it can, off lines and outlines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, Final

import shapely
from shapely.affinity import affine_transform
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, polylabel
from shapely.prepared import PreparedGeometry, prep

from hotline.core.where import Shape, Where
from hotline.geo.agreed import (
    JOINT,
    AgreedMap,
    LineSpec,
    PositionSpec,
    ZoneKind,
    ZoneSpec,
    beyond,
)
from hotline.geo.frame import Position
from hotline.report.svg import MONO, OUTCOME_COLOURS, TICKS, boxed, text_width
from hotline.sim.durations import format_clock
from hotline.sim.model import NOTICE_ACTIONS, Scenario

#: a colour per party, in the scenario's order: none of them an outcome's colour, since
#: parties' positions and sides lie among notices coloured by outcome
PARTY_COLOURS: Final = ("#00798c", "#8e5b2c", "#6a4c93", "#b5179e", "#3d5a80", "#5f6b2f")
JOINT_COLOUR: Final = "#4d4d4d"
#: each kind of zone: its colour and the angles of its hatching (two: cross-hatched);
#: hues no outcome has, so that no zone reads as a notice
ZONE_STYLES: Final[Mapping[ZoneKind, tuple[str, tuple[int, ...]]]] = {
    ZoneKind.DE_ESCALATION: ("#4f7a8a", (45,)),
    ZoneKind.RESTRICTED_OPERATIONS: ("#8b5a83", (45, -45)),
    ZoneKind.NO_STRIKE: ("#7a1f3d", (-45,)),
}
LINE_COLOUR: Final = "#2b2b2b"
BUFFER_COLOUR: Final = "#7f8c99"
ACTUAL_COLOUR: Final = "#222222"

#: the most panels the small multiples draw: beyond it, notices are grouped by time
MAX_PANELS: Final = 12
MAP_WIDTH: Final = 740
WIDE_MAP: Final = (1130, 760)  # width and most height of a map with its list under it
PANEL_WIDTH: Final = 280
_MIN_SPAN: Final = 6_000.0  # metres: a map of one point still shows its surroundings
_SIZE, _SMALL, _TINY = 11, 10, 9  # px of labels, of secondary text, of panels' text
_STRIP = 40  # px under the main map: its scale bar and north arrow
_PANEL_HEAD, _PANEL_FOOT = 34, 24
_MARKER = 5.0  # half the side of a position's square
_FADED_NAMED = 4  # a panel names its earlier notices while there are no more than this

Box = tuple[float, float, float, float]  # px: left, top, right, bottom


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice with an area, and what became of its incident."""

    incident: str
    kind: str  # notify, protest, report, relay
    at: float  # when it was sent (exercise seconds)
    where: Where
    party: str  # the sender's
    outcome: str
    verdicts: tuple[str, ...] = ()
    actual: Position | None = None
    activity: str = ""
    originator: str = ""  # the sending station
    starts_in: float | None = None  # when the activity starts, after the notice
    lasts: float | None = None
    geometry: Mapping[str, Any] | None = None  # the result's judgement of it

    @property
    def colour(self) -> str:
        """Its outcome's colour."""
        return OUTCOME_COLOURS.get(self.outcome, "#555555")


def notices_of(scenario: Scenario, result: Mapping[str, Any]) -> list[Notice]:
    """Every notice of ``scenario`` with an area, joined to its incident in ``result``."""
    incidents = {i["id"]: i for i in result.get("incidents", [])}
    stations = scenario.stations()
    found = []
    for event in scenario.events:
        place = event.located()
        if event.action not in NOTICE_ACTIONS or place is None:
            continue
        record = incidents.get(event.incident, {})
        party = event.party or stations.get(event.originator, ("", frozenset()))[0]
        found.append(
            Notice(
                incident=event.incident,
                kind=event.kind.value,
                at=event.at,
                where=place,
                party=party,
                outcome=record.get("outcome", "open"),
                verdicts=tuple(record.get("geometry", {}).get("verdicts", ())),
                actual=event.actual,
                activity=event.activity,
                originator=event.originator,
                starts_in=event.starts_in,
                lasts=event.lasts,
                geometry=record.get("geometry"),
            )
        )
    return found


def party_colours(parties: Iterable[str], amap: AgreedMap) -> dict[str, str]:
    """A colour for each party: the scenario's first, in its order, then any other the
    map names; ``joint`` is grey."""
    named = list(dict.fromkeys(parties))
    named += [party for line in amap.spec.lines for _, party in line.sides]
    named += [zone.owner for zone in amap.spec.zones] + [s.party for s in amap.spec.positions]
    colours = {JOINT: JOINT_COLOUR}
    for party in dict.fromkeys(named):
        if party not in colours:
            colours[party] = PARTY_COLOURS[(len(colours) - 1) % len(PARTY_COLOURS)]
    return colours


def describe(where: Where) -> str:
    """A notice's area in words."""
    if where.shape is Shape.POINT:
        return f"point at {degrees(where.positions[0])}"
    if where.shape is Shape.CIRCLE:
        assert where.radius_m is not None  # a circle has one (Where checks)
        return f"circle of {_km(where.radius_m)} radius around {degrees(where.positions[0])}"
    if where.shape is Shape.POLYGON:
        return f"polygon of {len(where.positions) - 1} corners"
    corridor = f", a {_km(where.width_m)} corridor" if where.width_m else ""
    return f"route of {len(where.positions)} points{corridor}"


def _km(metres: float) -> str:
    return f"{metres / 1000:g} km"


def degrees(position: Position) -> str:
    """A position as people read it: latitude first, then longitude."""
    lon, lat = position
    return f"{abs(lat):.3f}{'N' if lat >= 0 else 'S'} {abs(lon):.3f}{'E' if lon >= 0 else 'W'}"


# -- the map's shapes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    spec: LineSpec
    shape: shapely.LineString
    band: BaseGeometry | None  # its buffer
    sides: Mapping[str, BaseGeometry]  # party -> the half of the theatre it operates in


@dataclass(frozen=True, slots=True)
class _Theatre:
    """The map's shapes in its frame, as the judgement has them (`AgreedMap`)."""

    lines: tuple[_Line, ...]
    zones: tuple[tuple[ZoneSpec, shapely.Polygon], ...]


def _theatre(amap: AgreedMap) -> _Theatre:
    lines = []
    for spec, shape, sides in amap.line_shapes():
        band = shape.buffer(spec.buffer_km * 1000.0) if spec.buffer_km > 0 else None
        lines.append(_Line(spec, shape, band, sides))
    return _Theatre(tuple(lines), tuple(amap.zone_shapes()))


# -- projection -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class View:
    """Where the frame's metres land in a picture: north up, one scale both ways."""

    west: float  # frame x at the map's left edge (metres)
    north: float  # frame y at its top edge
    scale: float  # px per metre
    left: float  # px of the map's left edge in the picture
    top: float
    width: float  # px
    height: float

    def px(self, x: float, y: float) -> tuple[float, float]:
        """A point of the frame in the picture."""
        return self.left + (x - self.west) * self.scale, self.top + (self.north - y) * self.scale

    def metres(self, px: float, py: float) -> tuple[float, float]:
        """A point of the picture in the frame."""
        return self.west + (px - self.left) / self.scale, self.north - (py - self.top) / self.scale

    def in_px(self, geometry: BaseGeometry) -> BaseGeometry:
        """A shape of the frame in the picture."""
        s = self.scale
        return affine_transform(
            geometry, [s, 0.0, 0.0, -s, self.left - self.west * s, self.top + self.north * s]
        )

    @property
    def bounds(self) -> Box:
        """The map's rectangle in the picture."""
        return (self.left, self.top, self.left + self.width, self.top + self.height)

    @property
    def box(self) -> shapely.Polygon:
        """The map's rectangle in the frame: what is drawn is clipped to it."""
        return shapely.box(
            self.west,
            self.north - self.height / self.scale,
            self.west + self.width / self.scale,
            self.north,
        )


def map_extent(amap: AgreedMap, notices: Sequence[Notice]) -> Box:
    """What the pictures show, in the frame (metres: west, south, east, north): every
    feature of the map and every notice's area, with a margin."""
    theatre = _theatre(amap)
    shapes: list[BaseGeometry] = [line.band or line.shape for line in theatre.lines]
    shapes += [zone for _, zone in theatre.zones]
    shapes += [amap.area(notice.where) for notice in notices]
    points = [p for spot in amap.spec.positions for _, p in spot.track]
    points += [notice.actual for notice in notices if notice.actual is not None]
    shapes += [shapely.Point(xy) for xy in amap.frame.xy(points)] if points else []
    if not shapes:
        return (-_MIN_SPAN / 2, -_MIN_SPAN / 2, _MIN_SPAN / 2, _MIN_SPAN / 2)
    west, south, east, north = shapely.GeometryCollection(shapes).bounds
    span = max(east - west, north - south, _MIN_SPAN)
    margin = max(span * 0.08, 1_000.0)
    middle_x, middle_y = (west + east) / 2, (south + north) / 2
    half_x = max(east - west, _MIN_SPAN) / 2 + margin
    half_y = max(north - south, _MIN_SPAN) / 2 + margin
    return (middle_x - half_x, middle_y - half_y, middle_x + half_x, middle_y + half_y)


def fit(extent: Box, width: float, *, top: float = 0.0, height: float | None = None) -> View:
    """A view of ``extent`` ``width`` px wide and at most ``height`` high (default: as
    high as wide), and at least 0.55 of the smaller of the two: the narrower way is
    widened about the middle, so a long thin theatre still reads."""
    west, south, east, north = extent
    across, down = east - west, north - south
    highest = width if height is None else height
    down = max(down, across * 0.55 * min(1.0, highest / width))  # not too thin...
    across = max(across, down * width / highest)  # ...nor too high
    middle_x, middle_y = (west + east) / 2, (south + north) / 2
    scale = width / across
    return View(middle_x - across / 2, middle_y + down / 2, scale, 0.0, top, width, down * scale)


def _path(geometry: BaseGeometry, view: View) -> str:
    """SVG path data of a line or polygon (each ring closed), in the picture."""
    if geometry.is_empty:
        return ""
    if isinstance(geometry, shapely.Polygon):
        rings = (geometry.exterior, *geometry.interiors)
        return "".join(_coords(ring.coords, view) + "Z" for ring in rings)
    if isinstance(geometry, shapely.LineString):
        return _coords(geometry.coords, view)
    if isinstance(
        geometry, shapely.MultiPolygon | shapely.MultiLineString | shapely.GeometryCollection
    ):
        return "".join(_path(part, view) for part in geometry.geoms)
    return ""  # a point: drawn as a marker


def _coords(coords: Iterable[Sequence[float]], view: View) -> str:
    points = [view.px(c[0], c[1]) for c in coords]
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points)


# -- labels -----------------------------------------------------------------------------


def _label_box(left: float, top: float, text: str, size: int) -> Box:
    """The box a label drawn from (``left``, ``top``) covers, its pale backing included
    (as `boxed` draws it)."""
    return (left, top, left + text_width(text, size) + 4, top + 1.1 * size)


def _overlap(a: Box, b: Box) -> float:
    across = min(a[2], b[2]) - max(a[0], b[0])
    down = min(a[3], b[3]) - max(a[1], b[1])
    return across * down if across > 0 and down > 0 else 0.0


#: what a label crossing a line or an outline costs, in px of distance from its shape:
#: it goes a little further to keep clear, not far
_CROSSING: Final = 40.0


@dataclass(slots=True)
class _Labels:
    """Labels placed so far in one picture, the markers they must keep clear of, and
    the lines and outlines they had rather not cross (all in px)."""

    bounds: Box
    taken: list[Box] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    lines: list[BaseGeometry] = field(default_factory=list)
    _lines: PreparedGeometry[BaseGeometry] | None = None

    def block(self, box: Box) -> None:
        self.taken.append(box)

    def avoid(self, geometry: BaseGeometry) -> None:
        if not geometry.is_empty:
            self.lines.append(geometry)
            self._lines = None

    def _inside(self, box: Box) -> Box:
        """``box`` moved into the picture (it always fits: labels are short)."""
        left, top, right, bottom = box
        shift_x = max(self.bounds[0] + 1 - left, min(0.0, self.bounds[2] - 1 - right))
        shift_y = max(self.bounds[1] + 1 - top, min(0.0, self.bounds[3] - 1 - bottom))
        return (left + shift_x, top + shift_y, right + shift_x, bottom + shift_y)

    def crosses(self, box: Box) -> bool:
        """Whether ``box`` crosses a line or outline labels keep off."""
        if not self.lines:
            return False
        if self._lines is None:
            self._lines = prep(shapely.GeometryCollection(self.lines))
        return bool(self._lines.intersects(shapely.box(*box)))

    def place(
        self,
        text: str,
        size: int,
        around: Box,
        *,
        extra: str,
        title: str | None = None,
        centred: bool = False,
        required: bool = True,
        fits: Callable[[Box], bool] | None = None,
        leader: float | None = 20.0,
        colour: str = "#888888",
        target: BaseGeometry | None = None,
    ) -> Box | None:
        """Draw ``text`` by ``around`` (a shape's box): on it when ``centred``, else
        beside, above or below it, at the place that is nearest, clear of every other
        label and marker and, where it can be, of lines (and that ``fits``, when
        given). When no place is clear, the one that overlaps least, if ``required``;
        else nothing is drawn. A label placed ``leader`` px or more from its shape is
        tied to it by a thin line of ``colour`` (None: never), to the nearest point of
        ``target`` (the shape in px), or of ``around``."""
        width, height = text_width(text, size) + 4, 1.1 * size
        ax0, ay0, ax1, ay1 = around
        across, down = (ax0 + ax1) / 2 - width / 2, (ay0 + ay1) / 2 - height / 2
        spots: list[tuple[float, float, float]] = []  # left, top, how far from the shape
        if centred:
            spots.append((across, down, 0.0))
        for gap in (3.0, 10.0, 20.0, 34.0, 52.0, 76.0):
            slant = gap * 0.7
            spots += [
                (ax1 + gap, down, gap),
                (ax0 - gap - width, down, gap),
                (across, ay0 - gap - height, gap),
                (across, ay1 + gap, gap),
                (ax1 + slant, ay0 - slant - height, gap),
                (ax1 + slant, ay1 + slant, gap),
                (ax0 - slant - width, ay0 - slant - height, gap),
                (ax0 - slant - width, ay1 + slant, gap),
            ]
        best: tuple[float, float, Box] | None = None  # overlap, cost, box
        for left, top, gap in spots:
            box = self._inside((left, top, left + width, top + height))
            if fits is not None and not fits(box):
                continue
            clash = sum(_overlap(box, other) for other in self.taken)
            cost = gap + (_CROSSING if self.crosses(box) else 0.0)
            if best is None or (clash, cost) < best[:2]:
                best = (clash, cost, box)
        if best is None or (best[0] > 0 and not required):
            return None
        box = best[2]
        self.taken.append(box)
        shape = target if target is not None and not target.is_empty else shapely.box(*around)
        if leader is not None and shapely.box(*box).distance(shape) >= leader:
            self.parts.append(_leader(box, shape, colour))
        label = boxed(box[0] + 2, box[1] + 0.85 * size, text, size, anchor="start", extra=extra)
        self.parts.append(
            label if title is None else f"<g><title>{escape(title)}</title>{label}</g>"
        )
        return box


def _leader(box: Box, target: BaseGeometry, colour: str) -> str:
    """A thin line from a label to the nearest point of its shape."""
    start, end = nearest_points(shapely.box(*box), target)
    return (
        f'<line x1="{start.x:.1f}" y1="{start.y:.1f}" x2="{end.x:.1f}" y2="{end.y:.1f}" '
        f'stroke="{colour}" stroke-width="1" class="leader"/>'
    )


def _around(x: float, y: float, half: float) -> Box:
    return (x - half, y - half, x + half, y + half)


# -- the pictures -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Style:
    """What one picture writes: the main map labels everything; a panel is smaller."""

    size: int = _SIZE
    small: int = _SMALL
    compact: bool = False


_MAIN: Final = _Style()
_PANEL: Final = _Style(_SMALL, _TINY, compact=True)


@dataclass(slots=True)
class _Canvas:
    """One picture being drawn: its view of the map, and its labels so far."""

    view: View
    amap: AgreedMap
    colours: Mapping[str, str]
    style: _Style
    ident: str  # what its ids start with: every picture of a report shares one page
    labels: _Labels = field(init=False)
    clip: BaseGeometry = field(init=False)
    theatre: _Theatre = field(init=False)

    def __post_init__(self) -> None:
        self.labels = _Labels(self.view.bounds)
        self.clip = self.view.box
        self.theatre = _theatre(self.amap)

    def px(self, position: Position) -> tuple[float, float]:
        """A position (longitude, latitude) in the picture."""
        return self.view.px(*self.amap.frame.xy([position])[0])

    def path(self, geometry: BaseGeometry) -> str:
        """SVG path data of ``geometry`` (of the frame), clipped to the map."""
        return _path(geometry.intersection(self.clip), self.view)

    def avoid(self, geometry: BaseGeometry) -> None:
        """Have labels keep off ``geometry`` (of the frame) where they can."""
        self.labels.avoid(self.view.in_px(geometry.intersection(self.clip)))


def map_svg(
    amap: AgreedMap,
    notices: Sequence[Notice],
    parties: Iterable[str],
    extent: Box,
    *,
    ident: str = "map",
    width: float = MAP_WIDTH,
    height: float | None = None,
) -> str:
    """The agreed map and every notice's area (see the module doc), ``width`` px wide
    (with a ``height``, only as wide as the theatre needs, and no less than `MAP_WIDTH`)
    and at most ``height`` high (default: as wide); under it a scale bar in km and the
    north arrow."""
    if height is not None:  # no wider than the theatre needs at that height
        west, south, east, north = extent
        width = min(width, max(MAP_WIDTH, height * (east - west) / (north - south)))
    view = fit(extent, width, height=height)
    canvas = _Canvas(view, amap, party_colours(parties, amap), _MAIN, ident)
    body, edges = _graticule(canvas)
    body += _features(canvas, notices, at=None)
    for text, x, baseline in edges:  # the least of the labels: where there is room
        _edge_label(canvas.labels, text, x, baseline)
    bottom = view.top + view.height
    return _svg(
        ident,
        amap,
        width,
        bottom + _STRIP,
        kind="map",
        body=[
            *body,
            *canvas.labels.parts,
            _edge(view),
            _scale(view, bottom + 22, _MAIN),
            _north(width - 18, bottom + 8, _MAIN),
        ],
    )


@dataclass(frozen=True, slots=True)
class Panel:
    """One of the small multiples: the notices sent from ``first`` to ``last``
    (exercise seconds), and positions where they were at ``last``."""

    first: float
    last: float
    new: tuple[str, ...]  # the incidents whose notices it adds
    step: float | None = None  # the span of time it stands for, when it groups notices

    @property
    def heading(self) -> str:
        """Its time, or the span of time it stands for."""
        if self.step is None:
            return f"at {format_clock(self.last)}"
        return f"{format_clock(self.first)} to {format_clock(self.first + self.step)}"


def time_panels(notices: Sequence[Notice], cap: int = MAX_PANELS) -> list[Panel]:
    """The small multiples: one panel per time a notice was sent or, when there are more
    than ``cap`` times, per span of time (a minute, or the shortest of the time axes'
    intervals that needs at most ``cap`` panels), for each span a notice was sent in."""
    times = sorted({notice.at for notice in notices})
    if len(times) <= cap:
        return [Panel(t, t, tuple(n.incident for n in notices if n.at == t)) for t in times]
    steps = [float(s) for s in TICKS if s >= 60]
    step = steps[0]
    while len({math.floor(t / step) for t in times}) > cap:
        step = steps.pop(0) if steps else step * 2
    found = []
    for span in sorted({math.floor(t / step) for t in times}):
        inside = [n for n in notices if math.floor(n.at / step) == span]
        found.append(
            Panel(
                span * step,
                max(n.at for n in inside),
                tuple(dict.fromkeys(n.incident for n in inside)),
                step,
            )
        )
    return found


def panel_svg(
    amap: AgreedMap,
    notices: Sequence[Notice],
    parties: Iterable[str],
    extent: Box,
    panel: Panel,
    *,
    ident: str,
    width: float = PANEL_WIDTH,
) -> str:
    """One moment of the exercise: positions where they were at the panel's time, the
    notices sent up to then (those it adds drawn full and labelled, the earlier faded)."""
    view = fit(extent, width, top=_PANEL_HEAD)
    canvas = _Canvas(view, amap, party_colours(parties, amap), _PANEL, ident)
    shown = [n for n in notices if n.at <= panel.last]
    earlier = len([n for n in shown if n.incident not in panel.new])
    added = len(shown) - earlier
    note = f"{added} new notice{'s' * (added != 1)}"
    note += f", {earlier} earlier (faded)" if earlier else ""
    body = _features(canvas, shown, at=panel.last, new=set(panel.new))
    bottom = view.top + view.height
    return _svg(
        ident,
        amap,
        width,
        bottom + _PANEL_FOOT,
        kind="panel",
        body=[
            f'<text x="4" y="14" font-size="{_SIZE}" font-weight="bold" class="heading">'
            f"{escape(panel.heading)}</text>",
            f'<text x="4" y="28" font-size="{_TINY}" fill="#555" class="heading">'
            f"{escape(note)}</text>",
            *body,
            *canvas.labels.parts,
            _edge(view),
            _scale(view, bottom + 14, _PANEL),
        ],
    )


def _svg(
    ident: str, amap: AgreedMap, width: float, height: float, *, kind: str, body: list[str]
) -> str:
    """A picture: its zones' hatching defined under ``ident`` (ids are unique in a page,
    which every picture of a report shares)."""
    wide, high = math.ceil(width), math.ceil(height)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{wide}" height="{high}" '
            f'viewBox="0 0 {wide} {high}" class="{kind}" role="img" font-family="{MONO}">',
            _defs(ident, amap),
            *body,
            "</svg>",
        ]
    )


def _defs(ident: str, amap: AgreedMap) -> str:
    kinds = dict.fromkeys(zone.kind for zone in amap.spec.zones)
    return "<defs>" + "".join(_hatch(f"{ident}-{kind.value}", kind) for kind in kinds) + "</defs>"


def _hatch(name: str, kind: ZoneKind) -> str:
    """A zone's fill: a faint tint under lines at the kind's angle (crossed, for two)."""
    colour, angles = ZONE_STYLES[kind]
    stroke = f'stroke="{colour}" stroke-width="1.2" stroke-opacity="0.55"'
    strokes = f'<line x1="4" y1="0" x2="4" y2="8" {stroke}/>'
    if len(angles) > 1:  # the tile is turned by the first angle: the second is square to it
        strokes += f'<line x1="0" y1="4" x2="8" y2="4" {stroke}/>'
    return (
        f'<pattern id="{name}" width="8" height="8" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate({angles[0]})">'
        f'<rect width="8" height="8" fill="{colour}" fill-opacity="0.08"/>{strokes}</pattern>'
    )


def _edge(view: View) -> str:
    left, top, right, bottom = view.bounds
    return (
        f'<rect x="{left + 0.5:.1f}" y="{top + 0.5:.1f}" width="{right - left - 1:.1f}" '
        f'height="{bottom - top - 1:.1f}" fill="none" stroke="#999" class="edge"/>'
    )


def _features(
    canvas: _Canvas, notices: Sequence[Notice], *, at: float | None, new: set[str] | None = None
) -> list[str]:
    """Zones, lines, notices' areas, tracks and positions, from the bottom up; their
    labels go to ``canvas.labels``, drawn over everything, the notices' first. ``at``:
    positions where they were then (None: each track with where it was at each
    notice's time); ``new``: the incidents drawn full and labelled (None: all)."""
    amap = canvas.amap
    fresh = [n for n in notices if new is None or n.incident in new]
    faded = [n for n in notices if new is not None and n.incident not in new]
    theatre = canvas.theatre
    parts = [_zone(canvas, spec, shape) for spec, shape in theatre.zones]
    parts += [_line(canvas, line) for line in theatre.lines]
    parts += [_area(canvas, notice, faded=True) for notice in faded]
    parts += [_area(canvas, notice, faded=False) for notice in fresh]
    parts += [_actual(canvas, notice) for notice in fresh]
    parts += [_position(canvas, spot, notices, at) for spot in amap.spec.positions]
    for line in theatre.lines:
        canvas.avoid(shapely.MultiLineString([line.shape, *_carried(canvas.view, line.shape)]))
    for notice in notices:
        area = amap.area(notice.where)
        canvas.avoid(area if isinstance(area, shapely.LineString) else area.boundary)
    for spot in amap.spec.positions:
        if len(spot.track) > 1:
            canvas.avoid(amap.frame.line([p for _, p in spot.track]))
    for notice in fresh:
        _notice_label(canvas, notice)
    for notice in fresh:
        _actual_label(canvas, notice)
    if len(faded) <= _FADED_NAMED:
        for notice in faded:
            _notice_label(canvas, notice, faded=True)
    for spot in amap.spec.positions:
        _position_label(canvas, spot, at)
    for line in theatre.lines:
        _line_labels(canvas, line)
    for spec, shape in theatre.zones:
        _zone_label(canvas, spec, shape)
    if at is None and len(notices) <= 8:  # a track's times at each notice, when few
        for spot in amap.spec.positions:
            _track_times(canvas, spot, notices)
    return parts


def _zone(canvas: _Canvas, spec: ZoneSpec, shape: BaseGeometry) -> str:
    colour = ZONE_STYLES[spec.kind][0]
    owner = "joint" if spec.owner == JOINT else f"{spec.owner}'s"
    title = f"zone {spec.name}: {spec.kind.value}, {owner}"
    return (
        f'<g class="zone" data-zone="{escape(spec.name)}" data-kind="{spec.kind.value}">'
        f"<title>{escape(title)}</title>"
        f'<path d="{canvas.path(shape)}" fill="url(#{canvas.ident}-{spec.kind.value})" '
        f'stroke="{colour}" stroke-width="1.4" fill-rule="evenodd"/></g>'
    )


def _zone_label(canvas: _Canvas, spec: ZoneSpec, shape: BaseGeometry) -> None:
    """The zone's name (with its kind and owner on the main map) inside its widest
    part or, when it does not fit there, beside it on the main map only: a panel has
    no room, and its main map names it."""
    seen = shape.intersection(canvas.clip)
    if seen.is_empty:
        return
    biggest = max(getattr(seen, "geoms", [seen]), key=lambda part: part.area)
    inner = polylabel(biggest, tolerance=max(biggest.length / 200, 1.0))
    x, y = canvas.view.px(inner.x, inner.y)
    owner = "joint" if spec.owner == JOINT else spec.owner
    compact = canvas.style.compact
    drawn = prep(canvas.view.in_px(biggest))
    text = spec.name if compact else f"{spec.name} ({spec.kind.value}, {owner})"
    extra = f'fill="{_darker(ZONE_STYLES[spec.kind][0])}" class="zone-label"'
    placed = None
    for inside in dict.fromkeys((text, spec.name)):  # the name alone, if all will not fit
        placed = canvas.labels.place(
            inside,
            canvas.style.small,
            _around(x, y, 2),
            extra=extra,
            title=f"zone {spec.name}: {spec.kind.value}, {owner}",
            centred=True,
            required=False,
            fits=lambda box: bool(drawn.contains(shapely.box(*box))),
        )
        if placed is not None:
            break
    if placed is None and not compact:
        west, south, east, north = seen.bounds
        (x0, y0), (x1, y1) = canvas.view.px(west, north), canvas.view.px(east, south)
        canvas.labels.place(
            text,
            canvas.style.small,
            (x0, y0, x1, y1),
            extra=extra,
            colour=_darker(ZONE_STYLES[spec.kind][0]),
        )


def _line(canvas: _Canvas, line: _Line) -> str:
    """A deconfliction line: its buffer as a pale band, the line itself, and past its
    ends, dotted, the line as the judgement carries it on across the theatre."""
    view, spec, shape = canvas.view, line.spec, line.shape
    parts = [f'<g class="line" data-line="{escape(spec.name)}">']
    sides = ", ".join(f"{party} {compass}" for compass, party in spec.sides)
    parts.append(f"<title>{escape(f'line {spec.name}: {sides}')}</title>")
    if line.band is not None:
        parts.append(
            f'<path d="{canvas.path(line.band)}" '
            f'fill="{BUFFER_COLOUR}" fill-opacity="0.16" stroke="{BUFFER_COLOUR}" '
            'stroke-opacity="0.5" stroke-dasharray="3 3" class="buffer"/>'
        )
    for past in _carried(view, shape):
        parts.append(
            f'<path d="{canvas.path(past)}" fill="none" stroke="{LINE_COLOUR}" '
            'stroke-width="1.5" stroke-dasharray="2 4" class="beyond"/>'
        )
    parts.append(
        f'<path d="{canvas.path(shape)}" fill="none" stroke="{LINE_COLOUR}" '
        'stroke-width="2.5" stroke-linejoin="round" class="drawn"/></g>'
    )
    return "".join(parts)


def _carried(view: View, shape: shapely.LineString) -> list[shapely.LineString]:
    """The line carried on past each end, beyond the map's edge."""
    reach = 4 * max(view.width, view.height) / view.scale
    coords = list(shape.coords)
    return [
        shapely.LineString([coords[-1 if end else 0], beyond(a, b, reach)])
        for end, (a, b) in enumerate(((coords[1], coords[0]), (coords[-2], coords[-1])))
    ]


def _line_labels(canvas: _Canvas, line: _Line) -> None:
    """The line's name on it, and each party's name on its side, clear of the buffer
    (the side as the judgement has it: the half of the theatre it splits off)."""
    view, style, name = canvas.view, canvas.style, line.spec.name
    seen = line.shape.intersection(canvas.clip)
    if seen.is_empty:
        return
    text = name if style.compact else f"{name} line"
    if line.spec.buffer_km and not style.compact:
        text += f", buffer {line.spec.buffer_km:g} km"
    x, y = view.px(*seen.interpolate(0.12, normalized=True).coords[0])
    canvas.labels.place(
        text,
        style.small,
        _around(x, y, 2),
        extra=f'fill="{LINE_COLOUR}" font-weight="bold" class="line-label"',
        centred=True,
        required=not style.compact,
    )
    reach = line.spec.buffer_km * 1000.0
    band = line.band or line.shape
    for compass, party in line.spec.sides:
        half = line.sides.get(party)
        if half is None:
            continue

        def on_its_side(box: Box, half: BaseGeometry = half) -> bool:
            (x0, y0), (x1, y1) = view.metres(box[0], box[1]), view.metres(box[2], box[3])
            area = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            return bool(half.contains(area)) and not area.intersects(band)

        for share in (0.5, 0.35, 0.65, 0.2, 0.8):
            x, y = view.px(*seen.interpolate(share, normalized=True).coords[0])
            placed = canvas.labels.place(
                f"{party} side" if style.compact else f"{party} side ({compass})",
                style.small,
                _around(x, y, reach * view.scale + 4),
                extra=f'fill="{canvas.colours.get(party, JOINT_COLOUR)}" font-weight="bold" '
                'class="side-label"',
                title=f"{party} operates {compass} of {name}",
                required=False,
                fits=on_its_side,
                leader=None,
            )
            if placed is not None:
                break


def _position(
    canvas: _Canvas, spot: PositionSpec, notices: Sequence[Notice], at: float | None
) -> str:
    """A position as a square in its party's colour (where it was at ``at``), its track
    dotted; without ``at``, at the track's start, with a ring at each notice's time."""
    colour = canvas.colours.get(spot.party, JOINT_COLOUR)
    parts = [f'<g class="position" data-party="{escape(spot.party)}" ']
    parts.append(f'data-name="{escape(spot.name)}">')
    if len(spot.track) > 1:
        track = canvas.amap.frame.line([p for _, p in spot.track])
        times = ", ".join(format_clock(t) for t, _ in spot.track)
        parts.append(
            f"<title>{escape(f'{spot.party} {spot.name}: a track, at {times}')}</title>"
            f'<path d="{canvas.path(track)}" fill="none" stroke="{colour}" stroke-width="1.6" '
            'stroke-dasharray="1 4" stroke-linecap="round" class="track"/>'
        )
        if at is None:
            for notice in notices:
                x, y = canvas.px(spot.at(notice.at))
                hover = (
                    f"{spot.party} {spot.name} at {format_clock(notice.at)}, when "
                    f"{notice.incident} was sent"
                )
                parts.append(
                    f'<g><title>{escape(hover)}</title><circle cx="{x:.1f}" cy="{y:.1f}" '
                    f'r="3.5" fill="#fff" stroke="{colour}" stroke-width="1.5" class="then"/></g>'
                )
    moment = spot.track[0][0] if at is None else at
    x, y = canvas.px(spot.at(moment))
    hover = f"{spot.party} {spot.name} at {format_clock(moment)}"
    parts.append(
        f"<g><title>{escape(hover)}</title>"
        f'<rect x="{x - _MARKER:.1f}" y="{y - _MARKER:.1f}" width="{2 * _MARKER}" '
        f'height="{2 * _MARKER}" fill="{colour}" stroke="#fff" stroke-width="1.5" '
        f'class="marker" data-x="{x:.3f}" data-y="{y:.3f}"/></g></g>'
    )
    canvas.labels.block(_around(x, y, _MARKER + 1))
    return "".join(parts)


def _position_label(canvas: _Canvas, spot: PositionSpec, at: float | None) -> None:
    x, y = canvas.px(spot.at(spot.track[0][0] if at is None else at))
    compact = canvas.style.compact
    canvas.labels.place(
        spot.name if compact else f"{spot.name} ({spot.party})",
        canvas.style.small,
        _around(x, y, _MARKER + 1),
        extra=f'fill="{canvas.colours.get(spot.party, JOINT_COLOUR)}" class="position-label"',
        title=f"{spot.party}'s position {spot.name}",
        required=not compact,
    )


def _track_times(canvas: _Canvas, spot: PositionSpec, notices: Sequence[Notice]) -> None:
    """By each ring of a track, the time it stands for, where there is room."""
    if len(spot.track) < 2:
        return
    for notice in notices:
        x, y = canvas.px(spot.at(notice.at))
        canvas.labels.place(
            format_clock(notice.at),
            _TINY,
            _around(x, y, 4),
            extra='fill="#555" class="time-label"',
            title=f"{spot.name} at {format_clock(notice.at)}, when {notice.incident} was sent",
            required=False,
        )


def _hover(notice: Notice) -> str:
    verdicts = ", ".join(notice.verdicts) if notice.verdicts else "none (clear)"
    what = f"{notice.kind} of {notice.activity}" if notice.activity else notice.kind
    return (
        f"{notice.incident}: {notice.outcome}\n"
        f"{what} by {notice.party}, sent at {format_clock(notice.at)}\n"
        f"{describe(notice.where)}\n"
        f"verdicts: {verdicts}"
    )


def _area(canvas: _Canvas, notice: Notice, *, faded: bool) -> str:
    """A notice's area in its outcome's colour: a circle, polygon or corridor filled, a
    route of no width a thick line, a point a dot; a route's centre line dashed."""
    colour, where = notice.colour, notice.where
    shape = canvas.amap.area(where)
    fill, stroke = (0.07, 0.4) if faded else (0.22, 1.0)
    classes = f"notice outcome-{notice.outcome}" + (" faded" if faded else "")
    parts = [
        f'<g class="{classes}" data-incident="{escape(notice.incident)}" '
        f'data-outcome="{escape(notice.outcome)}"><title>{escape(_hover(notice))}</title>'
    ]
    if where.shape is Shape.POINT:
        x, y = canvas.px(where.positions[0])
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" fill-opacity="{stroke}" '
            f'stroke="#fff" stroke-width="1.5" class="area"/>'
        )
        canvas.labels.block(_around(x, y, 6))
    elif where.shape is Shape.ROUTE and not where.width_m:
        parts.append(
            f'<path d="{canvas.path(shape)}" fill="none" stroke="{colour}" '
            f'stroke-opacity="{stroke}" stroke-width="3.5" stroke-linecap="round" class="area"/>'
        )
    else:
        parts.append(
            f'<path d="{canvas.path(shape)}" fill="{colour}" fill-opacity="{fill}" '
            f'stroke="{colour}" stroke-opacity="{stroke}" stroke-width="2" class="area"/>'
        )
    if where.shape is Shape.ROUTE and where.width_m:
        parts.append(
            f'<path d="{canvas.path(canvas.amap.frame.line(where.positions))}" fill="none" '
            f'stroke="{colour}" stroke-opacity="{stroke}" stroke-width="1" '
            'stroke-dasharray="5 3" class="route"/>'
        )
    parts.append("</g>")
    return "".join(parts)


def _notice_label(canvas: _Canvas, notice: Notice, *, faded: bool = False) -> None:
    """The incident's id by its notice's area (a route's by its middle, not its box),
    tied to it when not beside it; a faded notice's smaller, where there is room."""
    view, where = canvas.view, notice.where
    shape = canvas.amap.area(where).intersection(canvas.clip)
    if where.shape is Shape.ROUTE:
        middle = canvas.amap.frame.line(where.positions).interpolate(0.5, normalized=True)
        x, y = view.px(middle.x, middle.y)
        around = _around(x, y, (where.width_m or 0) / 2 * view.scale + 2)
    elif where.shape is Shape.POINT:
        around = _around(*canvas.px(where.positions[0]), 6)
    else:
        west, south, east, north = shape.bounds
        (x0, y0), (x1, y1) = view.px(west, north), view.px(east, south)
        around = (x0, y0, x1, y1)
    colour = _darker(notice.colour)
    canvas.labels.place(
        notice.incident,
        _TINY if faded else canvas.style.size,
        around,
        extra=f'fill="{colour}" fill-opacity="{0.7 if faded else 1}" '
        f'font-weight="{"normal" if faded else "bold"}" class="notice-label" '
        f'data-incident="{escape(notice.incident)}"',
        title=_hover(notice),
        required=not faded,
        leader=None if faded else 8.0,
        colour=colour,
        target=view.in_px(shape),
    )


def _misplaced(
    canvas: _Canvas, notice: Notice, actual: Position
) -> tuple[float, float, float, float, float, str]:
    """Where the activity really was and the nearest point of the notice's area (px),
    the distance between them (on the ellipsoid, as the verdict measures it), and what
    hovering over them says."""
    point = canvas.amap.frame.point(actual)
    near = nearest_points(canvas.amap.area(notice.where), point)[0]
    x, y = canvas.view.px(point.x, point.y)
    x0, y0 = canvas.view.px(near.x, near.y)
    distance = canvas.amap.misplaced_km(notice.where, actual)
    hover = (
        f"{notice.incident}: the activity really was here, {distance:.1f} km from the notice's area"
    )
    return x, y, x0, y0, distance, hover


def _actual(canvas: _Canvas, notice: Notice) -> str:
    """Where the activity really was: a cross, tied to the notice's area by a dashed
    line (its distance is labelled by `_actual_label`)."""
    if notice.actual is None:
        return ""
    x, y, x0, y0, distance, hover = _misplaced(canvas, notice, notice.actual)
    canvas.labels.block(_around(x, y, 6))
    return (
        f'<g class="actual" data-incident="{escape(notice.incident)}" '
        f'data-km="{distance:.3f}"><title>{escape(hover)}</title>'
        f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{ACTUAL_COLOUR}" '
        'stroke-width="1.2" stroke-dasharray="4 3"/>'
        f'<path d="M{x - 5:.1f},{y - 5:.1f} l10,10 m0,-10 l-10,10" stroke="{ACTUAL_COLOUR}" '
        'stroke-width="2.5" class="cross"/></g>'
    )


def _actual_label(canvas: _Canvas, notice: Notice) -> None:
    if notice.actual is None:
        return
    x, y, x0, y0, distance, hover = _misplaced(canvas, notice, notice.actual)
    canvas.labels.place(
        f"{distance:.1f} km",
        canvas.style.small,
        _around((x + x0) / 2, (y + y0) / 2, 2),
        extra=f'fill="{ACTUAL_COLOUR}" class="distance-label"',
        title=hover,
    )


#: graticule intervals, degrees: the first that draws at most six lines across
_DEGREES: Final = (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


def _graticule(canvas: _Canvas) -> tuple[list[str], list[tuple[str, float, float]]]:
    """Meridians and parallels, faint, and their labels where they meet the map's
    bottom and left edges (text, x, baseline)."""
    view, frame = canvas.view, canvas.amap.frame
    left, top, right, bottom = view.bounds
    grid = [
        frame.lonlat(*view.metres(left + (right - left) * i / 8, top + (bottom - top) * j / 8))
        for i in range(9)
        for j in range(9)
    ]
    west, east = min(p[0] for p in grid), max(p[0] for p in grid)
    south, north = min(p[1] for p in grid), max(p[1] for p in grid)
    step = next((s for s in _DEGREES if max(east - west, north - south) / s <= 6), 10.0)
    decimals = len(f"{step:g}".partition(".")[2])
    parts = ['<g class="graticule" stroke="#e2e2e2" stroke-width="1" fill="none">']
    edges = []

    def drawn(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Draw a meridian or parallel through ``points`` (lon, lat); the pixels of the
        part the map shows (none: not drawn)."""
        seen = frame.line(points).intersection(canvas.clip)
        if seen.is_empty:
            return []
        parts.append(f'<path d="{_path(seen, view)}"/>')
        return [view.px(*c) for c in _all_coords(seen)]

    for lon in _ticks(west, east, step):
        shown = drawn([(lon, south + (north - south) * k / 24) for k in range(25)])
        if shown:  # labelled where it leaves the bottom edge
            x, _ = max(shown, key=lambda p: p[1])
            text = f"{abs(lon):.{decimals}f}{'E' if lon >= 0 else 'W'}"
            edges.append((text, x + 3, bottom - 3 - 0.25 * _TINY))
    for lat in _ticks(south, north, step):
        shown = drawn([(west + (east - west) * k / 24, lat) for k in range(25)])
        if shown:  # labelled where it leaves the left edge
            _, y = min(shown, key=lambda p: p[0])
            text = f"{abs(lat):.{decimals}f}{'N' if lat >= 0 else 'S'}"
            edges.append((text, left + 3, y - 3))
    parts.append("</g>")
    return parts, edges


def _ticks(low: float, high: float, step: float) -> list[float]:
    return [round(n * step, 6) for n in range(math.ceil(low / step), math.floor(high / step) + 1)]


def _all_coords(geometry: BaseGeometry) -> list[tuple[float, float]]:
    if isinstance(geometry, shapely.LineString):
        return [(c[0], c[1]) for c in geometry.coords]
    return [c for part in getattr(geometry, "geoms", []) for c in _all_coords(part)]


def _edge_label(labels: _Labels, text: str, x: float, baseline: float) -> None:
    """A graticule's label where its line meets the edge, if it is inside and nothing
    is there yet (it is the least of the labels)."""
    box = _label_box(x - 2, baseline - 0.85 * _TINY, text, _TINY)
    left, top, right, bottom = labels.bounds
    inside = left <= box[0] and box[2] <= right and top <= box[1] and box[3] <= bottom
    if not inside or labels.crosses(box) or any(_overlap(box, o) for o in labels.taken):
        return
    labels.block(box)
    labels.parts.append(
        f'<text x="{x:.1f}" y="{baseline:.1f}" font-size="{_TINY}" fill="#888" '
        f'class="graticule-label">{escape(text)}</text>'
    )


#: scale bar lengths, km: the longest that takes at most 40% of the map's width
_KMS: Final = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000)


def _scale(view: View, y: float, style: _Style) -> str:
    """A scale bar in two halves (black, then white on black), its length in km."""
    per_km = view.scale * 1000.0
    km = max((k for k in _KMS if k * per_km <= view.width * 0.4), default=_KMS[0])
    length = km * per_km
    left = view.left + 8
    label = f"{km:g} km"
    return (
        f'<g class="scale" data-km="{km:g}" data-px-per-km="{per_km:.6f}">'
        f"<title>scale: {label}; distances are true across this map (within 1%)</title>"
        f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + length:.3f}" y2="{y:.1f}" '
        'stroke="#222" stroke-width="4" class="scale-bar"/>'
        f'<line x1="{left + length / 2:.1f}" y1="{y:.1f}" x2="{left + length - 1:.1f}" '
        f'y2="{y:.1f}" stroke="#fff" stroke-width="2"/>'
        f'<text x="{left + length + 6:.1f}" y="{y + 0.35 * style.small:.1f}" '
        f'font-size="{style.small}" class="scale-label">{escape(label)}</text></g>'
    )


def _north(x: float, y: float, style: _Style) -> str:
    return (
        '<g class="north"><title>north is up</title>'
        f'<path d="M{x:.1f},{y:.1f} l5,14 l-5,-4 l-5,4 z" fill="#222"/>'
        f'<text x="{x - 16:.1f}" y="{y + 12:.1f}" font-size="{style.small}" '
        'font-weight="bold">N</text></g>'
    )


def _darker(colour: str) -> str:
    """``colour`` darkened, for text on a pale backing (grey and orange read poorly)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * 0.72):02x}" for c in (red, green, blue))


def legend_svg(amap: AgreedMap, notices: Sequence[Notice], *, width: float = 1100) -> str:
    """What the colours and marks mean: every outcome, then what this map holds."""
    items = [
        (
            f'<rect x="0" y="-9" width="18" height="12" fill="{colour}" fill-opacity="0.22" '
            f'stroke="{colour}" stroke-width="2" class="swatch outcome-{outcome}"/>',
            outcome,
        )
        for outcome, colour in OUTCOME_COLOURS.items()
    ]
    items += _legend_items(amap, notices)
    rows: list[list[tuple[float, str, str]]] = [[]]
    x = 0.0
    for swatch, text in items:
        span = 26 + text_width(text, _SMALL) + 18
        if x + span > width and rows[-1]:
            rows.append([])
            x = 0.0
        rows[-1].append((x, swatch, text))
        x += span
    parts = []
    for number, row in enumerate(rows):
        y = 18 + 22 * number
        for x, swatch, text in row:
            # only the swatch is moved: a moved text's box is not where it is drawn, for
            # whoever measures it
            parts.append(
                f'<g transform="translate({x + 2:.1f},{y})">{swatch}</g>'
                f'<text x="{x + 26:.1f}" y="{y}" font-size="{_SMALL}">{escape(text)}</text>'
            )
    used = max(x + 26 + text_width(t, _SMALL) + 4 for row in rows for x, _, t in row)
    return _svg("legend", amap, used, 22 * len(rows) + 6, kind="map-legend", body=parts)


def _legend_items(amap: AgreedMap, notices: Sequence[Notice]) -> list[tuple[str, str]]:
    """The marks this map uses, each with a swatch drawn about (0, -3)."""
    items = []
    if any(n.where.shape is Shape.POINT for n in notices):
        items.append(('<circle cx="9" cy="-3" r="5" fill="#888" stroke="#fff"/>', "notice point"))
    if any(n.where.shape is Shape.ROUTE for n in notices):
        items.append(
            (
                '<path d="M0,-3 L18,-3" stroke="#888" stroke-dasharray="5 3"/>',
                "route, entry to exit",
            )
        )
    if amap.spec.lines:
        items.append(
            (
                f'<path d="M0,-3 L18,-3" stroke="{LINE_COLOUR}" stroke-width="2.5"/>',
                "deconfliction line",
            )
        )
        items.append(
            (
                f'<path d="M0,-3 L18,-3" stroke="{LINE_COLOUR}" stroke-width="1.5" '
                'stroke-dasharray="2 4"/>',
                "line carried on",
            )
        )
    if any(line.buffer_km for line in amap.spec.lines):
        items.append(
            (
                f'<rect x="0" y="-9" width="18" height="12" fill="{BUFFER_COLOUR}" '
                f'fill-opacity="0.16" stroke="{BUFFER_COLOUR}" stroke-dasharray="3 3"/>',
                "buffer",
            )
        )
    for kind in dict.fromkeys(zone.kind for zone in amap.spec.zones):
        items.append(
            (
                f'<rect x="0" y="-9" width="18" height="12" fill="url(#legend-{kind.value})" '
                f'stroke="{ZONE_STYLES[kind][0]}" stroke-width="1.4"/>',
                f"{kind.value} zone",
            )
        )
    if amap.spec.positions:
        items.append(
            (
                '<rect x="4" y="-8" width="10" height="10" fill="#555" stroke="#fff"/>',
                "declared position",
            )
        )
    if any(len(spot.track) > 1 for spot in amap.spec.positions):
        items.append(
            (
                '<path d="M0,-3 L18,-3" stroke="#555" stroke-width="1.6" stroke-dasharray="1 4" '
                'stroke-linecap="round"/><circle cx="9" cy="-3" r="3" fill="#fff" '
                'stroke="#555" stroke-width="1.5"/>',
                "track; ring: where at a notice",
            )
        )
    if any(n.actual is not None for n in notices):
        items.append(
            (
                f'<path d="M4,-8 l10,10 m0,-10 l-10,10" stroke="{ACTUAL_COLOUR}" '
                'stroke-width="2.5"/>',
                "where it really was",
            )
        )
    return items
