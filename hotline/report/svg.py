"""SVG pictures for the HTML reports, drawn by hand: no plotting library needed.

Each function returns one ``<svg>`` element as text; every piece of text in it is
escaped. Colours: one per channel (`CHANNEL_COLOURS`) and one per outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from hotline.sim.durations import format_clock, format_duration
from hotline.timestamps import format_instant

CHANNEL_COLOURS = {"air": "#1f6fb2", "ground": "#2e8b3d", "general-officer": "#7b3fa0"}
OUTCOME_COLOURS = {
    "acknowledged": "#2e8b3d",
    "disputed": "#d08a00",
    "resolved": "#1f6fb2",
    "withdrawn": "#777777",
    "unresolved": "#c0392b",
    "open": "#aaaaaa",
}
REJECTED = "#c0392b"


def _text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" {extra}>{escape(text)}</text>'


#: The font of the sequence diagrams: every piece of text in them is monospace, so its
#: width is known before a browser draws it and lanes are sized to fit their labels.
MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
#: The advance of one character of `MONO`, in em, assumed when sizing: monospace fonts
#: advance 0.55 em (Consolas) to 0.602 em (DejaVu Sans Mono, Menlo); a little more is
#: assumed, so an estimate is never short. Station names, parties, kinds and reasons
#: are ASCII (one character, one advance).
CHAR_EM = 0.62


def text_width(text: str, size: float) -> float:
    """The width ``text`` takes at ``size`` px in `MONO` (at most; see `CHAR_EM`)."""
    return len(text) * CHAR_EM * size


@dataclass(frozen=True, slots=True)
class Lane:
    """One station's lane in a sequence diagram: its party and the lines it sits on."""

    station: str
    party: str = ""
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Arrow:
    """One message copy in a sequence diagram."""

    sent_at: float
    arrived_at: float | None  # None: it never arrived
    sender: str
    recipient: str
    channel: str
    label: str
    fate: str  # delivered, "dropped: ...", "rejected: ...", in-flight


#: Tick intervals of a time axis, in seconds: the first that leaves room between labels.
TICKS: tuple[int, ...] = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
TICKS += (10_800, 21_600, 43_200, 86_400, 172_800, 604_800)  # then weeks, doubling

# sizes (px) of the sequence diagrams' text, and their layout
_PARTY, _STATION, _SMALL, _LABEL = 12, 13, 10, 11
_PAD, _TOP, _ROW, _NOTED, _DROP = 8, 72, 34, 54, 20  # _DROP: how far an arrow descends
_MIN_SLOT, _FAN, _TICK_ROOM, _MIN_RULER = 200, 24, 40, 60
_BANDS = ("#f3f6fa", "#fbf7f0")  # behind each party's lanes, in turn
_AXIS_TITLE = "exercise clock"


def boxed(x: float, y: float, text: str, size: int, *, anchor: str, extra: str) -> str:
    """``text`` in `MONO` on a pale box of its width, so the lane lines and arrows it
    lies over never hide it (``anchor``: start, middle or end, as SVG's text-anchor)."""
    width = text_width(text, size)
    left = x - {"start": 0.0, "middle": width / 2, "end": width}[anchor]
    return (
        f'<rect x="{left - 2:.1f}" y="{y - 0.85 * size:.1f}" width="{width + 4:.1f}" '
        f'height="{1.1 * size:.1f}" rx="2" fill="#fff" fill-opacity="0.85"/>'
        + _text(x, y, text, f'text-anchor="{anchor}" font-size="{size}" {extra}')
    )


def titled(title: str | None, *parts: str) -> str:
    """``parts`` in a group whose hover text is ``title`` (SVG ``<title>``)."""
    if title is None:
        return "".join(parts)
    return f"<g><title>{escape(title)}</title>{''.join(parts)}</g>"


def _instant(start: float | None, at: float) -> str | None:
    """The UTC time of exercise time ``at``, RFC 3339 (None without a start)."""
    return None if start is None else format_instant(start + at)


def _step(first: float, last: float, height: float) -> tuple[float, float, float]:
    """A time axis from ``first`` to ``last`` over ``height`` px: its tick interval and
    its ends, which fall on ticks, with at least `_TICK_ROOM` px between ticks."""
    step = float(TICKS[0])
    index = 0
    while True:
        low = math.floor(first / step) * step
        high = max(math.ceil(last / step) * step, low + step)
        if height * step / (high - low) >= _TICK_ROOM:
            return step, low, high
        index += 1
        step = float(TICKS[index]) if index < len(TICKS) else step * 2


