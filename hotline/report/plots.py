"""Pictures of sweeps (matplotlib, an optional dependency: ``pip install hotline[plot]``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from hotline.core.errors import HotlineError
from hotline.sim.sweep import OUTCOME_NAMES

CURVES = OUTCOME_NAMES  # every outcome, open among them; one never seen is not drawn


class PlotUnavailable(HotlineError):
    """matplotlib is not installed."""


def require_matplotlib() -> ModuleType:
    """matplotlib's ``pyplot``, drawing to files: called before a sweep starts, so a
    missing matplotlib is told at once rather than after every run.

    Raises:
        PlotUnavailable: matplotlib is missing (install hotline[plot]).
    """
    try:  # an optional dependency: imported only when a picture is asked for
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'hotline[plot]'") from None
    return plt


def plot_sweep(document: Mapping[str, Any], path: Path) -> None:
    """Outcome probabilities (with 95% bands) and time-to-outcome against the first
    varied value; with a second varied path, one line per value of it. The times are
    over the closed incidents only (the axis says so; the text and JSON say how many).

    Raises:
        PlotUnavailable: matplotlib is missing (install hotline[plot]).
    """
    plt = require_matplotlib()
    varied = document["vary"]
    x_path = varied[0] if varied else "(no variation)"
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for point in document["points"]:
        key = tuple(point["values"][p] for p in varied[1:])
        groups.setdefault(key, []).append(point)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    for key, points in groups.items():
        xs = [p["values"].get(x_path, "") for p in points]
        positions = xs if all(isinstance(x, int | float) for x in xs) else list(range(len(xs)))
        suffix = (
            ""
            if not key
            else " (" + ", ".join(f"{p}={v}" for p, v in zip(varied[1:], key, strict=True)) + ")"
        )
        for name in CURVES:
            ps = [p["outcomes"][name]["p"] for p in points]
            if not any(ps):
                continue
            lows = [p["outcomes"][name]["low"] for p in points]
            highs = [p["outcomes"][name]["high"] for p in points]
            (line,) = top.plot(positions, ps, marker="o", label=f"{name}{suffix}")
            top.fill_between(positions, lows, highs, alpha=0.2, color=line.get_color())
        first = [p["first_line_ack"]["p"] for p in points]
        top.plot(
            positions,
            first,
            linestyle="--",
            marker=".",
            label=f"acknowledged on first line{suffix}",
        )
        for quantile, style in (("p50", "-"), ("p90", "--"), ("p99", ":")):
            values = [p["time_to_outcome"][quantile] for p in points]
            minutes = [None if v is None else v / 60 for v in values]
            bottom.plot(
                positions, minutes, linestyle=style, marker="o", label=f"{quantile}{suffix}"
            )
        if positions != xs:
            bottom.set_xticks(positions, [str(x) for x in xs])
    top.set_ylabel("probability (95% band)")
    top.set_ylim(-0.02, 1.02)
    top.set_title(f"{document['scenario']}: {document['runs']} runs per point")
    top.legend(fontsize="small")
    bottom.set_ylabel("time to close (min), closed incidents only")
    bottom.set_xlabel(x_path)
    bottom.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
