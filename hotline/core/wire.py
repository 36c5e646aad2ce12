"""The envelope: hotline's unit of meaning on the wire, and its msgpack encoding.

Theory of operation: an `Envelope` is a frozen value that validates every field when it
is built, so an envelope that exists is one a receiver would accept on schema grounds.
`encode_envelope` writes it as a msgpack map with short keys in a fixed order; that
byte string is what gets signed (see `hotline.core.signing`). `decode_envelope` is the
receiving side's hardened decoder: it runs only on bytes whose signature already
verified, yet still treats them as hostile (a valid key can be stolen), so it bounds
sizes and nesting, refuses extension types and duplicate map keys, and accepts exactly
the envelope key set (the same in v1 and v2). Every failure is a `MalformedMessage`
with a reason code, and which code a message with several defects gets is fixed by
protocol/PROTOCOL.md (sections 4 and 6.1): the whole value is decoded before any
extension inside it is reported, and the fields are checked in a set order.

Nothing here reads a clock: sender time is a field the caller fills in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, NoReturn, TypeVar

import msgpack

from hotline.core.body import check_body
from hotline.core.errors import InvalidEnvelope, MalformedMessage, Reason
from hotline.core.names import (
    CORRECTED_ANSWERS,
    MAX_IDENTIFIER_LENGTH,
    OUTCOME_NAMES,
    REF_KINDS,
    V1_KINDS,
    Channel,
    DisputeReason,
    Kind,
    Precedence,
    check_incident_id,
    check_station_id,
)
from hotline.core.where import check_where

#: The version this implementation sends.
PROTOCOL_VERSION: Final = 2
#: The versions it reads: version 2 only adds kinds, so a v1 message means the same.
SUPPORTED_VERSIONS: Final = frozenset({1, 2})
MAX_MESSAGE_BYTES: Final = 65_536
MESSAGE_ID_BYTES: Final = 16
DIGEST_BYTES: Final = 32
MAX_RECIPIENTS: Final = 16
#: Sequence numbers and sender times stay below 2**53 so that every language's JSON and
#: double-precision numbers carry them exactly.
MAX_SAFE_INTEGER: Final = 2**53 - 1

#: The envelope keys, in encoding order.
ENVELOPE_KEYS: Final = ("v", "id", "ch", "k", "from", "to", "inc", "ref", "seq", "ts", "pr", "body")
ENVELOPE_KEY_SET: Final = frozenset(ENVELOPE_KEYS)

Body = Mapping[str, object]


def _invalid(field_name: str, detail: str, reason: Reason = Reason.INVALID_FIELD) -> NoReturn:
    raise InvalidEnvelope(reason, field_name, detail)


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One hotline message before signing, or after verification.

    Args:
        id: 16 bytes unique to this message (random, or a ULID).
        channel: the line the message travels on.
        kind: what the message does within its incident.
        sender: the sending station's id.
        recipients: the addressed station ids (1 to 16, distinct, not the sender).
        incident: the incident this message belongs to.
        seq: the sender's sequence number, strictly increasing per sender (1 .. 2**53-1).
        sent_at_ms: sender time, milliseconds since the Unix epoch (0 .. 2**53-1).
        precedence: how urgent the message is.
        ref: SHA-256 digest of the envelope this message answers; required for
            ``ack``, ``standby``, ``dispute``, ``confirm`` and ``correct``.
        body: kind-specific content: a map with string keys holding nil, booleans,
            integers, finite floats, strings, bytes, arrays and maps (depth <= 8).
            Arrays decode as lists.
        version: protocol version, 2 (sent) or 1 (read; only the v1 kinds).

    Raises:
        InvalidEnvelope: a field is out of range or of the wrong type.
    """

    id: bytes
    channel: Channel
    kind: Kind
    sender: str
    recipients: tuple[str, ...]
    incident: str
    seq: int
    sent_at_ms: int
    precedence: Precedence
    ref: bytes | None = None
    body: Body = field(default_factory=dict)
    version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        # Types first: the constructor takes typed values and a wrong Python type is a
        # TypeError (a compiled build enforces the annotations before this runs; this
        # keeps pure Python identical). Untyped outside data goes through
        # `envelope_from_fields`, which reports defects with reason codes instead.
        # This runs for every message built and every message received, so the common
        # case takes the shortest path; the slow helpers produce the error messages.
        recipients = self.recipients
        if (
            type(self.id) is not bytes
            or type(self.channel) is not Channel
            or type(self.kind) is not Kind
            or type(self.precedence) is not Precedence
            or type(self.sender) is not str
            or type(recipients) is not tuple
            or type(self.incident) is not str
            or type(self.seq) is not int
            or type(self.sent_at_ms) is not int
            or (self.ref is not None and type(self.ref) is not bytes)
            or (type(self.body) is not dict and not isinstance(self.body, Mapping))
        ):
            _wrong_type(self)
        if self.version != PROTOCOL_VERSION:
            _check_version(self.version, self.kind)
        if len(self.id) != MESSAGE_ID_BYTES:
            _invalid("id", "message id must be exactly 16 bytes")
        try:
            sender = check_station_id(self.sender, "from")
            if len(recipients) != 1 or recipients[0] == sender:
                _check_recipients(recipients, sender)
            else:
                check_station_id(recipients[0], "to[0]")
            check_incident_id(self.incident, "inc")
        except InvalidEnvelope as exc:
            _identifier_defect(exc, self)
        if not 1 <= self.seq <= MAX_SAFE_INTEGER:
            _invalid("seq", f"{self.seq} outside 1 .. 2**53-1")
        if not 0 <= self.sent_at_ms <= MAX_SAFE_INTEGER:
            _invalid("ts", f"{self.sent_at_ms} outside 0 .. 2**53-1")
        kind, ref, body = self.kind, self.ref, self.body
        if ref is None:
            if kind in REF_KINDS:
                _invalid("ref", f"a {kind} must carry the digest of the message it answers")
        elif len(ref) != DIGEST_BYTES:
            _invalid("ref", "reference digest must be exactly 32 bytes")
        if body:
            check_body(body)
        rule = _BODY_RULES.get(kind)
        if rule is not None:
            rule(body)

    @property
    def sent_at(self) -> float:
        """Sender time in seconds since the Unix epoch."""
        return self.sent_at_ms / 1000.0