def _note(arrow: Arrow) -> str | None:
    """What is written under an arrow: why it failed or that it never arrived."""
    if arrow.fate.startswith("rejected") or arrow.fate.startswith("dropped"):
        return arrow.fate
    if arrow.arrived_at is None:
        return "in flight at the end" if arrow.fate == "in-flight" else arrow.fate
    return None


def _label(arrow: Arrow) -> str:
    if arrow.arrived_at is None:
        return arrow.label
    return f"{arrow.label} (+{format_duration(arrow.arrived_at - arrow.sent_at)})"


@dataclass(slots=True)
class _Layout:
    """Where everything of one sequence diagram goes (px).

    Across: tick labels, the time axis (``axis_x``), the fan tying rows to it (to
    ``fan_end``), each row's send time (right-aligned before ``lanes_left``), then one
    slot of ``slot`` px per lane, its lane line in the middle.
    """

    order: dict[str, int]  # station -> lane number
    groups: list[tuple[str, int, int]]  # party, its first and last lane
    rows: list[float]  # y of each arrow's start
    rows_bottom: float
    ruler_top: float
    ruler_bottom: float
    ticks: list[float]
    low: float  # the axis's ends, in exercise seconds
    high: float
    axis_x: float
    fan_end: float
    lanes_left: float
    slot: float
    width: int
    height: int

    def x(self, station: str) -> float:
        """The x of ``station``'s lane."""
        return self.lanes_left + self.slot * (self.order[station] + 0.5)

    def ruler(self, at: float) -> float:
        """The y of exercise time ``at`` on the time axis."""
        span = self.ruler_bottom - self.ruler_top
        return self.ruler_top + (at - self.low) / (self.high - self.low) * span


def _groups(lanes: Sequence[Lane]) -> list[tuple[str, int, int]]:
    """Runs of consecutive lanes of one party: the party, its first and last lane."""
    groups: list[tuple[str, int, int]] = []
    for index, lane in enumerate(lanes):
        if groups and groups[-1][0] == lane.party:
            groups[-1] = (lane.party, groups[-1][1], index)
        else:
            groups.append((lane.party, index, index))
    return groups


def _slot(lanes: Sequence[Lane], arrows: Sequence[Arrow], order: Mapping[str, int]) -> int:
    """The width of a lane's slot: enough for every label of a lane, a party, an arrow
    (over the slots it spans) and a note (by its arrow's head, or under its cross)."""
    needs = [float(_MIN_SLOT)]
    needs += [
        max(text_width(lane.station, _STATION), text_width(" ".join(lane.lines), _SMALL)) + 24
        for lane in lanes
    ]
    needs += [
        (text_width(p, _PARTY) + 16) / (last - first + 1) for p, first, last in _groups(lanes)
    ]
    for arrow in arrows:
        span = max(1, abs(order[arrow.recipient] - order[arrow.sender]))
        needs.append((text_width(_label(arrow), _LABEL) + 16) / span)
        note = _note(arrow)
        if note and arrow.arrived_at is not None and not arrow.fate.startswith("dropped"):
            needs.append((text_width(note, _SMALL) + 24) / span)  # by the arrow's head
        elif note:
            needs.append(text_width(note, _SMALL) + 16)  # under the cross, in one gap
    return math.ceil(max(needs))


