"""Protocol test vectors: building them from fixed keys, and checking them.

Ed25519 signatures are deterministic, so vectors built from fixed seeds are byte-stable:
`hotline vectors generate` rewrites protocol/vectors/ identically, and a test holds the
committed files to that. Each vector is self-contained (keyring, verifier policy, time,
optional earlier messages, the message, the expected verdict) so that an implementation
in another language can run them with no other input; protocol/vectors/README.md
describes the format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgpack

from hotline.core.errors import HotlineError, KeyringError, RejectedMessage
from hotline.core.jsonform import envelope_to_json
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, DisputeReason, Kind, Precedence
from hotline.core.signing import ED25519_ORDER, StationKey, key_id_of
from hotline.core.verifier import Verifier, VerifierPolicy
from hotline.core.where import Where
from hotline.core.wire import ENVELOPE_KEYS, Envelope, digest, encode_envelope
from hotline.keyfiles import keyring_from_document, keyring_to_document
from hotline.timestamps import in_calendar

#: 2018-02-07T20:00:00Z, the evening of the Khasham attack: the vectors' "now".
NOW = 1_518_033_600.0
NOW_MS = int(NOW * 1000)
POLICY = VerifierPolicy(max_age=3600.0, max_skew=120.0, replay_window=1024)
VECTOR_FORMAT = 1


def _seed(name: str) -> bytes:
    return hashlib.sha256(b"hotline test vector key: " + name.encode()).digest()


def _message_id(name: str) -> bytes:
    return hashlib.sha256(b"hotline test vector id: " + name.encode()).digest()[:16]


AIR_GO = frozenset({Channel.AIR, Channel.GENERAL_OFFICER})
CAOC = StationKey(_seed("US-CAOC"), "US-CAOC")
HMEIMIM = StationKey(_seed("RU-HMEIMIM"), "RU-HMEIMIM")
US_GROUND = StationKey(_seed("US-GROUND"), "US-GROUND")
RU_GROUND = StationKey(_seed("RU-GROUND"), "RU-GROUND")
TR_GROUND = StationKey(_seed("TR-GROUND"), "TR-GROUND")
HMEIMIM_OLD = StationKey(_seed("RU-HMEIMIM old"), "RU-HMEIMIM")
CAOC_EXPIRED = StationKey(_seed("US-CAOC expired"), "US-CAOC")
CAOC_NEXT = StationKey(_seed("US-CAOC next"), "US-CAOC")
INTRUDER = StationKey(_seed("intruder"), "RU-HMEIMIM")


def _trusted(
    key: StationKey, party: str, channels: frozenset[Channel], **times: float
) -> TrustedKey:
    return TrustedKey(
        public_key=key.public_key, party=party, station=key.station, channels=channels, **times
    )


KEYRING = Keyring(
    [
        _trusted(CAOC, "US", AIR_GO),
        _trusted(HMEIMIM, "RU", AIR_GO),
        _trusted(US_GROUND, "US", frozenset({Channel.GROUND})),
        _trusted(RU_GROUND, "RU", frozenset({Channel.GROUND})),
        _trusted(TR_GROUND, "TR", frozenset({Channel.GROUND})),
        _trusted(HMEIMIM_OLD, "RU", AIR_GO, revoked_at=NOW - 86_400),
        _trusted(CAOC_EXPIRED, "US", AIR_GO, not_before=NOW - 400 * 86_400, not_after=NOW - 86_400),
        _trusted(CAOC_NEXT, "US", AIR_GO, not_before=NOW + 86_400),
    ]
)

NOTICE = Envelope(
    id=_message_id("notice"),
    channel=Channel.AIR,
    kind=Kind.NOTIFY,
    sender="US-CAOC",
    recipients=("RU-HMEIMIM",),
    incident="US-CAOC:2018-0207-1",
    seq=41,
    sent_at_ms=NOW_MS - 5_000,
    precedence=Precedence.FLASH,
    body={
        "activity": "strike",
        "starts_at": NOW_MS + 600_000,
        "ends_at": NOW_MS + 3_600_000,
        "area": {"lat": 35.243, "lon": 40.187, "radius_km": 5.0},
        "text": "Strikes east of the river within the window; keep clear.",
        "attempt": 1,
    },
)
NOTICE_BYTES = encode_envelope(NOTICE)


def _answer(kind: Kind, name: str, **body: object) -> Envelope:
    return Envelope(
        id=_message_id(name),
        channel=Channel.AIR,
        kind=kind,
        sender="RU-HMEIMIM",
        recipients=("US-CAOC",),
        incident=NOTICE.incident,
        ref=digest(NOTICE_BYTES),
        seq=7,
        sent_at_ms=NOW_MS - 2_000,
        precedence=Precedence.FLASH,
        body=body,
    )


@dataclass(frozen=True, slots=True)
class Case:
    """One vector before serialisation."""

    slug: str
    description: str
    message: bytes
    reason: str | None = None  # None: the message is valid
    channel: str | None = None  # a channel name, or (to pin that rule) another name
    prior: tuple[bytes, ...] = ()
    keyring: Keyring | None = None  # None: the shared KEYRING


def _raw(envelope: Envelope, **changes: object) -> bytes:
    """Encode ``envelope`` with fields replaced or (value ``...``) removed, unvalidated."""
    fields = msgpack.unpackb(encode_envelope(envelope), raw=False)
    for name, value in changes.items():
        if value is ...:
            del fields[name]
        else:
            fields[name] = value
    ordered = {name: fields[name] for name in ENVELOPE_KEYS if name in fields}
    ordered.update({name: v for name, v in fields.items() if name not in ordered})
    return bytes(msgpack.packb(ordered, use_bin_type=True))


def _cases() -> Iterator[Case]:
    notice = CAOC.sign(NOTICE)
    yield from _valid_cases(notice)
    yield from _version_2_cases()
    yield from _trust_and_time_cases(notice)
    yield from _structure_cases(notice)
    yield from _pinned_cases(notice)
    yield from _signature_cases(notice)
    yield from _location_cases()


def _valid_cases(notice: bytes) -> Iterator[Case]:
    yield Case("valid-notify", "A FLASH strike notice on the air line.", notice)
    yield Case(
        "valid-ack",
        "Acknowledgement bound to the notice's digest.",
        HMEIMIM.sign(_answer(Kind.ACK, "ack")),
    )
    yield Case(
        "valid-standby",
        "Standby: received, working on it.",
        HMEIMIM.sign(_answer(Kind.STANDBY, "standby")),
    )
    yield Case(
        "valid-dispute",
        "Dispute with a disavowal: not our forces.",
        HMEIMIM.sign(_answer(Kind.DISPUTE, "dispute", reason=DisputeReason.NOT_OUR_FORCES.value)),
    )
    escalation = replace(
        NOTICE,
        id=_message_id("escalate"),
        channel=Channel.GENERAL_OFFICER,
        kind=Kind.ESCALATE,
        seq=42,
        ref=digest(NOTICE_BYTES),
        body={"reason": "no answer on air"},
    )
    yield Case("valid-escalate", "Escalation to the general-officer line.", CAOC.sign(escalation))
    withdrawal = replace(
        NOTICE, id=_message_id("withdraw"), kind=Kind.WITHDRAW, seq=49, body={"text": "Called off."}
    )
    yield Case("valid-withdraw", "The originator withdraws its notice.", CAOC.sign(withdrawal))
    heartbeat = replace(
        NOTICE,
        id=_message_id("heartbeat"),
        kind=Kind.HEARTBEAT,
        incident="US-CAOC:line-test",
        precedence=Precedence.ROUTINE,
        seq=40,
        body={"text": "Line check on the air channel at 2000Z; answer not required."},
    )
    yield Case("valid-heartbeat", "Line test traffic.", CAOC.sign(heartbeat))
    resolution = replace(
        NOTICE,
        id=_message_id("resolve"),
        channel=Channel.GENERAL_OFFICER,
        kind=Kind.RESOLVE,
        seq=54,
        body={"actions": {"US": "holds the strike", "RU": "moves the convoy west"}},
    )
    yield Case(
        "valid-resolve", "Agreed mutual actions on the general-officer line.", CAOC.sign(resolution)
    )
    three_party = Envelope(
        id=_message_id("three-party"),
        channel=Channel.GROUND,
        kind=Kind.NOTIFY,
        sender="TR-GROUND",
        recipients=("US-GROUND", "RU-GROUND"),
        incident="TR-GROUND:77",
        seq=1,
        sent_at_ms=NOW_MS - 60_000,
        precedence=Precedence.PRIORITY,
        body={"activity": "strike", "lead_time_s": 7200},
    )
    yield Case(
        "valid-three-party", "A notice addressed to two other parties.", TR_GROUND.sign(three_party)
    )
    yield Case(
        "valid-body-types",
        "Body using every allowed msgpack type, and float32, uint64, str8, str16, bin16 and"
        " int64 headers (the body bytes are written by hand).",
        CAOC.sign_bytes(_typed_body_envelope()),
    )
    yield Case(
        "valid-body-at-depth-limit",
        "Body nested exactly 8 levels (7 maps, then an array at level 8 holding scalars):"
        " scalars have no level.",
        CAOC.sign(replace(NOTICE, id=_message_id("depth-8"), seq=46, body=_nested(7, ["x", 1]))),
    )
    yield Case(
        "valid-utf8-at-limits",
        "A body key of 64 UTF-8 bytes (32 characters) and a string of 4,096 bytes (2,048"
        " characters): limits count bytes.",
        CAOC.sign(replace(NOTICE, id=_message_id("utf8"), seq=47, body={"é" * 32: "é" * 2048})),
    )
    yield Case(
        "valid-v1-notify",
        "A version 1 notice: version 2 receivers read version 1.",
        CAOC.sign(replace(NOTICE, id=_message_id("v1 notice"), seq=48, version=1)),
    )
    oldest = replace(NOTICE, id=_message_id("oldest"), seq=44, sent_at_ms=NOW_MS - 3_720_000)
    yield Case(
        "valid-at-age-limit", "Sent exactly max_age + max_skew ago: still fresh.", CAOC.sign(oldest)
    )
    ahead = replace(NOTICE, id=_message_id("ahead"), seq=45, sent_at_ms=NOW_MS + 120_000)
    yield Case("valid-skew-ahead", "Sender clock ahead by exactly max_skew.", CAOC.sign(ahead))
    yield Case(
        "valid-on-topic-channel", "Arrival channel known and matching.", notice, channel=Channel.AIR
    )


def _nested(maps: int, leaf: object) -> dict[str, object]:
    """``maps`` nested maps (the body is the outermost) whose innermost holds ``leaf``."""
    body: dict[str, object] = {"leaf": leaf}
    for _ in range(maps - 1):
        body = {"n": body}
    return body


def _typed_body_envelope() -> bytes:
    # msgpack-python writes every float as float64, so the body map is assembled entry by
    # entry to put a float32 (0xca) in it; the other headers are the ones it picks.
    entries: list[tuple[str, object]] = [
        ("route", [[35.1, 40.1], [35.2, 40.3]]),
        ("escort", None),
        ("armed", True),
        ("count", -3),
        ("token", b"\x00\xff"),
        ("nested", {"a": {"b": {"c": 1}}}),
        ("heading", "float32"),
        ("serial", 2**64 - 1),
        ("offset", -(2**63)),
        ("callsign", "VIPER-21 flight of four, tasked east of the river"),
        ("remarks", "r" * 300),
        ("image", bytes(range(256)) * 2),
    ]
    body = bytes([0x80 | len(entries)])
    for key, value in entries:
        body += msgpack.packb(key)
        if value == "float32":
            body += msgpack.packb(271.5, use_single_float=True)
        else:
            body += msgpack.packb(value, use_bin_type=True)
    headers = (b"\xca", b"\xcf", b"\xd3", b"\xd9", b"\xda", b"\xc5")
    assert all(header in body for header in headers)
    shell = _raw(replace(NOTICE, id=_message_id("typed-body"), seq=43), body={})
    assert shell.endswith(b"\xa4body\x80")
    return shell[:-1] + body


def _version_2_cases() -> Iterator[Case]:
    closing = replace(
        NOTICE,
        id=_message_id("close"),
        kind=Kind.CLOSE,
        seq=50,
        ref=digest(NOTICE_BYTES),
        body={"outcome": "acknowledged"},
    )
    closing_bytes = encode_envelope(closing)
    protest = replace(
        NOTICE,
        id=_message_id("protest"),
        kind=Kind.PROTEST,
        seq=51,
        body={"activity": "flight", "text": "Your flight is over our positions; turn away."},
    )
    report = replace(
        NOTICE,
        id=_message_id("report"),
        kind=Kind.REPORT,
        seq=52,
        body={"activity": "strike", "text": "Struck the depot at 1930Z; no further action."},
    )
    relay = replace(
        NOTICE,
        id=_message_id("relay"),
        kind=Kind.RELAY,
        seq=53,
        body={"activity": "strike", "for": "TR-GROUND", "attempt": 1},
    )
    correction = _answer(Kind.CORRECT, "correct", answer="ack", text="Our forces after all.")
    confirmation = replace(
        _answer(Kind.CONFIRM, "confirm", outcome="acknowledged"), ref=digest(closing_bytes)
    )
    yield Case("valid-protest", "A protest: stop the activity under way.", CAOC.sign(protest))
    yield Case("valid-report", "A report of an activity after the fact.", CAOC.sign(report))
    yield Case("valid-relay", "A relay naming the station it is for.", CAOC.sign(relay))
    yield Case("valid-correct", "A correction: the answer is now an ack.", HMEIMIM.sign(correction))
    correct_dispute = _answer(Kind.CORRECT, "correct-dispute", answer="dispute", reason="other")
    yield Case(
        "valid-correct-to-dispute",
        "A correction to a dispute, with its reason.",
        HMEIMIM.sign(correct_dispute),
    )
    yield Case("valid-close", "A close naming the outcome.", CAOC.sign(closing))
    yield Case(
        "valid-confirm", "A confirm of the close, naming the outcome.", HMEIMIM.sign(confirmation)
    )
    bare_confirm = replace(confirmation, id=_message_id("confirm-bare"), body={})
    yield Case(
        "valid-confirm-without-outcome",
        "A confirm with no body: the outcome is optional.",
        HMEIMIM.sign(bare_confirm),
    )
    yield Case(
        "v1-protest",
        "A version 1 envelope carrying protest, a kind version 1 lacks.",
        CAOC.sign_bytes(_raw(protest, v=1)),
        "unknown-kind",
    )
    yield Case(
        "v1-report",
        "A version 1 envelope carrying report, a kind version 1 lacks.",
        CAOC.sign_bytes(_raw(report, v=1)),
        "unknown-kind",
    )
    yield Case(
        "relay-without-for",
        "A relay that does not say whom it is for.",
        CAOC.sign_bytes(_raw(relay, body={"activity": "strike", "attempt": 1})),
        "invalid-field",
    )
    yield Case(
        "correct-answer-maybe",
        "A correction whose answer is neither ack nor dispute.",
        HMEIMIM.sign_bytes(_raw(correction, body={"answer": "maybe"})),
        "invalid-field",
    )
    yield Case(
        "correct-dispute-without-reason",
        "A correction to a dispute that gives no reason.",
        HMEIMIM.sign_bytes(_raw(correct_dispute, body={"answer": "dispute"})),
        "invalid-field",
    )
    yield Case(
        "close-without-outcome",
        "A close that names no outcome.",
        CAOC.sign_bytes(_raw(closing, body={})),
        "invalid-field",
    )
    yield Case(
        "close-unknown-outcome",
        "A close whose outcome is not an outcome.",
        CAOC.sign_bytes(_raw(closing, body={"outcome": "won"})),
        "invalid-field",
    )
    yield Case(
        "confirm-without-ref",
        "A confirm whose ref is nil.",
        HMEIMIM.sign_bytes(_raw(confirmation, ref=None)),
        "invalid-field",
    )
    yield Case(
        "confirm-unknown-outcome",
        "A confirm whose optional outcome is not an outcome.",
        HMEIMIM.sign_bytes(_raw(confirmation, body={"outcome": "maybe"})),
        "invalid-field",
    )


def _trust_and_time_cases(notice: bytes) -> Iterator[Case]:
    flipped = bytearray(notice)
    flipped[-1] ^= 0x01
    yield Case("bad-signature", "Last signature bit flipped.", bytes(flipped), "bad-signature")
    tampered = notice.replace(b"strike", b"patrol")
    yield Case(
        "tampered-body", "Body altered after signing (strike -> patrol).", tampered, "bad-signature"
    )
    yield Case(
        "unknown-key",
        "Signed by a key not in the keyring.",
        INTRUDER.sign(_answer(Kind.ACK, "forged")),
        "unknown-key",
    )
    yield Case(
        "key-revoked",
        "Signed with a key revoked yesterday.",
        HMEIMIM_OLD.sign(_answer(Kind.ACK, "old")),
        "key-revoked",
    )
    yield Case(
        "key-expired",
        "Signed with a key that expired yesterday.",
        CAOC_EXPIRED.sign(NOTICE),
        "key-expired",
    )
    yield Case(
        "key-not-yet-valid",
        "Signed with a key valid from tomorrow.",
        CAOC_NEXT.sign(NOTICE),
        "key-not-yet-valid",
    )
    ground_on_air = replace(NOTICE, sender="US-GROUND", id=_message_id("ground-on-air"))
    yield Case(
        "key-not-for-channel",
        "A ground-line key signing an air message.",
        US_GROUND.sign(ground_on_air),
        "key-not-for-channel",
    )
    yield Case(
        "key-not-for-arrival-channel",
        "An air key's message arriving on the ground topic.",
        notice,
        "key-not-for-channel",
        channel=Channel.GROUND,
    )
    yield Case(
        "channel-mismatch",
        "Envelope says air; arrived on the general-officer topic.",
        notice,
        "channel-mismatch",
        channel=Channel.GENERAL_OFFICER,
    )
    yield Case(
        "sender-mismatch",
        "RU-HMEIMIM's key signing as US-CAOC.",
        HMEIMIM.sign_bytes(NOTICE_BYTES),
        "sender-mismatch",
    )
    yield Case("replay", "The same notice a second time.", notice, "replay", prior=(notice,))
    reused = CAOC.sign(replace(NOTICE, id=_message_id("reused-seq")))
    yield Case(
        "sequence-reused",
        "A new message id with an already-used sequence number.",
        reused,
        "sequence-regression",
        prior=(notice,),
    )
    # a second key of the same station, used (stolen, say) with the highest sequence
    # number: the station's other key has a sequence space of its own
    spare = StationKey(_seed("US-CAOC spare"), "US-CAOC")
    with_spare = KEYRING.with_key(_trusted(spare, "US", AIR_GO))
    highest = spare.sign(replace(NOTICE, id=_message_id("spare-highest"), seq=2**53 - 1))
    yield Case(
        "sequence-space-per-key",
        "After another key of the same station used sequence 2^53-1, this key's own"
        " lower sequence number is still accepted: windows are per station and key.",
        notice,
        prior=(highest,),
        keyring=with_spare,
    )
    yield Case(
        "sequence-regression-same-key",
        "The same key, after it used sequence 2^53-1, is refused a lower one.",
        spare.sign(replace(NOTICE, id=_message_id("spare-lower"))),
        "sequence-regression",
        prior=(highest,),
        keyring=with_spare,
    )
    ahead_far = CAOC.sign(replace(NOTICE, id=_message_id("far"), seq=41 + 2000))
    yield Case(
        "sequence-below-window",
        "Sequence more than replay_window below the highest.",
        notice,
        "sequence-regression",
        prior=(ahead_far,),
    )
    stale = replace(NOTICE, id=_message_id("stale"), sent_at_ms=NOW_MS - 3_720_001)
    yield Case("stale", "Sent 1 ms beyond max_age + max_skew ago.", CAOC.sign(stale), "stale")
    future = replace(NOTICE, id=_message_id("future"), sent_at_ms=NOW_MS + 120_001)
    yield Case("future", "Sender time 1 ms beyond the skew tolerance.", CAOC.sign(future), "future")


def _structure_cases(notice: bytes) -> Iterator[Case]:
    yield Case("truncated", "Last byte cut off.", notice[:-1], "truncated")
    yield Case(
        "trailing-bytes", "One extra byte after the message.", notice + b"\x00", "trailing-bytes"
    )
    huge = CAOC.sign_bytes(_raw(NOTICE, body={f"k{i}": "x" * 4000 for i in range(17)}))
    yield Case("too-large", "Message over 65,536 bytes.", huge, "too-large")
    yield Case(
        "field-too-large",
        "A body string over 4,096 bytes.",
        CAOC.sign_bytes(_raw(NOTICE, body={"text": "x" * 4097})),
        "field-too-large",
    )
    yield Case(
        "too-deep",
        "Body nested nine maps deep (limit 8).",
        CAOC.sign_bytes(_raw(NOTICE, body=_nested(9, 1))),
        "too-deep",
    )
    bomb = b"\x91" * 5000 + b"\xc0"
    bomb_envelope = _raw(NOTICE, body={})[:-1] + b"\x81\xa1n" + bomb
    yield Case(
        "nesting-bomb",
        "5,000 nested arrays in the body.",
        CAOC.sign_bytes(bomb_envelope),
        "too-deep",
    )
    yield Case(
        "unsupported-version",
        "Envelope version 3 (this protocol reads 1 and 2).",
        CAOC.sign_bytes(_raw(NOTICE, v=3)),
        "unsupported-version",
    )
    yield Case(
        "unknown-kind",
        "Kind 'warn' is not a kind of any version.",
        CAOC.sign_bytes(_raw(NOTICE, k="warn")),
        "unknown-kind",
    )
    yield Case(
        "unknown-channel",
        "Channel 'sea' is not a channel.",
        CAOC.sign_bytes(_raw(NOTICE, ch="sea")),
        "unknown-channel",
    )
    yield Case(
        "missing-field",
        "Envelope without 'seq'.",
        CAOC.sign_bytes(_raw(NOTICE, seq=...)),
        "missing-field",
    )
    yield Case(
        "unknown-field",
        "Envelope with an extra field 'x'.",
        CAOC.sign_bytes(_raw(NOTICE, x=1)),
        "unknown-field",
    )
    duplicated = b"\x8d" + NOTICE_BYTES[1:] + msgpack.packb("k") + msgpack.packb("ack")
    yield Case(
        "duplicate-key",
        "Envelope map repeating the key 'k'.",
        CAOC.sign_bytes(duplicated),
        "duplicate-key",
    )
    with_ext = _raw(NOTICE, body={"t": msgpack.ExtType(1, b"\x00")})
    yield Case(
        "forbidden-type",
        "An msgpack extension type in the body.",
        CAOC.sign_bytes(with_ext),
        "forbidden-type",
    )
    yield Case(
        "malformed-outer",
        "Outer structure is a map, not an array.",
        msgpack.packb({"e": NOTICE_BYTES}),
        "malformed",
    )
    yield Case(
        "malformed-envelope",
        "Signed bytes are an array, not a map.",
        CAOC.sign_bytes(msgpack.packb([1, 2])),
        "malformed",
    )
    yield Case(
        "ack-without-ref",
        "An ack whose ref is nil.",
        HMEIMIM.sign_bytes(_raw(_answer(Kind.ACK, "noref"), ref=None)),
        "invalid-field",
    )
    bad_reason = _raw(
        _answer(Kind.DISPUTE, "why", reason="not-our-forces"), body={"reason": "because"}
    )
    yield Case(
        "dispute-unknown-reason",
        "A dispute with an unknown reason.",
        HMEIMIM.sign_bytes(bad_reason),
        "invalid-field",
    )
    yield Case(
        "bad-station-id",
        "A recipient id containing topic wildcards.",
        CAOC.sign_bytes(_raw(NOTICE, to=["RU/#"])),
        "invalid-field",
    )


def _signed_with(envelope_bytes: bytes, key_id: bytes, signature: bytes) -> bytes:
    """A signed message put together by hand (the shape `StationKey.sign_bytes` writes)."""
    length = len(envelope_bytes)
    header = b"\xc4" + bytes([length]) if length < 0x100 else b"\xc5" + length.to_bytes(2, "big")
    return b"".join((b"\x93", header, envelope_bytes, b"\xc4\x10", key_id, b"\xc4\x40", signature))


def _pinned_cases(notice: bytes) -> Iterator[Case]:
    """Cases that pin which reason code a defect gets where a rule could be read two ways."""
    yield Case(
        "outer-decoded-first",
        "Input 93 c0: the outer value is decoded before its shape is checked, so an array"
        " of three that ends after one item is truncated, not malformed.",
        bytes.fromhex("93c0"),
        "truncated",
    )
    ext = b"\xd4\x01\x00"
    parts = notice[1 + 3 + len(NOTICE_BYTES) :]
    yield Case(
        "outer-extension",
        "An extension in place of the envelope bin, in an outer value that otherwise"
        " decodes: forbidden-type at step 2.",
        b"\x93" + ext + parts,
        "forbidden-type",
    )
    yield Case(
        "outer-extension-then-truncated",
        "An extension in the outer value, which then ends early: the decoding defect wins.",
        b"\x93" + ext + parts[:-1],
        "truncated",
    )
    yield Case(
        "channel-wrong-type",
        "ch is the integer 1: a wrong type is invalid-field, not unknown-channel.",
        CAOC.sign_bytes(_raw(NOTICE, ch=1)),
        "invalid-field",
    )
    yield Case(
        "kind-wrong-type",
        "k is the bin b'notify': a wrong type is invalid-field, not unknown-kind.",
        CAOC.sign_bytes(_raw(NOTICE, k=b"notify")),
        "invalid-field",
    )
    yield Case(
        "seq-wrong-type",
        "seq is the float 41.0: a float is never an integer.",
        CAOC.sign_bytes(_raw(NOTICE, seq=41.0)),
        "invalid-field",
    )
    yield Case(
        "too-many-recipients",
        "17 addressees (limit 16).",
        CAOC.sign_bytes(_raw(NOTICE, to=[f"RU-{n}" for n in range(17)])),
        "field-too-large",
    )
    yield Case(
        "station-id-too-long",
        "A recipient id of 65 characters (limit 64).",
        CAOC.sign_bytes(_raw(NOTICE, to=["R" * 65])),
        "field-too-large",
    )
    yield Case(
        "incident-id-over-64-bytes",
        "An incident id of 33 characters but 66 UTF-8 bytes: the byte limit is checked"
        " before the characters.",
        CAOC.sign_bytes(_raw(NOTICE, inc="é" * 33)),
        "field-too-large",
    )
    yield Case(
        "body-key-over-64-bytes",
        "A body key of 33 characters but 66 UTF-8 bytes.",
        CAOC.sign_bytes(_raw(NOTICE, body={"é" * 33: 1})),
        "field-too-large",
    )
    yield Case(
        "body-string-over-4096-bytes",
        "A body string of 2,049 characters, 4,098 UTF-8 bytes.",
        CAOC.sign_bytes(_raw(NOTICE, body={"text": "é" * 2049})),
        "field-too-large",
    )
    stamp = msgpack.Timestamp(int(NOW) - 5)
    yield Case(
        "timestamp-in-ts",
        "ts carries a msgpack timestamp extension: forbidden-type, like any extension.",
        CAOC.sign_bytes(_raw(NOTICE, ts=stamp)),
        "forbidden-type",
    )
    with_ext = _raw(NOTICE, body={"t": msgpack.ExtType(1, b"\x00"), "u": "late"})[:-1]
    assert b"\xd4\x01\x00" in with_ext
    yield Case(
        "extension-then-truncated",
        "An extension in the body, and the envelope then ends early: truncated wins.",
        CAOC.sign_bytes(with_ext),
        "truncated",
    )
    yield Case(
        "empty-map-at-level-9",
        "An empty map at body level 9: containers have levels even when empty.",
        CAOC.sign_bytes(_raw(NOTICE, body=_nested(8, {}))),
        "too-deep",
    )
    yield Case(
        "missing-and-unknown-field",
        "seq absent and an unknown key 'sequence' present: missing-field wins.",
        CAOC.sign_bytes(_raw(NOTICE, seq=..., sequence=41)),
        "missing-field",
    )
    yield Case(
        "nan-in-body",
        "A NaN float in the body.",
        CAOC.sign_bytes(_raw(NOTICE, body={"lat": float("nan")})),
        "invalid-field",
    )
    yield Case(
        "arrival-channel-unknown",
        "The message arrives on a topic whose channel level, 'sea', is no channel: no key"
        " is allowed on it.",
        notice,
        "key-not-for-channel",
        channel="sea",
    )


#: A public key that is the identity point, of small order: libsodium refuses it, OpenSSL
#: (and so `cryptography`) alone would verify a made-up signature under it.
IDENTITY_KEY = bytes([1]) + bytes(31)
_BASE_POINT = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")


def _signature_cases(notice: bytes) -> Iterator[Case]:
    """The Ed25519 rule of PROTOCOL.md 2.1: cofactorless, with libsodium's checks."""
    envelope_bytes = NOTICE_BYTES
    signature = notice[-64:]
    s_plus_l = int.from_bytes(signature[32:], "little") + ED25519_ORDER
    yield Case(
        "signature-s-not-reduced",
        "A valid signature with S + L in place of S: the same point, refused as S >= L.",
        _signed_with(envelope_bytes, CAOC.key_id, signature[:32] + s_plus_l.to_bytes(32, "little")),
        "bad-signature",
    )
    forged = _answer(Kind.ACK, "small-order key")
    weak_keyring = KEYRING.with_key(
        TrustedKey(public_key=IDENTITY_KEY, party="RU", station="RU-HMEIMIM", channels=AIR_GO)
    )
    yield Case(
        "small-order-public-key",
        "A keyring key that is the identity point; R = the base point and S = 1 satisfy"
        " the cofactorless equation for any message, yet the key's small order refuses it.",
        _signed_with(
            encode_envelope(forged),
            key_id_of(IDENTITY_KEY),
            _BASE_POINT + (1).to_bytes(32, "little"),
        ),
        "bad-signature",
        keyring=weak_keyring,
    )
    yield Case(
        "mixed-order-r",
        "R = [r]B + a point of order 8, S = r + k*a: a cofactored verifier accepts this,"
        " the cofactorless rule refuses it.",
        _signed_with(envelope_bytes, CAOC.key_id, mixed_order_signature(CAOC, envelope_bytes)),
        "bad-signature",
    )


