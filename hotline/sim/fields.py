"""Reading typed fields out of a parsed TOML document, with errors that name the path.

The scenario loader (`hotline.sim.scenario`) is built on `FieldReader`: every problem
becomes one `ScenarioError` naming the file, the field (``events[2].channel``) and the
reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hotline.core.body import MAX_BODY_TEXT_BYTES
from hotline.core.errors import HotlineError
from hotline.core.names import Channel, check_station_id
from hotline.sim.durations import parse_duration


class ScenarioError(HotlineError, ValueError):
    """A scenario that cannot be run: names the file, the field and the reason."""

    def __init__(self, source: str, field: str, detail: str) -> None:
        super().__init__(f"{source}: {field}: {detail}" if field else f"{source}: {detail}")
        self.source = source
        self.field = field
        self.detail = detail


def read_input(path: Path, limit: int) -> bytes:
    """The bytes of an input file, at most ``limit`` of them (bounded: /dev/zero or a
    huge file is refused, not read whole).

    Raises:
        ScenarioError: the file cannot be read, or is larger than ``limit``.
    """
    source = str(path)
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise ScenarioError(source, "", exc.strerror or str(exc)) from None
    if len(data) > limit:
        raise ScenarioError(source, "", f"larger than {limit // 1_000_000} MB")
    return data


_T = TypeVar("_T")


class FieldReader:
    """Reads typed fields from a TOML document; raises `ScenarioError` naming the path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, detail: str) -> ScenarioError:
        return ScenarioError(self.source, where, detail)

    def table(
        self, value: object, where: str, allowed: frozenset[str] | None = None
    ) -> Mapping[str, Any]:
        """``value`` as a table, refusing keys outside ``allowed`` (when given)."""
        if not isinstance(value, Mapping):
            raise self.fail(where, "must be a table")
        if allowed is not None:
            unknown = sorted(set(value) - allowed)
            if unknown:
                name = f"{where}.{unknown[0]}" if where else unknown[0]
                raise self.fail(name, f"unknown field (known: {', '.join(sorted(allowed))})")
        return value

    def convert(self, where: str, value: object, how: Callable[[Any], _T]) -> _T:
        try:
            return how(value)
        except (ValueError, TypeError, KeyError) as exc:
            # a KeyError's text is the repr of its key: take the key itself, not a
            # strip of quotes, which would also eat a quote the message ends with
            detail = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else ""
            detail = detail or str(getattr(exc, "detail", exc))
            head, _, tail = detail.partition(": ")
            if tail and " " not in head and head.replace("_", "").isalpha():
                raise self.fail(f"{where}.{head}", tail) from None
            raise self.fail(where, detail) from None

    def text(
        self,
        entry: Mapping[str, Any],
        key: str,
        where: str,
        default: str | None = None,
        *,
        limit: int | None = MAX_BODY_TEXT_BYTES,
    ) -> str:
        """A string field; at most ``limit`` UTF-8 bytes (by default the protocol's limit
        for a string in a message body, so what passes here is never refused when sent)."""
        value = entry.get(key, default)
        if value is None:
            raise self.fail(f"{where}.{key}", "required")
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", f"must be a string, not {value!r}")
        if limit is not None and len(value) > limit // 4 and len(value.encode()) > limit:
            raise self.fail(f"{where}.{key}", f"longer than {limit} bytes (UTF-8)")
        return value

    def choice(
        self,
        entry: Mapping[str, Any],
        key: str,
        where: str,
        options: tuple[str, ...],
        default: str | None = None,
    ) -> str:
        value = self.text(entry, key, where, default)
        if value not in options:
            raise self.fail(f"{where}.{key}", f"{value!r} is not one of {', '.join(options)}")
        return value

    def number(
        self, entry: Mapping[str, Any], key: str, where: str, low: float, high: float
    ) -> float | None:
        value = entry.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise self.fail(
                f"{where}.{key}", f"must be a number from {low:g} to {high:g}, not {value!r}"
            )
        return float(value)

    def count(self, entry: Mapping[str, Any], key: str, where: str, high: int) -> int | None:
        value = entry.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise self.fail(
                f"{where}.{key}", f"must be a whole number from 0 to {high}, not {value!r}"
            )
        return value

    def duration(self, entry: Mapping[str, Any], key: str, where: str) -> float | None:
        if key not in entry:
            return None
        return self.convert(f"{where}.{key}", entry[key], parse_duration)

    def duration_or(self, entry: Mapping[str, Any], key: str, where: str, default: float) -> float:
        found = self.duration(entry, key, where)
        return default if found is None else found

    def channel(self, value: object, where: str) -> Channel:
        if value not in Channel.__members__.values():
            raise self.fail(where, f"{value!r} is not a channel ({', '.join(Channel)})")
        return Channel(str(value))

    def station(self, value: object, where: str, known: Mapping[str, Any]) -> str:
        self.convert(where, value, check_station_id)
        if value not in known:
            raise self.fail(where, f"{value!r} is not a station of any party ({', '.join(known)})")
        return str(value)