def _layout(lanes: Sequence[Lane], arrows: Sequence[Arrow]) -> _Layout:
    order = {lane.station: index for index, lane in enumerate(lanes)}
    rows: list[float] = []  # one per copy, taller when a note goes under its arrow
    y = float(_TOP)
    for arrow in arrows:
        rows.append(y)
        y += _NOTED if _note(arrow) else _ROW
    # the time axis: linear from the first send to the last send or arrival
    top = float(_TOP)
    bottom = max((rows[-1] + _DROP) if rows else top, top + _MIN_RULER)
    times = [a.sent_at for a in arrows] + [a.arrived_at for a in arrows if a.arrived_at is not None]
    step, low, high = _step(min(times, default=0.0), max(times, default=0.0), bottom - top)
    ticks = [low + step * n for n in range(round((high - low) / step) + 1)]
    axis_x = _PAD + max(text_width(format_clock(t), _SMALL) for t in ticks) + 6
    fan_end = axis_x + _FAN
    sent = max((text_width(format_clock(a.sent_at), _SMALL) for a in arrows), default=0.0)
    lanes_left = max(fan_end + 4 + sent + 12, _PAD + text_width(_AXIS_TITLE, _SMALL) + 12)
    slot = _slot(lanes, arrows, order)
    return _Layout(
        order=order,
        groups=_groups(lanes),
        rows=rows,
        rows_bottom=y,
        ruler_top=top,
        ruler_bottom=bottom,
        ticks=ticks,
        low=low,
        high=high,
        axis_x=axis_x,
        fan_end=fan_end,
        lanes_left=lanes_left,
        slot=slot,
        width=math.ceil(lanes_left + slot * len(lanes) + _PAD),
        height=math.ceil(max(y, bottom + 14) + _PAD),
    )


