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
from hotline.core.signing import StationKey
from hotline.core.verifier import Verifier, VerifierPolicy
from hotline.core.wire import ENVELOPE_KEYS, Envelope, digest, encode_envelope
from hotline.keyfiles import keyring_from_document, keyring_to_document

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
        "area": {"lat": 35.243, "lon": 40.187, "radius_km": 5.0},
        "window": [NOW_MS + 600_000, NOW_MS + 3_600_000],
        "text": "Strikes east of the river within the window; keep clear.",
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
    channel: Channel | None = None
    prior: tuple[bytes, ...] = ()


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
    yield from _trust_and_time_cases(notice)
    yield from _structure_cases(notice)


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
    typed_body = replace(
        NOTICE,
        id=_message_id("typed-body"),
        seq=43,
        body={
            "route": [[35.1, 40.1], [35.2, 40.3]],
            "escort": None,
            "armed": True,
            "count": -3,
            "token": b"\x00\xff",
            "nested": {"a": {"b": {"c": 1}}},
        },
    )
    yield Case("valid-body-types", "Body using every allowed msgpack type.", CAOC.sign(typed_body))
    oldest = replace(NOTICE, id=_message_id("oldest"), seq=44, sent_at_ms=NOW_MS - 3_720_000)
    yield Case(
        "valid-at-age-limit", "Sent exactly max_age + max_skew ago: still fresh.", CAOC.sign(oldest)
    )
    ahead = replace(NOTICE, id=_message_id("ahead"), seq=45, sent_at_ms=NOW_MS + 120_000)
    yield Case("valid-skew-ahead", "Sender clock ahead by exactly max_skew.", CAOC.sign(ahead))
    yield Case(
        "valid-on-topic-channel", "Arrival channel known and matching.", notice, channel=Channel.AIR
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
    nested: object = 1
    for _ in range(9):
        nested = {"n": nested}
    yield Case(
        "too-deep",
        "Body nested nine maps deep (limit 8).",
        CAOC.sign_bytes(_raw(NOTICE, body=nested)),
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
        "Channel 'sea' is not a v1 channel.",
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


def build_vectors() -> list[tuple[str, dict[str, Any]]]:
    """All vectors as ``(file name, document)`` pairs, in a stable order."""
    keyring = keyring_to_document(KEYRING)
    policy = {
        "max_age": POLICY.max_age,
        "max_skew": POLICY.max_skew,
        "replay_window": POLICY.replay_window,
    }
    vectors = []
    for number, case in enumerate(_cases(), start=1):
        expected: dict[str, Any]
        if case.reason is None:
            verified = Verifier(KEYRING, POLICY).verify(case.message, NOW, channel=case.channel)
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
            "keyring": keyring,
            "now": NOW,
            "channel": None if case.channel is None else case.channel.value,
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
    for stale in set(directory.glob("[0-9][0-9]-*.json")) - set(written):
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


def run_vector(name: str, document: Mapping[str, Any]) -> VectorOutcome:
    """Run one vector document through a fresh verifier.

    Raises:
        VectorError: the document is not a runnable vector.
    """
    try:
        keyring = keyring_from_document(document["keyring"], f"{name}: keyring")
        settings = document["verifier"]
        policy = VerifierPolicy(
            max_age=float(settings["max_age"]),
            max_skew=float(settings["max_skew"]),
            replay_window=int(settings["replay_window"]),
        )
        now = float(document["now"])
        channel = None if document["channel"] is None else Channel(document["channel"])
        prior = [bytes.fromhex(text) for text in document["prior"]]
        message = bytes.fromhex(document["message"])
        expected = document["expected"]
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


def run_directory(
    directory: Path, on_outcome: Callable[[VectorOutcome], None]
) -> list[VectorOutcome]:
    """Run every ``*.json`` vector in ``directory`` in name order.

    Raises:
        VectorError: the directory has no vectors, or a file is unreadable.
    """
    paths = sorted(directory.glob("*.json"))
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
