"""Reading and writing instants as users type them: RFC 3339 text or Unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime

#: The last second of the year 9999, the latest instant hotline reads or prints.
LATEST = 253_402_300_799.0


def in_calendar(seconds: float) -> bool:
    """Whether ``seconds`` is an instant hotline reads or prints: finite, from 1970 to
    the year 9999 (false for NaN, as every comparison with it is)."""
    return 0.0 <= seconds <= LATEST


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
        if not in_calendar(value):
            raise ValueError(
                f"{text!r} is not a number of Unix seconds from 0 to {LATEST:.0f} (year 9999)"
            )
        return value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither Unix seconds nor an RFC 3339 time like 2018-02-07T20:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +00:00)")
    seconds = parsed.timestamp()
    if seconds < 0:
        raise ValueError(f"{text!r} is before 1970")
    return seconds


def format_instant(seconds: float) -> str:
    """RFC 3339 text in UTC, with milliseconds only when they are not zero; a time no
    calendar shows (NaN, infinite, before 1970 or after 9999) is said to be so."""
    if not in_calendar(seconds):
        return f"{seconds!r} (not a time)"
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