_DISPUTE_REASONS: Final = frozenset(str(r) for r in DisputeReason)
_DISPUTE_LIST: Final = ", ".join(DisputeReason)
_OUTCOME_LIST: Final = ", ".join(OUTCOME_NAMES)


def _check_version(version: int, kind: Kind) -> None:
    if version not in SUPPORTED_VERSIONS:
        _invalid("v", f"version {version!r} unsupported", Reason.UNSUPPORTED_VERSION)
    if kind not in V1_KINDS:
        _invalid("k", f"{kind.value!r} is not a version 1 kind", Reason.UNKNOWN_KIND)


# Body values can be any decoded type, lists and maps included, so each rule tests the
# type before a set lookup (which would raise TypeError on an unhashable value).


def _needs_reason(body: Body, field_name: str = "body.reason") -> None:
    reason = body.get("reason")
    if type(reason) is not str or reason not in _DISPUTE_REASONS:
        _invalid(field_name, f"a dispute needs a reason, one of {_DISPUTE_LIST}")


def _may_give_distance(body: Body) -> None:
    if "distance_m" in body:
        distance = body["distance_m"]
        if type(distance) is not int or distance < 0:
            _invalid("body.distance_m", "a distance is a whole number of metres, 0 or more")


def _needs_reason_may_give_distance(body: Body) -> None:
    _needs_reason(body)
    _may_give_distance(body)


def _may_locate(body: Body) -> None:
    if "where" in body:
        check_where(body["where"])


def _needs_outcome(body: Body) -> None:
    outcome = body.get("outcome")
    if type(outcome) is not str or outcome not in OUTCOME_NAMES:
        _invalid("body.outcome", f"a close names the outcome, one of {_OUTCOME_LIST}")


def _may_name_outcome(body: Body) -> None:
    if "outcome" in body:
        outcome = body["outcome"]
        if type(outcome) is not str or outcome not in OUTCOME_NAMES:
            _invalid("body.outcome", f"a confirmed outcome is one of {_OUTCOME_LIST}")


