"""The envelope: hotline's unit of meaning on the wire, and its msgpack encoding.

Theory of operation: an `Envelope` is a frozen value that validates every field when it
is built, so an envelope that exists is one a receiver would accept on schema grounds.
`encode_envelope` writes it as a msgpack map with short keys in a fixed order; that
byte string is what gets signed (see `hotline.core.signing`). `decode_envelope` is the
receiving side's hardened decoder: it runs only on bytes whose signature already
verified, yet still treats them as hostile (a valid key can be stolen), so it bounds
sizes and nesting, refuses extension types and duplicate map keys, and accepts exactly
the v1 key set. Every failure is a `MalformedMessage` with a reason code.

Nothing here reads a clock: sender time is a field the caller fills in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NoReturn, TypeVar

import msgpack

from hotline.core.body import check_body
from hotline.core.errors import InvalidEnvelope, MalformedMessage, Reason
from hotline.core.names import (
    ANSWER_KINDS,
    Channel,
    DisputeReason,
    Kind,
    Precedence,
    check_incident_id,
    check_station_id,
)

PROTOCOL_VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 65_536
MESSAGE_ID_BYTES: Final = 16
DIGEST_BYTES: Final = 32
MAX_RECIPIENTS: Final = 16
#: Sequence numbers and sender times stay below 2**53 so that every language's JSON and
#: double-precision numbers carry them exactly.
MAX_SAFE_INTEGER: Final = 2**53 - 1

#: The v1 envelope keys, in encoding order.
ENVELOPE_KEYS: Final = ("v", "id", "ch", "k", "from", "to", "inc", "ref", "seq", "ts", "pr", "body")
_KEY_SET: Final = frozenset(ENVELOPE_KEYS)

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
            ``ack``, ``standby`` and ``dispute``.
        body: kind-specific content: a map with string keys holding nil, booleans,
            integers, finite floats, strings, bytes, arrays and maps (depth <= 8).
            Arrays decode as lists.
        version: protocol version; only 1 exists.

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
        # This runs for every message built and every message received, so the common
        # case (one valid recipient, known identifiers) takes the shortest path; every
        # check still runs, and the slow helpers produce the error messages.
        if self.version != PROTOCOL_VERSION:
            _invalid("v", f"version {self.version!r} unsupported", Reason.UNSUPPORTED_VERSION)
        ident = self.id
        if type(ident) is not bytes or len(ident) != MESSAGE_ID_BYTES:
            _invalid("id", "message id must be exactly 16 bytes")
        if type(self.channel) is not Channel:
            object.__setattr__(self, "channel", _coerce(Channel, self.channel, "ch"))
        kind = self.kind
        if type(kind) is not Kind:
            kind = _coerce(Kind, kind, "k")
            object.__setattr__(self, "kind", kind)
        if type(self.precedence) is not Precedence:
            object.__setattr__(self, "precedence", _coerce(Precedence, self.precedence, "pr"))
        sender = check_station_id(self.sender, "from")
        recipients = self.recipients
        if type(recipients) is not tuple:
            if isinstance(recipients, str) or not isinstance(recipients, Sequence):
                _invalid("to", "recipients must be an array of station ids")
            recipients = tuple(recipients)
            object.__setattr__(self, "recipients", recipients)
        if len(recipients) != 1 or recipients[0] == sender:
            _check_recipients(recipients, sender)
        else:
            check_station_id(recipients[0], "to[0]")
        check_incident_id(self.incident, "inc")
        seq, sent_at_ms = self.seq, self.sent_at_ms
        if type(seq) is not int or not 1 <= seq <= MAX_SAFE_INTEGER:
            _check_counter(seq, "seq", minimum=1)
        if type(sent_at_ms) is not int or not 0 <= sent_at_ms <= MAX_SAFE_INTEGER:
            _check_counter(sent_at_ms, "ts", minimum=0)
        ref = self.ref
        if ref is None:
            if kind in ANSWER_KINDS:
                _invalid("ref", f"a {kind} must carry the digest of the message it answers")
        elif type(ref) is not bytes or len(ref) != DIGEST_BYTES:
            _invalid("ref", "reference digest must be exactly 32 bytes")
        body = self.body
        if type(body) is not dict and not isinstance(body, Mapping):
            _invalid("body", "body must be a map")
        if body:
            check_body(body)
        if kind is Kind.DISPUTE and body.get("reason") not in _DISPUTE_REASONS:
            _invalid("body.reason", f"a dispute needs a reason, one of {_DISPUTE_LIST}")

    @property
    def sent_at(self) -> float:
        """Sender time in seconds since the Unix epoch."""
        return self.sent_at_ms / 1000.0


_DISPUTE_REASONS: Final = frozenset(str(r) for r in DisputeReason)
_DISPUTE_LIST: Final = ", ".join(DisputeReason)


_E = TypeVar("_E", Channel, Kind, Precedence)


def _coerce(enum: type[_E], value: object, field_name: str) -> _E:
    # A dict lookup: calling the Enum class is several times slower, and this runs
    # three times for every message received.
    member = _MEMBERS[enum].get(value) if type(value) is str else None
    if member is None:
        reason = _UNKNOWN_REASON.get(enum, Reason.INVALID_FIELD)
        _invalid(field_name, f"{value!r} is not one of {', '.join(enum)}", reason)
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


def _check_counter(value: object, field_name: str, *, minimum: int) -> None:
    if type(value) is not int:
        _invalid(field_name, "must be an integer")
    if not minimum <= value <= MAX_SAFE_INTEGER:
        _invalid(field_name, f"{value} outside {minimum} .. 2**53-1")


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


class _ExtensionType(Exception):
    pass


def _pairs_to_dict(pairs: list[tuple[object, object]]) -> dict[object, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def _refuse_ext(code: int, data: bytes) -> NoReturn:
    raise _ExtensionType(code)


def unpack_strict(data: bytes, what: str) -> object:
    """Decode one msgpack object from ``data`` with hotline's hardening rules.

    Declared lengths are bounded by the input's size, extension types and duplicate map
    keys are refused, map keys must be strings or bytes, strings must be valid UTF-8,
    and nesting beyond the decoder's stack is refused.

    Raises:
        MalformedMessage: with reason truncated, trailing-bytes, too-deep,
            forbidden-type, duplicate-key or malformed.
    """
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            object_pairs_hook=_pairs_to_dict,
            ext_hook=_refuse_ext,
        )
    except msgpack.ExtraData:
        raise MalformedMessage(Reason.TRAILING_BYTES, f"bytes after the {what}") from None
    except msgpack.StackError:
        raise MalformedMessage(Reason.TOO_DEEP, f"{what} nested too deeply") from None
    except _DuplicateKey:
        raise MalformedMessage(Reason.DUPLICATE_KEY, f"a map in the {what} repeats a key") from None
    except _ExtensionType:
        raise MalformedMessage(Reason.FORBIDDEN_TYPE, f"extension type in the {what}") from None
    except UnicodeDecodeError:
        raise MalformedMessage(Reason.MALFORMED, f"invalid UTF-8 string in the {what}") from None
    except ValueError as exc:
        text = str(exc)
        if "incomplete input" in text or "exceeds max_" in text:
            raise MalformedMessage(Reason.TRUNCATED, f"{what} ends early") from None
        raise MalformedMessage(Reason.MALFORMED, f"{what} is not valid msgpack ({text})") from None
    except Exception as exc:  # msgpack raises a few bare types (e.g. FormatError, TypeError)
        raise MalformedMessage(Reason.MALFORMED, f"{what} is not valid msgpack ({exc})") from None


def decode_envelope(data: bytes) -> Envelope:
    """Decode and validate envelope bytes (already authenticated by their signature).

    Raises:
        MalformedMessage: the bytes are not a v1 envelope; ``reason`` says how.
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
    if version != PROTOCOL_VERSION:
        raise MalformedMessage(Reason.UNSUPPORTED_VERSION, f"v: version {version} unsupported")
    if obj.keys() != _KEY_SET:
        missing = [key for key in ENVELOPE_KEYS if key not in obj]
        if missing:
            raise MalformedMessage(Reason.MISSING_FIELD, f"envelope lacks {missing[0]!r}")
        extra = sorted(repr(key) for key in obj if key not in _KEY_SET)
        raise MalformedMessage(Reason.UNKNOWN_FIELD, f"envelope has unknown field {extra[0]}")
    try:
        return Envelope(
            version=version,
            id=obj["id"],
            channel=obj["ch"],
            kind=obj["k"],
            sender=obj["from"],
            recipients=obj["to"],
            incident=obj["inc"],
            ref=obj["ref"],
            seq=obj["seq"],
            sent_at_ms=obj["ts"],
            precedence=obj["pr"],
            body=obj["body"],
        )
    except InvalidEnvelope as exc:
        raise MalformedMessage(exc.reason, str(exc)) from None
