"""The JSON form of an envelope, used by `hotline inspect`, the test vectors and logs.

msgpack carries byte strings that JSON cannot, so the JSON form spells them out:
``id`` and ``ref`` as lowercase hex, and any ``bin`` value inside the body as
``{"$bin": "<hex>"}``. Everything else maps one to one. This form is informative: the
signed bytes, never this rendering, are what a receiver verifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.core.errors import InvalidEnvelope, Reason
from hotline.core.wire import ENVELOPE_KEY_SET, Envelope, envelope_from_fields

BIN_TAG = "$bin"


def envelope_to_json(envelope: Envelope) -> dict[str, Any]:
    """The JSON-ready dict of ``envelope`` (keys as on the wire)."""
    return {
        "v": envelope.version,
        "id": envelope.id.hex(),
        "ch": envelope.channel.value,
        "k": envelope.kind.value,
        "from": envelope.sender,
        "to": list(envelope.recipients),
        "inc": envelope.incident,
        "ref": None if envelope.ref is None else envelope.ref.hex(),
        "seq": envelope.seq,
        "ts": envelope.sent_at_ms,
        "pr": envelope.precedence.value,
        "body": body_to_json(envelope.body),
    }


def body_to_json(value: Any) -> Any:
    """Replace bytes by ``{"$bin": hex}`` throughout a body value."""
    if isinstance(value, bytes):
        return {BIN_TAG: value.hex()}
    if isinstance(value, Mapping):
        return {key: body_to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [body_to_json(item) for item in value]
    return value


def body_from_json(value: Any, where: str = "body") -> Any:
    """Inverse of `body_to_json`: ``{"$bin": hex}`` becomes bytes again.

    Raises:
        InvalidEnvelope: a ``$bin`` tag whose value is not hex.
    """
    if isinstance(value, dict):
        if set(value) == {BIN_TAG}:
            try:
                return bytes.fromhex(value[BIN_TAG])
            except (TypeError, ValueError):
                raise InvalidEnvelope(Reason.INVALID_FIELD, where, "$bin is not hex") from None
        return {key: body_from_json(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [body_from_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def envelope_from_json(data: Mapping[str, Any]) -> Envelope:
    """Build an envelope from its JSON form (the inverse of `envelope_to_json`).

    Raises:
        InvalidEnvelope: a field is missing, unknown or invalid.
    """
    unknown = set(data) - ENVELOPE_KEY_SET
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidEnvelope(Reason.UNKNOWN_FIELD, name, "not an envelope field")
    for name in ("id", "ch", "k", "from", "to", "inc", "seq", "ts", "pr"):
        if name not in data:
            raise InvalidEnvelope(Reason.MISSING_FIELD, name, "required")
    fields = dict(data)
    fields["id"] = _hex(data["id"], "id")
    fields["ref"] = None if data.get("ref") is None else _hex(data["ref"], "ref")
    fields["body"] = body_from_json(data.get("body", {}))
    return envelope_from_fields(fields, data.get("v", 1))


def _hex(value: object, field: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidEnvelope(Reason.INVALID_FIELD, field, "must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidEnvelope(Reason.INVALID_FIELD, field, "must be a hex string") from None