def _needs_answer(body: Body) -> None:
    answer = body.get("answer")
    if type(answer) is not str or answer not in CORRECTED_ANSWERS:
        _invalid("body.answer", "a correction's answer is ack or dispute")
    if answer == Kind.DISPUTE:
        _needs_reason(body)
        _may_give_distance(body)


def _needs_final_addressee(body: Body) -> None:
    value = body.get("for")
    try:
        check_station_id(value, "body.for")
    except InvalidEnvelope as exc:
        _too_long_or(exc, value)


def _relay_body(body: Body) -> None:
    # In the order of the spec's table: whom the relay is for, then where.
    _needs_final_addressee(body)
    _may_locate(body)


def _too_long_or(exc: InvalidEnvelope, value: object) -> NoReturn:
    # Identifier limits count UTF-8 bytes and are checked before the characters
    # (PROTOCOL.md 3.1). `check_station_id` counts characters, which differs only for a
    # non-ASCII value of at most 64 characters: refused either way, this picks the code.
    if (
        exc.reason is Reason.INVALID_FIELD
        and type(value) is str
        and len(value.encode("utf-8", "surrogatepass")) > MAX_IDENTIFIER_LENGTH
    ):
        raise InvalidEnvelope(
            Reason.FIELD_TOO_LARGE, exc.field, f"identifier over {MAX_IDENTIFIER_LENGTH} bytes"
        ) from None
    raise exc


def _identifier_defect(exc: InvalidEnvelope, envelope: Envelope) -> NoReturn:
    where = exc.field
    value: object = None
    if where == "from":
        value = envelope.sender
    elif where == "inc":
        value = envelope.incident
    elif where.startswith("to["):
        value = envelope.recipients[int(where[3:-1])]
    _too_long_or(exc, value)


# Body fields the protocol itself reads, per kind (sections 3.2 and 3.4 of the spec).
_BODY_RULES: Final = {
    Kind.DISPUTE: _needs_reason_may_give_distance,
    Kind.CLOSE: _needs_outcome,
    Kind.CONFIRM: _may_name_outcome,
    Kind.CORRECT: _needs_answer,
    Kind.NOTIFY: _may_locate,
    Kind.PROTEST: _may_locate,
    Kind.REPORT: _may_locate,
    Kind.RELAY: _relay_body,
    Kind.ESCALATE: _may_locate,
}


_E = TypeVar("_E", Channel, Kind, Precedence)


def _coerce(enum: type[_E], value: object, field_name: str) -> _E:
    # A dict lookup: calling the Enum class is several times slower, and this runs
    # three times for every message received.
    member = _MEMBERS[enum].get(value) if type(value) is str else None
    if member is None:
        # A string that names no member is unknown; a value of another type is invalid.
        reason = (
            _UNKNOWN_REASON.get(enum, Reason.INVALID_FIELD)
            if type(value) is str
            else Reason.INVALID_FIELD
        )
        names = ", ".join(m.value for m in enum)
        _invalid(field_name, f"{value!r} is not one of {names}", reason)
    return member  # type: ignore[return-value]


_MEMBERS: Final[dict[type, dict[object, object]]] = {
    enum: {member.value: member for member in enum} for enum in (Channel, Kind, Precedence)
}
_UNKNOWN_REASON: Final = {Channel: Reason.UNKNOWN_CHANNEL, Kind: Reason.UNKNOWN_KIND}


def _check_recipients(recipients: tuple[str, ...], sender: str) -> None:
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        reason = Reason.FIELD_TOO_LARGE if recipients else Reason.INVALID_FIELD
        _invalid("to", f"1 to {MAX_RECIPIENTS} recipients required, got {len(recipients)}", reason)
    for index, station in enumerate(recipients):
        check_station_id(station, f"to[{index}]")
    if len(set(recipients)) != len(recipients):
        _invalid("to", "a station is addressed twice")
    if sender in recipients:
        _invalid("to", "a station cannot address itself")