def swimlanes(lanes: Sequence[Lane], arrows: Sequence[Arrow], *, start: float | None = None) -> str:
    """A sequence diagram: stations as lanes, messages as arrows, one row per message.

    Lanes are drawn in the order given, under their party's name (consecutive lanes of
    one party share a band), each as wide as its labels need (every text here is
    `MONO`, its width known: see `CHAR_EM`). Arrows are coloured by channel; fallbacks
    (escalations) are drawn thick; rejected copies end in red with the reason; dropped
    ones are crossed out in a gap between lanes (the one next to the sender, or the
    middle one: never on a lane), dotted on to where they were going. On the left, a
    time axis in exercise clock (``H:MM:SS``), ticked at an interval that suits the
    span, each row tied to its send time on it. With ``start`` (the Unix time of
    exercise time 0), every time shows its UTC time on hover.
    """
    layout = _layout(lanes, arrows)
    width, height = layout.width, layout.height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="swimlane" role="img" font-family="{MONO}">',
        "<defs>",
        *(
            f'<marker id="head-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            for name, colour in (*CHANNEL_COLOURS.items(), ("rejected", REJECTED))
        ),
        "</defs>",
        *_heads(layout, lanes),
        *_axis(layout, start),
    ]
    for arrow, y in zip(arrows, layout.rows, strict=True):
        parts.append(_row(layout, arrow, y, start))
        at = layout.ruler(arrow.sent_at)
        parts.append(
            f'<path d="M{layout.axis_x:.1f},{at:.1f} L{layout.fan_end:.1f},{y:.1f}" '
            'stroke="#bbb" fill="none"/>'
            f'<circle cx="{layout.axis_x:.1f}" cy="{at:.1f}" r="2" fill="#444"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _heads(layout: _Layout, lanes: Sequence[Lane]) -> list[str]:
    """Each party's band and name, each lane's line, station and lines."""
    parts = []
    for number, (party, first, last) in enumerate(layout.groups):
        left = layout.lanes_left + layout.slot * first
        right = layout.lanes_left + layout.slot * (last + 1)
        parts.append(
            f'<rect x="{left + 2:.1f}" y="2" width="{right - left - 4:.1f}" '
            f'height="{layout.height - 4}" rx="6" fill="{_BANDS[number % 2]}" class="band"/>'
        )
        if party:
            parts.append(
                _text(
                    (left + right) / 2,
                    16,
                    party,
                    f'text-anchor="middle" font-size="{_PARTY}" font-weight="bold" '
                    'fill="#555" class="party"',
                )
            )
    bottom = max(layout.rows_bottom - 6, layout.ruler_bottom)
    for lane in lanes:
        where = layout.x(lane.station)
        lines = " ".join(lane.lines)
        hover = lane.station + (f": {lane.party}" if lane.party else "")
        hover += f", {lines} line{'s' if len(lane.lines) > 1 else ''}" if lines else ""
        parts.append(
            f'<line x1="{where:.1f}" y1="{_TOP - 12}" x2="{where:.1f}" y2="{bottom:.1f}" '
            'stroke="#999" stroke-dasharray="4 3"/>'
        )
        station = _text(
            where,
            38,
            lane.station,
            f'text-anchor="middle" font-size="{_STATION}" font-weight="bold" class="lane"',
        )
        under = _text(where, 52, lines, f'text-anchor="middle" font-size="{_SMALL}" fill="#666"')
        parts.append(titled(hover, station, under if lines else ""))
    return parts


def _axis(layout: _Layout, start: float | None) -> list[str]:
    """The time axis: a line, its ticks and their clock times."""
    x = layout.axis_x
    parts = [
        _text(_PAD, 52, _AXIS_TITLE, f'font-size="{_SMALL}" fill="#666"'),
        f'<line x1="{x:.1f}" y1="{layout.ruler_top:.1f}" x2="{x:.1f}" '
        f'y2="{layout.ruler_bottom:.1f}" stroke="#444" class="axis"/>',
    ]
    for tick in layout.ticks:
        y = layout.ruler(tick)
        parts.append(
            titled(
                _instant(start, tick),
                f'<line x1="{x - 4:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#444"/>',
                _text(
                    x - 6,
                    y + 3.5,
                    format_clock(tick),
                    f'text-anchor="end" font-size="{_SMALL}" fill="#777" class="tick"',
                ),
            )
        )
    return parts


def _row(layout: _Layout, arrow: Arrow, y: float, start: float | None) -> str:
    """One copy: its send time, its arrow, its label and what became of it."""
    x1, x2 = layout.x(arrow.sender), layout.x(arrow.recipient)
    toward = 1 if x2 >= x1 else -1
    if x1 == x2:  # a copy to its own station: a short stub
        x2 = x1 + layout.slot / 3
    colour = CHANNEL_COLOURS.get(arrow.channel, "#333")
    thick = 3 if arrow.label.startswith("escalate") else 1.5
    clock, sent = format_clock(arrow.sent_at), _instant(start, arrow.sent_at)
    hover = (
        f"{arrow.label}, {arrow.channel} line: {arrow.sender} to {arrow.recipient}; "
        f"sent {clock}" + (f" ({sent})" if sent else "") + f"; {arrow.fate}"
    )
    if arrow.arrived_at is not None:
        arrived = _instant(start, arrow.arrived_at)
        hover += f" at {format_clock(arrow.arrived_at)}" + (f" ({arrived})" if arrived else "")
    time = _text(
        layout.lanes_left - 12,
        y + 3.5,
        clock,
        f'text-anchor="end" font-size="{_SMALL}" class="sent"',
    )
    parts = [titled(sent, time)]
    note = _note(arrow)
    if arrow.arrived_at is None or arrow.fate.startswith("dropped"):
        # crossed out in a gap between lanes: the one next to the sender, or the middle
        # one of three or more; dotted on to the lane it was going to
        gaps = max(1, round(abs(x2 - x1) / layout.slot))
        cross = x1 + toward * layout.slot * ((gaps - 1) // 2 + 0.5)
        if abs(cross - x1) >= abs(x2 - x1):
            cross = (x1 + x2) / 2
        cross_y = y + _DROP * (cross - x1) / (x2 - x1)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{cross:.1f}" y2="{cross_y:.1f}" '
            f'stroke="{colour}" stroke-width="{thick}" stroke-dasharray="6 3"/>'
            f'<line x1="{cross:.1f}" y1="{cross_y:.1f}" x2="{x2:.1f}" y2="{y + _DROP:.1f}" '
            f'stroke="{colour}" stroke-dasharray="1 4" stroke-opacity="0.7" class="unreached"/>'
        )
        if arrow.fate.startswith("dropped"):
            parts.append(
                f'<path d="M{cross - 5:.1f},{cross_y - 5:.1f} l10,10 m0,-10 l-10,10" '
                f'stroke="{REJECTED}" stroke-width="2" class="drop"/>'
            )
        if note:
            parts.append(
                boxed(
                    cross,
                    cross_y + 18,
                    note,
                    _SMALL,
                    anchor="middle",
                    extra=f'fill="{REJECTED}" class="note"',
                )
            )
    else:
        rejected = arrow.fate.startswith("rejected")
        head = "rejected" if rejected else arrow.channel
        head = head if head in (*CHANNEL_COLOURS, "rejected") else "air"
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y + _DROP:.1f}" '
            f'stroke="{REJECTED if rejected else colour}" stroke-width="{thick}" '
            f'marker-end="url(#head-{head})"/>'
        )
        if note:  # under the arrow, by its head, inside the span it crosses
            parts.append(
                boxed(
                    x2 - 6 * toward,
                    y + 33,
                    note,
                    _SMALL,
                    anchor="end" if toward > 0 else "start",
                    extra=f'fill="{REJECTED}" class="note"',
                )
            )
    parts.append(
        boxed(
            (x1 + x2) / 2,
            y - 3,
            _label(arrow),
            _LABEL,
            anchor="middle",
            extra=f'fill="{colour}" class="label"',
        )
    )
    return f'<g class="copy"><title>{escape(hover)}</title>{"".join(parts)}</g>'


