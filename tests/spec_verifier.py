"""A second verifier, written from protocol/PROTOCOL.md alone.

It shares no code with ``hotline``: its own msgpack decoder (section 4), the rules of
section 2.1 as written there with `cryptography` (OpenSSL) for the Ed25519 equation, and
the steps of section 6.1 in their order. The agreement tests run it beside hotline's
verifier on the vectors and on many mutated messages: where the two give different
reason codes, either the text leaves a choice open or one of them does not follow it.

Only the standard library and `cryptography` are used, so that nothing of hotline's
decoding (msgpack-python's hooks and limits) can leak in. hotline verifies with
libsodium; the equation is checked here by OpenSSL so that the spec's signature rule is
held against a second implementation of it.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_MESSAGE_BYTES: Final = 65_536
MAX_NESTED_CONTAINERS: Final = 1024
MAX_SAFE_INTEGER: Final = 2**53 - 1

CHANNELS: Final = frozenset({"air", "ground", "general-officer"})
V1_KINDS: Final = frozenset(
    {"notify", "ack", "standby", "dispute", "escalate", "withdraw", "resolve", "heartbeat"}
)
KINDS: Final = V1_KINDS | {"protest", "report", "relay", "correct", "close", "confirm"}
REF_KINDS: Final = frozenset({"ack", "standby", "dispute", "correct", "confirm"})
PRECEDENCES: Final = frozenset({"flash", "immediate", "priority", "routine"})
DISPUTE_REASONS: Final = frozenset(
    {
        "not-our-forces",
        "no-notice-received",
        "breach-of-protocol",
        "location-conflict",
        "insufficient-lead-time",
        "inside-agreed-zone",
        "location-wrong",
        "too-close",
        "other",
    }
)
OUTCOMES: Final = frozenset({"acknowledged", "disputed", "resolved", "withdrawn", "unresolved"})
KEYS: Final = ("v", "id", "ch", "k", "from", "to", "inc", "ref", "seq", "ts", "pr", "body")
# Section 3.4: the kinds whose body may say where, and the positions each shape takes.
LOCATED_KINDS: Final = frozenset({"notify", "protest", "report", "relay", "escalate"})
LOCATION_KEYS: Final = frozenset({"shape", "coords", "radius_m", "width_m"})
POSITIONS: Final = {"point": (1, 1), "circle": (1, 1), "polygon": (4, 128), "route": (2, 128)}
LONGITUDE_BOUND: Final = 180_000_000
LATITUDE_BOUND: Final = 90_000_000

STATION_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
INCIDENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", re.ASCII)


class Rejected(Exception):
    """The message is refused; ``reason`` is the code of section 7.1."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- Section 4: decoding --------------------------------------------------------------


class _Extension:
    """An extension value: decoding goes on, and the whole value is refused at the end."""