_FIELD_TYPES: Final = (
    ("id", "bytes"),
    ("channel", "Channel"),
    ("kind", "Kind"),
    ("precedence", "Precedence"),
    ("sender", "str"),
    ("recipients", "tuple"),
    ("incident", "str"),
    ("seq", "int"),
    ("sent_at_ms", "int"),
    ("ref", "bytes or None"),
    ("body", "Mapping"),
)


def _wrong_type(envelope: Envelope) -> NoReturn:
    for name, expected in _FIELD_TYPES:
        value = getattr(envelope, name)
        if type(value).__name__ not in expected.split(" or ") and not (
            (name == "ref" and value is None) or (name == "body" and isinstance(value, Mapping))
        ):
            raise TypeError(f"Envelope.{name} must be {expected}, not {type(value).__name__}")
    raise TypeError("Envelope field of the wrong type")


def envelope_from_fields(
    fields: Mapping[str, object], version: object = PROTOCOL_VERSION
) -> Envelope:
    """Build an envelope from untyped data (decoded msgpack, JSON), wire names as keys.

    Strings become enums, arrays become tuples; a value of the wrong type is refused
    with the reason code a receiver reports for it.

    Raises:
        InvalidEnvelope: naming the field and its reason code.
    """
    if type(version) is not int:
        _invalid("v", "version must be an integer")
    ident, ref, body = fields["id"], fields["ref"], fields["body"]
    if type(ident) is not bytes:
        _invalid("id", "message id must be bytes")
    if ref is not None and type(ref) is not bytes:
        _invalid("ref", "reference digest must be bytes or nil")
    if not isinstance(body, Mapping):
        _invalid("body", "body must be a map")
    sender, incident = fields["from"], fields["inc"]
    if type(sender) is not str:
        _invalid("from", "station id must be a string")
    if type(incident) is not str:
        _invalid("inc", "incident id must be a string")
    recipients = fields["to"]
    if type(recipients) is list:
        recipients = tuple(recipients)
    if type(recipients) is not tuple:
        _invalid("to", "recipients must be an array of station ids")
    for index, station in enumerate(recipients):
        if type(station) is not str:
            _invalid(f"to[{index}]", "station id must be a string")
    seq, sent_at_ms = fields["seq"], fields["ts"]
    if type(seq) is not int:
        _invalid("seq", "must be an integer")
    if type(sent_at_ms) is not int:
        _invalid("ts", "must be an integer")
    return Envelope(
        version=version,
        id=ident,
        channel=_coerce(Channel, fields["ch"], "ch"),
        kind=_coerce(Kind, fields["k"], "k"),
        sender=sender,
        recipients=recipients,
        incident=incident,
        ref=ref,
        seq=seq,
        sent_at_ms=sent_at_ms,
        precedence=_coerce(Precedence, fields["pr"], "pr"),
        body=body,
    )


def encode_envelope(envelope: Envelope) -> bytes:
    """Encode ``envelope`` as the msgpack map that gets signed (keys in fixed order)."""
    # packb builds a fresh Packer per call: a shared one is not thread-safe.
    packed: bytes = msgpack.packb(
        {
            "v": envelope.version,
            "id": envelope.id,
            "ch": envelope.channel,  # StrEnum members pack as plain strings
            "k": envelope.kind,
            "from": envelope.sender,
            "to": envelope.recipients,
            "inc": envelope.incident,
            "ref": envelope.ref,
            "seq": envelope.seq,
            "ts": envelope.sent_at_ms,
            "pr": envelope.precedence,
            "body": envelope.body,
        }
    )
    return packed


def digest(envelope_bytes: bytes) -> bytes:
    """The SHA-256 digest that answers (``ref``) use to name the message they answer."""
    return hashlib.sha256(envelope_bytes).digest()


class _DuplicateKey(Exception):
    pass


# An extension is reported only once the whole value has decoded (PROTOCOL.md 4), so a
# decoding defect after it still wins. Each extension decodes to this placeholder, and a
# container holding one decodes to it too, so it rises to the top. msgpack decodes the
# timestamp extension (-1) itself, without the ext hook, as a `Timestamp`: the
# placeholder is a `Timestamp` as well, and the containers look for that type.
_EXTENSION: Final = msgpack.Timestamp(0)
_EXTENSION_TYPE: Final = msgpack.Timestamp