def bars(
    title: str,
    values: Sequence[tuple[str, float]],
    unit: str = "",
    show: Callable[[float], str] | None = None,
) -> str:
    """A horizontal bar chart of labelled values, each written as ``show`` writes it
    (default: the number and ``unit``)."""
    width, row, left = 560, 24, 190
    height = 34 + row * len(values)
    biggest = max((v for _, v in values), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="chart" role="img">',
        _text(4, 16, title, 'font-weight="bold"'),
    ]
    for index, (label, value) in enumerate(values):
        y = 26 + row * index
        length = (width - left - 70) * value / biggest
        colour = OUTCOME_COLOURS.get(label, "#1f6fb2")
        parts.append(_text(left - 6, y + 14, label, 'text-anchor="end" font-size="12"'))
        parts.append(
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{row - 6}" fill="{colour}"/>'
        )
        shown = show(value) if show is not None else f"{value:g}{unit}"
        parts.append(_text(left + length + 6, y + 14, shown, 'font-size="12"'))
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: y per x position, with an optional band."""

    name: str
    ys: Sequence[float | None]
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None
    colour: str = "#1f6fb2"
    dashed: bool = False


def lines(
    title: str,
    *,
    x_label: str,
    xs: Sequence[str],
    series: Sequence[Series],
    y_label: str,
    y_max: float | None = None,
) -> str:
    """A line chart over categorical x positions, bands shaded, with a legend."""
    width, height, left, right, top, bottom = 640, 320, 60, 180, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    found = [y for s in series for y in (*s.ys, *(s.high or ())) if y is not None]
    ceiling = y_max if y_max is not None else (max(found, default=1.0) or 1.0) * 1.1

    def px(index: int) -> float:
        return left + (plot_w * index / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)

    def py(value: float) -> float:
        return top + plot_h * (1 - value / ceiling)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="chart" role="img">',
        _text(left, 18, title, 'font-weight="bold"'),
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#999"/>',
    ]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        value = ceiling * fraction
        parts.append(
            f'<line x1="{left}" y1="{py(value):.1f}" x2="{left + plot_w}" y2="{py(value):.1f}" '
            'stroke="#eee"/>'
        )
        parts.append(
            _text(left - 6, py(value) + 4, f"{value:.3g}", 'text-anchor="end" font-size="10"')
        )
    for index, x in enumerate(xs):
        parts.append(_text(px(index), top + plot_h + 16, x, 'text-anchor="middle" font-size="11"'))
    parts.append(
        _text(left + plot_w / 2, height - 8, x_label, 'text-anchor="middle" font-size="12"')
    )
    parts.append(
        _text(
            14,
            top + plot_h / 2,
            y_label,
            f'font-size="12" text-anchor="middle" '
            f'transform="rotate(-90 14 {top + plot_h / 2:.1f})"',
        )
    )
    for number, line in enumerate(series):
        if line.low is not None and line.high is not None:
            upper = [f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(line.high)]
            lower = [f"{px(i):.1f},{py(v):.1f}" for i, v in reversed(list(enumerate(line.low)))]
            parts.append(
                f'<polygon points="{" ".join(upper + lower)}" fill="{line.colour}" '
                'fill-opacity="0.18" stroke="none"/>'
            )
        points = [f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(line.ys) if v is not None]
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{line.colour}" '
            f'stroke-width="2"{dash}/>'
        )
        for point in points:
            cx, cy = point.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{line.colour}"/>')
        legend_y = top + 14 + 18 * number
        parts.append(
            f'<line x1="{left + plot_w + 12}" y1="{legend_y - 4}" x2="{left + plot_w + 32}" '
            f'y2="{legend_y - 4}" stroke="{line.colour}" stroke-width="2"{dash}/>'
        )
        parts.append(_text(left + plot_w + 36, legend_y, line.name, 'font-size="11"'))
    parts.append("</svg>")
    return "\n".join(parts)