# Just enough Edwards-curve arithmetic (affine coordinates, slow and plain) to build a
# signature whose R has a small-order component, which no signing library will write.
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_Point = tuple[int, int]


def _add(one: _Point, two: _Point) -> _Point:
    (x1, y1), (x2, y2) = one, two
    t = _D * x1 * x2 * y1 * y2 % _P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, -1, _P)
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, _P)
    return x3 % _P, y3 % _P


def _times(scalar: int, point: _Point) -> _Point:
    result: _Point = (0, 1)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _decode_point(data: bytes) -> _Point:
    y = int.from_bytes(data, "little") & ((1 << 255) - 1)
    xx = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(xx, (_P + 3) // 8, _P)
    if (x * x - xx) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if (x & 1) != data[31] >> 7:
        x = _P - x
    return x, y


def _encode_point(point: _Point) -> bytes:
    x, y = point
    return (y | (x & 1) << 255).to_bytes(32, "little")


_ORDER_8 = _decode_point(
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
)


def mixed_order_signature(key: StationKey, message: bytes) -> bytes:
    """A signature of ``message`` by ``key`` whose R is [r]B plus a point of order 8."""
    expanded = hashlib.sha512(key.seed()).digest()
    secret = int.from_bytes(expanded[:32], "little")
    secret &= (1 << 254) - 8
    secret |= 1 << 254
    base = _decode_point(_BASE_POINT)
    nonce = int.from_bytes(hashlib.sha512(b"hotline mixed-order R" + message).digest(), "little")
    nonce %= ED25519_ORDER
    r = _encode_point(_add(_times(nonce, base), _ORDER_8))
    k = int.from_bytes(hashlib.sha512(r + key.public_key + message).digest(), "little")
    s = (nonce + k % ED25519_ORDER * secret) % ED25519_ORDER
    return r + s.to_bytes(32, "little")


# Khasham, east of the Euphrates, and the ground around it (longitude, latitude).
_KHASHAM = (40.187, 35.243)
_STRIKE_BOX = ((40.15, 35.22), (40.23, 35.22), (40.23, 35.27), (40.15, 35.27), (40.15, 35.22))
_APPROACH = ((40.10, 35.30), (40.16, 35.27), (40.19, 35.24))


def _located(
    kind: Kind, name: str, seq: int, where: Mapping[str, object], **body: object
) -> Envelope:
    """A notice of ``kind`` from US-CAOC located by ``where``, a body map."""
    return replace(
        NOTICE,
        id=_message_id(name),
        kind=kind,
        seq=seq,
        body={"activity": "strike", "where": dict(where), "attempt": 1, **body},
    )


def _location_cases() -> Iterator[Case]:
    """The location of PROTOCOL.md 3.4 and the dispute fields about it (3.2, 12.15)."""
    yield from _valid_location_cases()
    yield from _invalid_location_cases()
    yield from _dispute_location_cases()


def _valid_location_cases() -> Iterator[Case]:
    point = _located(Kind.NOTIFY, "where point", 60, Where.point(*_KHASHAM).to_body())
    yield Case(
        "valid-where-point",
        "A notice located at a point: `where` in micro-degrees, longitude first.",
        CAOC.sign(point),
    )
    circle = Where.circle(*_KHASHAM, radius_m=5000).to_body()
    yield Case(
        "valid-where-circle",
        "A notice located in a circle of 5,000 m.",
        CAOC.sign(_located(Kind.NOTIFY, "where circle", 61, circle)),
    )
    box = Where.polygon(_STRIKE_BOX).to_body()
    yield Case(
        "valid-where-polygon",
        "A protest located in a polygon: one ring of 5 positions, the last equal to the first.",
        CAOC.sign(_located(Kind.PROTEST, "where polygon", 62, box)),
    )
    approach = Where.route(_APPROACH, width_m=2000).to_body()
    yield Case(
        "valid-where-route",
        "A relay located on a route of 3 positions, entry first and exit last, with a"
        " 2,000 m corridor.",
        CAOC.sign(_located(Kind.RELAY, "where route", 63, approach, **{"for": "TR-GROUND"})),
    )
    headers = {
        "shape": "route",
        "coords": [0, 0, -1, 1, -100, 200, -20_000, 40_000, -40_000, 35_243_000],
        "width_m": 0,
    }
    packed = msgpack.packb(headers["coords"])
    assert {0xD0, 0xCC, 0xD1, 0xCD, 0xD2, 0xCE} <= set(packed)
    yield Case(
        "valid-where-integer-headers",
        "A route whose integers, each in its shortest form, take every header a position"
        " can (positive and negative fixint, int8, uint8, int16, uint16, int32, uint32),"
        " with a corridor width of 0.",
        CAOC.sign(_located(Kind.NOTIFY, "where headers", 64, headers)),
    )
    escalation = replace(
        _located(
            Kind.ESCALATE,
            "where escalate",
            65,
            circle,
            escalated_from="air",
            escalation="no-answer",
        ),
        channel=Channel.GENERAL_OFFICER,
        ref=digest(encode_envelope(point)),
    )
    yield Case(
        "valid-where-escalate",
        "An escalation repeating the notice's `where`.",
        CAOC.sign(escalation),
    )
    old_route = {"route": [[35.30, 40.10], [35.24, 40.19]], "width_km": 2.0, "note": "wadi"}
    older = replace(
        NOTICE, id=_message_id("older area"), seq=66, body={"activity": "patrol", "area": old_route}
    )
    yield Case(
        "valid-older-area-only",
        "A notice with only the older `area`, a route of [lat, lon] floats: still valid.",
        CAOC.sign(older),
    )
    both = _located(Kind.NOTIFY, "area and where", 67, circle, area=NOTICE.body["area"])
    yield Case(
        "valid-where-and-area",
        "A notice carrying both `where` and the older `area` (the same place).",
        CAOC.sign(both),
    )
    ack = _answer(Kind.ACK, "ack with where", where={"shape": "line"})
    yield Case(
        "valid-ack-ignores-where",
        "An ack whose body holds a `where` that is no location: only notices and"
        " escalations are checked for one.",
        HMEIMIM.sign(ack),
    )


def _invalid_location_cases() -> Iterator[Case]:
    point = _located(Kind.NOTIFY, "where broken", 70, Where.point(*_KHASHAM).to_body())
    lon, lat = 40_187_000, 35_243_000
    assert point.body["where"] == {"shape": "point", "coords": [lon, lat]}
    # the strike box's four corners, its ring left open
    ring = [40_150_000, 35_220_000, 40_230_000, 35_220_000]
    ring += [40_230_000, 35_270_000, 40_150_000, 35_270_000]
    broken: list[tuple[str, str, object, str]] = [
        (
            "where-float-in-coords",
            "A longitude given as the float 40187000.0: every number in `where` is an integer.",
            {"shape": "point", "coords": [float(lon), lat]},
            "invalid-field",
        ),
        (
            "where-odd-coords",
            "coords of 3 integers: positions are pairs.",
            {"shape": "route", "coords": [lon, lat, lon + 100]},
            "invalid-field",
        ),
        (
            "where-longitude-out-of-range",
            "A longitude of 180,000,001 micro-degrees.",
            {"shape": "point", "coords": [180_000_001, lat]},
            "invalid-field",
        ),
        (
            "where-latitude-out-of-range",
            "A latitude of -90,000,001 micro-degrees.",
            {"shape": "point", "coords": [lon, -90_000_001]},
            "invalid-field",
        ),
        (
            "where-polygon-unclosed",
            "A polygon of 4 positions whose last is not its first.",
            {"shape": "polygon", "coords": ring},
            "invalid-field",
        ),
        (
            "where-polygon-three-positions",
            "A closed polygon ring of 3 positions (a ring needs 4).",
            {"shape": "polygon", "coords": ring[:4] + ring[:2]},
            "invalid-field",
        ),
        (
            "where-circle-without-radius",
            "A circle with no radius_m.",
            {"shape": "circle", "coords": [lon, lat]},
            "invalid-field",
        ),
        (
            "where-point-with-radius",
            "A point with a radius_m: only a circle has one.",
            {"shape": "point", "coords": [lon, lat], "radius_m": 5000},
            "invalid-field",
        ),
        (
            "where-zero-radius",
            "A circle of radius 0.",
            {"shape": "circle", "coords": [lon, lat], "radius_m": 0},
            "invalid-field",
        ),
        (
            "where-width-on-circle",
            "A circle with a width_m: only a route has one.",
            {"shape": "circle", "coords": [lon, lat], "radius_m": 5000, "width_m": 100},
            "invalid-field",
        ),
        (
            "where-unknown-shape",
            "The shape 'line', which is no shape.",
            {"shape": "line", "coords": [lon, lat, lon + 100, lat]},
            "invalid-field",
        ),
        (
            "where-unknown-key",
            "A `where` with a key 'note', which a location does not have.",
            {"shape": "point", "coords": [lon, lat], "note": "the depot"},
            "invalid-field",
        ),
        (
            "where-129-positions",
            "A route of 129 positions (limit 128): 258 integers, over the body's array limit"
            " too, which is checked first and gives the same code.",
            {"shape": "route", "coords": [lon, lat] * 129},
            "field-too-large",
        ),
        (
            "where-not-a-map",
            "`where` given as the array of a position, not a map.",
            [lon, lat],
            "invalid-field",
        ),
    ]
    for slug, description, where, reason in broken:
        body = {**point.body, "where": where}
        yield Case(slug, description, CAOC.sign_bytes(_raw(point, body=body)), reason)
    escalation = replace(point, kind=Kind.ESCALATE, ref=digest(NOTICE_BYTES))
    bad_latitude = {"shape": "point", "coords": [lon, 90_000_001]}
    yield Case(
        "escalate-where-latitude-out-of-range",
        "An escalation whose `where` has a latitude of 90,000,001: escalations are checked"
        " as notices are.",
        CAOC.sign_bytes(_raw(escalation, body={**point.body, "where": bad_latitude})),
        "invalid-field",
    )
    relay = replace(point, kind=Kind.RELAY, body={**point.body, "for": "TR-GROUND"})
    yield Case(
        "relay-for-checked-before-where",
        "A relay whose `for` is over 64 bytes and whose `where` is no map: a kind's body"
        " requirements are checked in the order of the table, so field-too-large.",
        CAOC.sign_bytes(_raw(relay, body={**point.body, "for": "T" * 65, "where": "Khasham"})),
        "field-too-large",
    )


def _dispute_location_cases() -> Iterator[Case]:
    yield Case(
        "valid-dispute-inside-agreed-zone",
        "Dispute: the notice's area lies inside a zone agreed closed to the activity.",
        HMEIMIM.sign(_answer(Kind.DISPUTE, "inside zone", reason="inside-agreed-zone")),
    )
    wrong = _answer(Kind.DISPUTE, "location wrong", reason="location-wrong", distance_m=3500)
    yield Case(
        "valid-dispute-location-wrong",
        "Dispute: the activity is 3,500 m from where the notice places it (distance_m).",
        HMEIMIM.sign(wrong),
    )
    close = _answer(Kind.DISPUTE, "too close", reason="too-close", distance_m=800)
    yield Case(
        "valid-dispute-too-close",
        "Dispute: the activity comes within 800 m of the responder's forces.",
        HMEIMIM.sign(close),
    )
    correction = _answer(
        Kind.CORRECT, "correct too close", answer="dispute", reason="too-close", distance_m=0
    )
    yield Case(
        "valid-correct-to-dispute-with-distance",
        "A correction to a dispute, too close, with distance_m 0 (the least there is).",
        HMEIMIM.sign(correction),
    )
    to_ack = _answer(Kind.CORRECT, "correct ack distance", answer="ack", distance_m=-1)
    yield Case(
        "valid-correct-to-ack-ignores-distance",
        "A correction to an ack holding distance_m -1: only a dispute's distance is checked.",
        HMEIMIM.sign(to_ack),
    )
    yield Case(
        "dispute-negative-distance",
        "A dispute whose distance_m is -1.",
        HMEIMIM.sign_bytes(_raw(wrong, body={"reason": "location-wrong", "distance_m": -1})),
        "invalid-field",
    )
    yield Case(
        "dispute-float-distance",
        "A dispute whose distance_m is the float 3500.0: a distance is an integer.",
        HMEIMIM.sign_bytes(_raw(wrong, body={"reason": "location-wrong", "distance_m": 3500.0})),
        "invalid-field",
    )


def build_vectors() -> list[tuple[str, dict[str, Any]]]:
    """All vectors as ``(file name, document)`` pairs, in a stable order."""
    shared_keyring = keyring_to_document(KEYRING)
    policy = {
        "max_age": POLICY.max_age,
        "max_skew": POLICY.max_skew,
        "replay_window": POLICY.replay_window,
    }
    vectors = []
    for number, case in enumerate(_cases(), start=1):
        expected: dict[str, Any]
        keyring = KEYRING if case.keyring is None else case.keyring
        if case.reason is None:
            verified = Verifier(keyring, POLICY).verify(case.message, NOW, channel=case.channel)
            expected = {
                "valid": True,
                "envelope": envelope_to_json(verified.envelope),
                "digest": verified.digest.hex(),
            }
        else:
            expected = {"valid": False, "reason": case.reason}
        document = {
            "hotline_vector": VECTOR_FORMAT,
            "description": case.description,
            "verifier": policy,
            "keyring": shared_keyring if case.keyring is None else keyring_to_document(keyring),
            "now": NOW,
            "channel": None if case.channel is None else str(case.channel),
            "prior": [message.hex() for message in case.prior],
            "message": case.message.hex(),
            "expected": expected,
        }
        vectors.append((f"{number:02d}-{case.slug}.json", document))
    return vectors


def vector_text(document: Mapping[str, Any]) -> str:
    """The canonical file text of a vector."""
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def write_vectors(directory: Path) -> list[Path]:
    """(Re)write every vector file in ``directory``; remove vector files no longer built."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in build_vectors():
        path = directory / name
        path.write_text(vector_text(document))
        written.append(path)
    numbered = set(directory.glob("[0-9][0-9]-*.json")) | set(
        directory.glob("[0-9][0-9][0-9]-*.json")
    )
    for stale in numbered - set(written):
        stale.unlink()
    return written


class VectorError(HotlineError, ValueError):
    """A vector file that cannot be run (not a failed expectation)."""


@dataclass(frozen=True, slots=True)
class VectorOutcome:
    """What running one vector gave."""

    name: str
    passed: bool
    expected: str
    actual: str


def _finite(value: object, field: str) -> float:
    """A vector's number: finite (a NaN or infinite clock would switch checks off)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{field} must be a number")
    if not in_calendar(value):
        raise ValueError(f"{field} must be finite Unix seconds up to the year 9999, not {value!r}")
    return float(value)


def run_vector(name: str, document: Mapping[str, Any]) -> VectorOutcome:
    """Run one vector document through a fresh verifier.

    Raises:
        VectorError: the document is not a runnable vector.
    """
    try:
        if not isinstance(document, Mapping) or document.get("hotline_vector") != VECTOR_FORMAT:
            raise TypeError(f"hotline_vector must be {VECTOR_FORMAT}")
        keyring = keyring_from_document(document["keyring"], f"{name}: keyring")
        settings = document["verifier"]
        policy = VerifierPolicy(
            max_age=_finite(settings["max_age"], "verifier.max_age"),
            max_skew=_finite(settings["max_skew"], "verifier.max_skew"),
            replay_window=int(settings["replay_window"]),
        )
        now = _finite(document["now"], "now")
        channel = document["channel"]
        if channel is not None and not isinstance(channel, str):
            raise TypeError("channel must be a string or null")
        prior = [bytes.fromhex(text) for text in document["prior"]]
        message = bytes.fromhex(document["message"])
        expected = document["expected"]
        if not isinstance(expected, Mapping) or not isinstance(expected.get("valid"), bool):
            raise TypeError("expected.valid must be true or false")
        wanted = "valid" if expected["valid"] else str(expected["reason"])
    except KeyringError as exc:
        raise VectorError(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise VectorError(f"{name}: not a runnable vector ({exc!r})") from None
    verifier = Verifier(keyring, policy)
    for index, earlier in enumerate(prior):
        try:
            verifier.verify(earlier, now, channel=channel)
        except RejectedMessage as exc:
            return VectorOutcome(name, False, wanted, f"prior[{index}] rejected: {exc.reason}")
    try:
        verified = verifier.verify(message, now, channel=channel)
    except RejectedMessage as exc:
        return VectorOutcome(name, wanted == exc.reason, wanted, str(exc.reason))
    if not expected["valid"]:
        return VectorOutcome(name, False, wanted, "valid")
    same = envelope_to_json(verified.envelope) == expected.get(
        "envelope"
    ) and verified.digest.hex() == expected.get("digest")
    return VectorOutcome(name, same, wanted, "valid" if same else "valid, but decoded differently")


def _case_order(path: Path) -> tuple[int, str]:
    # By case number, so that 100-... runs after 99-..., not after 10-...
    number = path.name.partition("-")[0]
    return (int(number) if number.isdigit() else 10**9, path.name)


def run_directory(
    directory: Path, on_outcome: Callable[[VectorOutcome], None]
) -> list[VectorOutcome]:
    """Run every ``*.json`` vector in ``directory`` in case order (then name order).

    Raises:
        VectorError: the directory has no vectors, or a file is unreadable.
    """
    paths = sorted(directory.glob("*.json"), key=_case_order)
    if not paths:
        raise VectorError(f"{directory}: no *.json vectors found")
    outcomes = []
    for path in paths:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise VectorError(f"{path}: cannot read ({exc})") from None
        if not isinstance(document, dict):
            raise VectorError(f"{path}: a vector is a JSON object")
        outcome = run_vector(path.name, document)
        on_outcome(outcome)
        outcomes.append(outcome)
    return outcomes