def _pairs_to_dict(pairs: list[tuple[object, object]]) -> object:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    if _EXTENSION_TYPE in map(type, result.values()):
        return _EXTENSION
    return result


def _list_of(items: list[object]) -> object:
    if _EXTENSION_TYPE in map(type, items):
        return _EXTENSION
    return items


def _placeholder(code: int, data: bytes) -> object:
    return _EXTENSION


def unpack_strict(data: bytes, what: str) -> object:
    """Decode one msgpack object from ``data`` with hotline's hardening rules.

    Declared lengths are bounded by the input's size (a string, bin or extension longer
    than the input, an array with more items than the input has bytes, a map with more
    entries than half of them: truncated), duplicate map keys are refused, map keys
    must be strings or bytes, strings must be valid UTF-8, more than 1,024 nested
    containers are refused, and an extension anywhere in a value that otherwise decodes
    is forbidden-type.

    Raises:
        MalformedMessage: with reason truncated, trailing-bytes, too-deep,
            forbidden-type, duplicate-key or malformed.
    """
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            object_pairs_hook=_pairs_to_dict,
            list_hook=_list_of,
            ext_hook=_placeholder,
        )
    except msgpack.ExtraData:
        raise MalformedMessage(Reason.TRAILING_BYTES, f"bytes after the {what}") from None
    except msgpack.StackError:
        raise MalformedMessage(Reason.TOO_DEEP, f"{what} nested too deeply") from None
    except _DuplicateKey:
        raise MalformedMessage(Reason.DUPLICATE_KEY, f"a map in the {what} repeats a key") from None
    except UnicodeDecodeError:
        raise MalformedMessage(Reason.MALFORMED, f"invalid UTF-8 string in the {what}") from None
    except ValueError as exc:
        text = str(exc)
        if "incomplete input" in text or "exceeds max_" in text:
            raise MalformedMessage(Reason.TRUNCATED, f"{what} ends early") from None
        raise MalformedMessage(Reason.MALFORMED, f"{what} is not valid msgpack ({text})") from None
    except Exception as exc:  # msgpack raises a few bare types (e.g. FormatError, TypeError)
        raise MalformedMessage(Reason.MALFORMED, f"{what} is not valid msgpack ({exc})") from None
    if type(value) is _EXTENSION_TYPE:
        raise MalformedMessage(Reason.FORBIDDEN_TYPE, f"extension type in the {what}")
    return value


def decode_envelope(data: bytes) -> Envelope:
    """Decode and validate envelope bytes (already authenticated by their signature).

    Raises:
        MalformedMessage: the bytes are not a v1 or v2 envelope; ``reason`` says how.
    """
    obj = unpack_strict(data, "envelope")
    if not isinstance(obj, dict):
        raise MalformedMessage(Reason.MALFORMED, "envelope is not a map")
    # The version is judged before the key set, so a future version with new fields is
    # reported as unsupported rather than as carrying unknown fields.
    if "v" not in obj:
        raise MalformedMessage(Reason.MISSING_FIELD, "envelope has no 'v' (version)")
    version = obj["v"]
    if type(version) is not int:
        raise MalformedMessage(Reason.INVALID_FIELD, "v: version must be an integer")
    if version not in SUPPORTED_VERSIONS:
        raise MalformedMessage(Reason.UNSUPPORTED_VERSION, f"v: version {version} unsupported")
    if obj.keys() != ENVELOPE_KEY_SET:
        missing = [key for key in ENVELOPE_KEYS if key not in obj]
        if missing:
            raise MalformedMessage(Reason.MISSING_FIELD, f"envelope lacks {missing[0]!r}")
        extra = sorted(repr(key) for key in obj if key not in ENVELOPE_KEY_SET)
        raise MalformedMessage(Reason.UNKNOWN_FIELD, f"envelope has unknown field {extra[0]}")
    try:
        return envelope_from_fields(obj, version)
    except InvalidEnvelope as exc:
        raise MalformedMessage(exc.reason, str(exc)) from None
