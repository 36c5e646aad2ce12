"""Durations as people write them in scenarios: ``90``, ``"90s"``, ``"10m"``, ``"1h30m"``;
and the exercise clock (``0:05:09``) the terminal and the HTML report both print."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string of number+unit parts (ms, s, m, h, d).

    Raises:
        ValueError: explaining the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError("a duration, not true/false")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        position, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNIT[match.group(2)]
            position = match.end()
        if not text or position != len(text):
            raise ValueError(f'{value!r} is not a duration like 90, "90s", "10m" or "1h30m"')
    else:
        raise ValueError(f"{value!r} is not a duration")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} must be a finite, non-negative duration")
    return seconds


def parse_signed_duration(value: object) -> float:
    """Like `parse_duration`, but a leading ``-`` (or a negative number) is allowed."""
    if isinstance(value, str) and value.strip().startswith("-"):
        return -parse_duration(value.strip()[1:])
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return -parse_duration(-value)
    return parse_duration(value)


def format_duration(seconds: float) -> str:
    """Compact text: ``45s``, ``12m30s``, ``2h05m``."""
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds != int(seconds) else f"{int(seconds)}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def format_clock(seconds: float) -> str:
    """Exercise time as ``H:MM:SS`` (days prefixed when needed): the clock the terminal's
    timeline and the HTML report both show."""
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d{text}" if days else text
