"""What an envelope body may hold, and the check that enforces it.

A body is a map with string keys whose values are nil, booleans, 64-bit integers,
finite floats, strings, bytes, arrays and maps, nested at most `MAX_BODY_DEPTH` levels
(the body map itself is level 1; only maps and arrays have levels, so a scalar inside a
level-8 map is allowed), with per-value size limits. Limits on strings, keys included,
count UTF-8 bytes, as the msgpack header does. The limits make a hostile body cheap to
refuse and keep every value representable in JSON-like models of other languages.

The check runs on every envelope built or received, so it is written for the common
case: no string formatting until a defect is found, and the path of the offending
value (``body.area.points[3]``) assembled on the way out of the recursion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from hotline.core.errors import InvalidEnvelope, Reason

MAX_BODY_DEPTH: Final = 8
MAX_BODY_ITEMS: Final = 256
MAX_BODY_TEXT_BYTES: Final = 4096
MAX_BODY_KEY_LENGTH: Final = 64
_MIN_INT: Final = -(2**63)
_MAX_UINT: Final = 2**64 - 1
# A str of at most this many characters cannot exceed the byte limit in UTF-8.
_SAFE_TEXT_LENGTH: Final = MAX_BODY_TEXT_BYTES // 4
_SAFE_KEY_LENGTH: Final = MAX_BODY_KEY_LENGTH // 4


class _Defect(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.path: list[str] = []


def check_body(body: Mapping[Any, object], field: str = "body") -> None:
    """Raise `InvalidEnvelope` (field ``body...``) unless ``body`` is a valid body."""
    try:
        _check_map(body, 1)
    except _Defect as defect:
        where = field + "".join(reversed(defect.path))
        raise InvalidEnvelope(defect.reason, where, defect.detail) from None


def _check_map(value: Mapping[Any, object], depth: int) -> None:
    if depth > MAX_BODY_DEPTH:
        raise _Defect(Reason.TOO_DEEP, f"nested deeper than {MAX_BODY_DEPTH} levels")
    if len(value) > MAX_BODY_ITEMS:
        raise _Defect(Reason.FIELD_TOO_LARGE, f"map of {len(value)} entries (max {MAX_BODY_ITEMS})")
    for key, item in value.items():
        if type(key) is not str:
            raise _Defect(Reason.INVALID_FIELD, f"map key {key!r} is not a string")
        if len(key) > _SAFE_KEY_LENGTH and _utf8_length(key) > MAX_BODY_KEY_LENGTH:
            raise _Defect(Reason.FIELD_TOO_LARGE, f"map key over {MAX_BODY_KEY_LENGTH} bytes")
        kind = type(item)
        # Inline fast paths for the common scalars; everything else goes the long way.
        if (
            item is None
            or kind is bool
            or (kind is str and len(item) <= _SAFE_TEXT_LENGTH)  # type: ignore[arg-type]
            or (kind is float and math.isfinite(item))  # type: ignore[arg-type]
            or (kind is int and _MIN_INT <= item <= _MAX_UINT)  # type: ignore[operator]
        ):
            continue
        try:
            _check_value(item, depth)
        except _Defect as defect:
            defect.path.append(f".{key}")
            raise


def _check_value(value: object, depth: int) -> None:
    kind = type(value)
    if value is None or kind is bool:
        return
    if kind is int:
        if not _MIN_INT <= value <= _MAX_UINT:  # type: ignore[operator]
            raise _Defect(Reason.INVALID_FIELD, "integer outside the msgpack 64-bit range")
    elif kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise _Defect(Reason.INVALID_FIELD, "floats must be finite")
    elif kind is str:
        text: str = value  # type: ignore[assignment]
        if len(text) > _SAFE_TEXT_LENGTH and _utf8_length(text) > MAX_BODY_TEXT_BYTES:
            raise _Defect(Reason.FIELD_TOO_LARGE, f"string over {MAX_BODY_TEXT_BYTES} bytes")
    elif kind is bytes:
        if len(value) > MAX_BODY_TEXT_BYTES:  # type: ignore[arg-type]
            raise _Defect(Reason.FIELD_TOO_LARGE, f"bytes over {MAX_BODY_TEXT_BYTES}")
    elif kind is list or kind is tuple:
        _check_array(value, depth + 1)  # type: ignore[arg-type]
    elif kind is dict:
        _check_map(value, depth + 1)  # type: ignore[arg-type]
    else:
        raise _Defect(Reason.FORBIDDEN_TYPE, f"type {kind.__name__} cannot be carried")


def _utf8_length(text: str) -> int:
    # surrogatepass: a locally built body may hold lone surrogates; they cannot be
    # encoded for sending, but measuring them must not raise.
    return len(text.encode("utf-8", "surrogatepass"))


def _check_array(items: Sequence[object], depth: int) -> None:
    if depth > MAX_BODY_DEPTH:
        raise _Defect(Reason.TOO_DEEP, f"nested deeper than {MAX_BODY_DEPTH} levels")
    if len(items) > MAX_BODY_ITEMS:
        raise _Defect(Reason.FIELD_TOO_LARGE, f"array of {len(items)} items (max {MAX_BODY_ITEMS})")
    for index, item in enumerate(items):
        try:
            _check_value(item, depth)
        except _Defect as defect:
            defect.path.append(f"[{index}]")
            raise