# The msgpack headers by first byte: value, or the size of the length (or the data).
_SIMPLE: Final[dict[int, object]] = {0xC0: None, 0xC2: False, 0xC3: True}
_BIN: Final = {0xC4: 1, 0xC5: 2, 0xC6: 4}
_EXTENSION: Final = {0xC7: 1, 0xC8: 2, 0xC9: 4}
_UNSIGNED: Final = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
_SIGNED: Final = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
_FIXED_EXTENSION: Final = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_STR: Final = {0xD9: 1, 0xDA: 2, 0xDB: 4}


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.extension = False

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise Rejected("truncated")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def value(self, enclosing: int) -> object:
        """One value; ``enclosing`` is how many containers hold it."""
        head = self.take(1)[0]
        if head <= 0x7F:
            return head
        if head >= 0xE0:
            return head - 0x100
        if 0x80 <= head <= 0x8F:
            return self.map(head & 0x0F, enclosing)
        if 0x90 <= head <= 0x9F:
            return self.array(head & 0x0F, enclosing)
        if 0xA0 <= head <= 0xBF:
            return self.text(head & 0x1F)
        if head in _SIMPLE:
            return _SIMPLE[head]
        if head == 0xC1:
            raise Rejected("malformed")
        if head in _BIN:
            return self.take(self.number(_BIN[head]))
        if head in _EXTENSION:
            return self.extension_value(self.number(_EXTENSION[head]))
        if head == 0xCA:
            return float(struct.unpack(">f", self.take(4))[0])
        if head == 0xCB:
            return float(struct.unpack(">d", self.take(8))[0])
        if head in _UNSIGNED:
            return self.number(_UNSIGNED[head])
        if head in _SIGNED:
            return int.from_bytes(self.take(_SIGNED[head]), "big", signed=True)
        if head in _FIXED_EXTENSION:
            return self.extension_value(_FIXED_EXTENSION[head])
        if head in _STR:
            return self.text(self.number(_STR[head]))
        if head in (0xDC, 0xDD):
            return self.array(self.number(2 if head == 0xDC else 4), enclosing)
        return self.map(self.number(2 if head == 0xDE else 4), enclosing)

    def text(self, length: int) -> str:
        raw = self.take(length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("malformed") from None

    def extension_value(self, length: int) -> _Extension:
        code = int.from_bytes(self.take(1), "big", signed=True)
        data = self.take(length)
        if code == -1 and not _is_timestamp(data):
            raise Rejected("malformed")
        self.extension = True
        return _Extension()

    def open_container(self, count: int, enclosing: int, limit: int) -> None:
        if enclosing + 1 > MAX_NESTED_CONTAINERS:
            raise Rejected("too-deep")
        # A count that even the whole input could not hold (an item takes at least one
        # byte, an entry two) is refused before any item is read.
        if count > limit:
            raise Rejected("truncated")

    def array(self, count: int, enclosing: int) -> list[object]:
        self.open_container(count, enclosing, len(self.data))
        return [self.value(enclosing + 1) for _ in range(count)]

    def map(self, count: int, enclosing: int) -> dict[object, object]:
        self.open_container(count, enclosing, len(self.data) // 2)
        entries: list[tuple[object, object]] = []
        for _ in range(count):
            key = self.value(enclosing + 1)
            item = self.value(enclosing + 1)
            if type(key) not in (str, bytes):
                raise Rejected("malformed")
            entries.append((key, item))
        result = dict(entries)
        if len(result) != len(entries):
            raise Rejected("duplicate-key")
        return result


def _is_timestamp(data: bytes) -> bool:
    if len(data) == 4:
        return True
    if len(data) == 8:
        return int.from_bytes(data, "big") >> 34 < 10**9
    if len(data) == 12:
        return int.from_bytes(data[:4], "big") < 10**9
    return False


def decode(data: bytes) -> object:
    """Decode ``data`` as one msgpack value under section 4."""
    decoder = _Decoder(data)
    # The decoder recurses once per level, three frames each: 1,024 levels need room.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_NESTED_CONTAINERS + 200))
    try:
        value = decoder.value(0)
    finally:
        sys.setrecursionlimit(limit)
    if decoder.pos != len(data):
        raise Rejected("trailing-bytes")
    if decoder.extension:
        raise Rejected("forbidden-type")
    return value


# -- Section 8: the keyring, as the vectors carry it ----------------------------------


@dataclass(frozen=True)
class Key:
    public_key: bytes
    station: str
    channels: frozenset[str]
    not_before: float | None
    not_after: float | None
    revoked_at: float | None


def _time(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    assert isinstance(value, str)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def keyring_from_document(document: Mapping[str, Any]) -> dict[bytes, Key]:
    keys = {}
    for entry in document["keys"]:
        public_key = bytes.fromhex(entry["public_key"])
        key_id = hashlib.sha256(public_key).digest()[:16]
        keys[key_id] = Key(
            public_key=public_key,
            station=entry["station"],
            channels=frozenset(entry["channels"]),
            not_before=_time(entry.get("not_before")),
            not_after=_time(entry.get("not_after")),
            revoked_at=_time(entry.get("revoked_at")),
        )
    return keys


# -- Section 3: the envelope -----------------------------------------------------------


def _utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def _identifier(value: object, pattern: re.Pattern[str]) -> None:
    if type(value) is not str:
        raise Rejected("invalid-field")
    if _utf8_length(value) > 64:
        raise Rejected("field-too-large")
    if pattern.fullmatch(value) is None:
        raise Rejected("invalid-field")


def _body_container(value: Mapping[object, object] | Sequence[object], level: int) -> None:
    if level > 8:
        raise Rejected("too-deep")
    if len(value) > 256:
        raise Rejected("field-too-large")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is not str:
                raise Rejected("invalid-field")
            if _utf8_length(key) > 64:
                raise Rejected("field-too-large")
            _body_value(item, level)
    else:
        for item in value:
            _body_value(item, level)


def _body_value(value: object, level: int) -> None:
    if type(value) is float and not math.isfinite(value):
        raise Rejected("invalid-field")
    if type(value) is str and _utf8_length(value) > 4096:
        raise Rejected("field-too-large")
    if type(value) is bytes and len(value) > 4096:
        raise Rejected("field-too-large")
    if type(value) in (list, dict):
        _body_container(value, level + 1)  # type: ignore[arg-type]


def _named(value: object, names: frozenset[str]) -> bool:
    return type(value) is str and value in names


def _distance(body: Mapping[object, object]) -> None:
    """An optional ``distance_m``: whole metres, never negative (3.2)."""
    if "distance_m" not in body:
        return
    distance = body["distance_m"]
    if type(distance) is not int or distance < 0:
        raise Rejected("invalid-field")


def _location(where: object) -> None:
    """A ``where`` map, its seven checks in the order section 3.4 lists them."""
    if type(where) is not dict:
        raise Rejected("invalid-field")
    if any(key not in LOCATION_KEYS for key in where):
        raise Rejected("invalid-field")
    shape = where.get("shape")
    if type(shape) is not str or shape not in POSITIONS:
        raise Rejected("invalid-field")
    coords = where.get("coords")
    if type(coords) is not list:
        raise Rejected("invalid-field")
    if len(coords) > 256:
        raise Rejected("field-too-large")
    for index, number in enumerate(coords):
        bound = LATITUDE_BOUND if index % 2 == 1 else LONGITUDE_BOUND
        if type(number) is not int or not -bound <= number <= bound:
            raise Rejected("invalid-field")
    if len(coords) % 2 == 1:
        raise Rejected("invalid-field")
    least, most = POSITIONS[shape]
    if not least <= len(coords) // 2 <= most:
        raise Rejected("invalid-field")
    if shape == "polygon" and coords[:2] != coords[-2:]:
        raise Rejected("invalid-field")
    radius = where.get("radius_m")
    if shape == "circle" and (type(radius) is not int or radius <= 0):
        raise Rejected("invalid-field")
    if shape != "circle" and "radius_m" in where:
        raise Rejected("invalid-field")
    if "width_m" in where:
        width = where["width_m"]
        if shape != "route" or type(width) is not int or width < 0:
            raise Rejected("invalid-field")


def _kind_rule(kind: str, body: Mapping[object, object]) -> None:
    """The body requirements of the table in section 3.2, in its order."""
    if kind == "dispute":
        if not _named(body.get("reason"), DISPUTE_REASONS):
            raise Rejected("invalid-field")
        _distance(body)
    if kind == "close" and not _named(body.get("outcome"), OUTCOMES):
        raise Rejected("invalid-field")
    if kind == "confirm" and "outcome" in body and not _named(body["outcome"], OUTCOMES):
        raise Rejected("invalid-field")
    if kind == "correct":
        answer = body.get("answer")
        if not _named(answer, frozenset({"ack", "dispute"})):
            raise Rejected("invalid-field")
        if answer == "dispute":
            if not _named(body.get("reason"), DISPUTE_REASONS):
                raise Rejected("invalid-field")
            _distance(body)
    if kind == "relay":
        _identifier(body.get("for"), STATION_ID)
    if kind in LOCATED_KINDS and "where" in body:
        _location(body["where"])


def check_envelope(envelope: object) -> dict[object, Any]:
    """Step 5 after decoding: the version, the key set, then the fields in the order of 6.1."""
    if type(envelope) is not dict:
        raise Rejected("malformed")
    if "v" not in envelope:
        raise Rejected("missing-field")
    if type(envelope["v"]) is not int:
        raise Rejected("invalid-field")
    if envelope["v"] not in (1, 2):
        raise Rejected("unsupported-version")
    if any(key not in envelope for key in KEYS):
        raise Rejected("missing-field")
    if len(envelope) != len(KEYS):
        raise Rejected("unknown-field")
    fields: dict[object, Any] = envelope
    _check_types(fields)
    _check_values(fields)
    return fields


def _check_types(fields: Mapping[object, Any]) -> None:
    """The first pass of 6.1: each field's msgpack type (and ch, k, pr by name)."""
    if type(fields["id"]) is not bytes:
        raise Rejected("invalid-field")
    if fields["ref"] is not None and type(fields["ref"]) is not bytes:
        raise Rejected("invalid-field")
    if type(fields["body"]) is not dict:
        raise Rejected("invalid-field")
    for name in ("from", "inc"):
        if type(fields[name]) is not str:
            raise Rejected("invalid-field")
    if type(fields["to"]) is not list or any(type(item) is not str for item in fields["to"]):
        raise Rejected("invalid-field")
    for name in ("seq", "ts"):
        if type(fields[name]) is not int:
            raise Rejected("invalid-field")
    for name, names, unknown in (
        ("ch", CHANNELS, "unknown-channel"),
        ("k", KINDS, "unknown-kind"),
        ("pr", PRECEDENCES, "invalid-field"),
    ):
        if type(fields[name]) is not str:
            raise Rejected("invalid-field")
        if fields[name] not in names:
            raise Rejected(unknown)


def _check_values(fields: Mapping[object, Any]) -> None:
    """The second pass of 6.1: each field's value, then the body and the kind's rule."""
    kind = fields["k"]
    if fields["v"] == 1 and kind not in V1_KINDS:
        raise Rejected("unknown-kind")
    if len(fields["id"]) != 16:
        raise Rejected("invalid-field")
    _identifier(fields["from"], STATION_ID)
    recipients = fields["to"]
    if not recipients:
        raise Rejected("invalid-field")
    if len(recipients) > 16:
        raise Rejected("field-too-large")
    for station in recipients:
        _identifier(station, STATION_ID)
    if len(set(recipients)) != len(recipients) or fields["from"] in recipients:
        raise Rejected("invalid-field")
    _identifier(fields["inc"], INCIDENT_ID)
    if not 1 <= fields["seq"] <= MAX_SAFE_INTEGER:
        raise Rejected("invalid-field")
    if not 0 <= fields["ts"] <= MAX_SAFE_INTEGER:
        raise Rejected("invalid-field")
    if fields["ref"] is None:
        if kind in REF_KINDS:
            raise Rejected("invalid-field")
    elif len(fields["ref"]) != 32:
        raise Rejected("invalid-field")
    _body_container(fields["body"], 1)
    _kind_rule(kind, fields["body"])


# -- Section 2.1: signature verification ----------------------------------------------

#: L, the order of the base point.
GROUP_ORDER: Final = 2**252 + 27742317777372353535851937790883648493
FIELD_PRIME: Final = 2**255 - 19
_SMALL_ORDER_HEX: Final = (
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
)
#: The seven small-order encodings, each also with its top bit (in the last byte) set.
SMALL_ORDER: Final = frozenset(
    encoding
    for text in _SMALL_ORDER_HEX
    for encoding in (
        bytes.fromhex(text),
        bytes.fromhex(text[:-2]) + bytes([int(text[-2:], 16) | 0x80]),
    )
)


def signature_is_good(public_key: bytes, envelope_bytes: bytes, signature: bytes) -> bool:
    """Rules 1 to 4 of section 2.1, in their order. OpenSSL's Ed25519 verification is
    cofactorless, so it is rule 4 (and refuses a key that is no point of the curve)."""
    r, s = signature[:32], int.from_bytes(signature[32:], "little")
    if s >= GROUP_ORDER:
        return False
    if r in SMALL_ORDER:
        return False
    y = int.from_bytes(public_key, "little") & ((1 << 255) - 1)
    if y >= FIELD_PRIME or public_key in SMALL_ORDER:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, envelope_bytes)
    except (InvalidSignature, ValueError):
        return False
    return True


# -- Section 6: verification -----------------------------------------------------------


@dataclass
class _Window:
    highest: int = 0
    accepted: set[int] = field(default_factory=set)


@dataclass
class SpecVerifier:
    """Steps 1 to 8 of section 6.1, with the replay memory of 6.2."""

    keyring: Mapping[bytes, Key]
    max_age: float = 3600.0
    max_skew: float = 120.0
    replay_window: int = 1024
    max_bytes: int = MAX_MESSAGE_BYTES
    _ids: dict[bytes, float] = field(default_factory=dict)
    _windows: dict[tuple[str, bytes], _Window] = field(default_factory=dict)

    def verify(self, data: bytes, now: float, channel: str | None = None) -> dict[object, Any]:
        """The envelope's fields if ``data`` is accepted; else `Rejected`."""
        if len(data) > self.max_bytes:
            raise Rejected("too-large")
        outer = decode(data)
        if (
            type(outer) is not list
            or len(outer) != 3
            or any(type(part) is not bytes for part in outer)
            or len(outer[1]) != 16
            or len(outer[2]) != 64
        ):
            raise Rejected("malformed")
        envelope_bytes, key_id, signature = outer
        key = self.keyring.get(key_id)
        if key is None:
            raise Rejected("unknown-key")
        if key.revoked_at is not None and now >= key.revoked_at:
            raise Rejected("key-revoked")
        if key.not_before is not None and now < key.not_before:
            raise Rejected("key-not-yet-valid")
        if key.not_after is not None and now >= key.not_after:
            raise Rejected("key-expired")
        if channel is not None and channel not in key.channels:
            raise Rejected("key-not-for-channel")
        if not signature_is_good(key.public_key, envelope_bytes, signature):
            raise Rejected("bad-signature")
        fields = check_envelope(decode(envelope_bytes))
        if fields["ch"] not in key.channels:
            raise Rejected("key-not-for-channel")
        if fields["from"] != key.station:
            raise Rejected("sender-mismatch")
        if channel is not None and fields["ch"] != channel:
            raise Rejected("channel-mismatch")
        sent = fields["ts"] / 1000
        if sent < now - self.max_age - self.max_skew:
            raise Rejected("stale")
        if sent > now + self.max_skew:
            raise Rejected("future")
        self._remember(fields, now, key_id)
        return fields

    def _remember(self, fields: Mapping[object, Any], now: float, key_id: bytes) -> None:
        self._ids = {ident: until for ident, until in self._ids.items() if until >= now}
        if fields["id"] in self._ids:
            raise Rejected("replay")
        window = self._windows.setdefault((fields["from"], key_id), _Window())
        seq = fields["seq"]
        if seq <= window.highest - self.replay_window or seq in window.accepted:
            raise Rejected("sequence-regression")
        window.highest = max(window.highest, seq)
        window.accepted = {
            n for n in window.accepted | {seq} if n > window.highest - self.replay_window
        }
        self._ids[fields["id"]] = fields["ts"] / 1000 + self.max_age + self.max_skew


def verifier_for(document: Mapping[str, Any]) -> SpecVerifier:
    """A fresh verifier with a vector document's keyring and settings."""
    settings = document["verifier"]
    return SpecVerifier(
        keyring_from_document(document["keyring"]),
        max_age=float(settings["max_age"]),
        max_skew=float(settings["max_skew"]),
        replay_window=int(settings["replay_window"]),
    )


def verdict(verifier: SpecVerifier, data: bytes, now: float, channel: str | None) -> str:
    """``valid`` or the reason code."""
    try:
        verifier.verify(data, now, channel)
    except Rejected as rejected:
        return rejected.reason
    return "valid"
