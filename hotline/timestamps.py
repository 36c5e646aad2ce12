"""Reading and writing instants as users type them: RFC 3339 text or Unix seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def parse_instant(text: str) -> float:
    """Parse ``text`` as Unix seconds (``1700000000.5``) or RFC 3339 (``2018-02-07T20:00:00Z``).

    A timestamp without a UTC offset is refused: hotline never guesses a time zone.

    Raises:
        ValueError: with a message saying what was expected.
    """
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{text!r} is not a non-negative number of Unix seconds")
        return value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither Unix seconds nor an RFC 3339 time like 2018-02-07T20:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +00:00)")
    return parsed.timestamp()


def format_instant(seconds: float) -> str:
    """RFC 3339 text in UTC, with milliseconds only when they are not zero."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
