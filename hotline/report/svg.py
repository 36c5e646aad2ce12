"""SVG pictures for the HTML reports, drawn by hand: no plotting library needed.

Each function returns one ``<svg>`` element as text; every piece of text in it is
escaped. Colours: one per channel (`CHANNEL_COLOURS`) and one per outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

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


def swimlanes(lanes: Sequence[str], arrows: Sequence[Arrow], notes: Sequence[str] = ()) -> str:
    """A sequence diagram: stations as lanes, messages as arrows, one row per message.

    Arrows are coloured by channel; dropped copies end in a cross half-way, rejected
    ones end in red with the reason; escalations (fallbacks) are drawn thick.
    """
    width, row, top, left = max(480, 200 * len(lanes)), 34, 46, 70
    step = (width - left - 40) / max(1, len(lanes) - 1) if len(lanes) > 1 else 0
    x = {lane: left + index * step for index, lane in enumerate(lanes)}
    height = top + row * (len(arrows) + 1) + 18 * len(notes) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="swimlane" role="img">',
        "<defs>",
        *(
            f'<marker id="head-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            for name, colour in (*CHANNEL_COLOURS.items(), ("rejected", REJECTED))
        ),
        "</defs>",
    ]
    bottom = top + row * (len(arrows) + 0.5)
    for lane in lanes:
        parts.append(
            f'<line x1="{x[lane]:.1f}" y1="{top - 8}" x2="{x[lane]:.1f}" y2="{bottom:.1f}" '
            'stroke="#999" stroke-dasharray="4 3"/>'
        )
        parts.append(_text(x[lane], 20, lane, 'text-anchor="middle" font-weight="bold"'))
    for index, arrow in enumerate(arrows):
        y = top + row * index + 10
        x1, x2 = x[arrow.sender], x[arrow.recipient]
        colour = CHANNEL_COLOURS.get(arrow.channel, "#333")
        marker = arrow.channel if arrow.channel in CHANNEL_COLOURS else "air"
        thick = 3 if arrow.label.startswith("escalate") else 1.5
        parts.append(_text(left - 62, y + 12, f"{arrow.sent_at:,.1f} s", 'font-size="10"'))
        if arrow.fate.startswith("dropped") or arrow.arrived_at is None:
            middle = (x1 + x2) / 2
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y}" x2="{middle:.1f}" y2="{y + 10}" '
                f'stroke="{colour}" stroke-width="{thick}" stroke-dasharray="6 3"/>'
                f'<path d="M{middle - 5:.1f},{y + 5} l10,10 m0,-10 l-10,10" '
                f'stroke="{REJECTED}" stroke-width="2"/>'
            )
            note = arrow.fate if arrow.fate != "in-flight" else "in flight at the end"
            parts.append(_text(middle + 10, y + 22, note, f'font-size="10" fill="{REJECTED}"'))
        else:
            rejected = arrow.fate.startswith("rejected")
            stroke = REJECTED if rejected else colour
            head = "rejected" if rejected else marker
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y}" x2="{x2:.1f}" y2="{y + 20}" stroke="{stroke}" '
                f'stroke-width="{thick}" marker-end="url(#head-{head})"/>'
            )
            if rejected:
                parts.append(_text(x2 + 6, y + 24, arrow.fate, f'font-size="10" fill="{REJECTED}"'))
        label = arrow.label
        if arrow.arrived_at is not None:
            label += f"  (+{arrow.arrived_at - arrow.sent_at:.1f} s)"
        parts.append(
            _text(
                (x1 + x2) / 2, y - 2, label, f'text-anchor="middle" font-size="11" fill="{colour}"'
            )
        )
    for index, note in enumerate(notes):
        parts.append(_text(8, bottom + 16 + 18 * index, note, 'font-size="11" fill="#444"'))
    parts.append("</svg>")
    return "\n".join(parts)


def bars(title: str, values: Sequence[tuple[str, float]], unit: str = "") -> str:
    """A horizontal bar chart of labelled values."""
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
        parts.append(_text(left + length + 6, y + 14, f"{value:g}{unit}", 'font-size="12"'))
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
