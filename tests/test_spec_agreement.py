"""The verifier written from PROTOCOL.md alone (tests/spec_verifier.py) agrees with
hotline's: on every vector, and reason code for reason code on a seeded set of mutated
and hand-made messages. A disagreement means the text leaves a choice open, or one of
the two does not follow it."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import msgpack
import pytest

from hotline.core.errors import RejectedMessage
from hotline.core.keyring import Keyring
from hotline.core.verifier import Verifier
from hotline.keyfiles import keyring_from_document
from hotline.vectors import CAOC, HMEIMIM, NOW, POLICY, RU_GROUND, TR_GROUND, US_GROUND
from tests import spec_verifier as spec
from tests.conftest import VECTORS

FILES = sorted(VECTORS.glob("*.json"))
SIGNERS = {key.key_id: key for key in (CAOC, HMEIMIM, US_GROUND, RU_GROUND, TR_GROUND)}
SEED = 20180207


@cache
def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def expected_verdict(document: dict[str, Any]) -> str:
    expected = document["expected"]
    return "valid" if expected["valid"] else str(expected["reason"])


def as_json(value: object) -> object:
    """The JSON form of the vectors (README): bin as ``{"$bin": hex}`` inside the body."""
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_spec_verifier_gives_every_vector_its_verdict(path: Path) -> None:
    document = load(path)
    verifier = spec.verifier_for(document)
    now, channel = float(document["now"]), document["channel"]
    for prior in document["prior"]:
        assert spec.verdict(verifier, bytes.fromhex(prior), now, channel) == "valid"
    message = bytes.fromhex(document["message"])
    assert spec.verdict(verifier, message, now, channel) == expected_verdict(document)
    if document["expected"]["valid"]:
        fields = spec.SpecVerifier(verifier.keyring).verify(message, now, channel)
        envelope = {
            **fields,
            "id": fields["id"].hex(),
            "ref": None if fields["ref"] is None else fields["ref"].hex(),
            "body": as_json(fields["body"]),
        }
        assert envelope == document["expected"]["envelope"]
        envelope_bytes = spec.decode(message)
        assert isinstance(envelope_bytes, list)
        digest = hashlib.sha256(envelope_bytes[0]).hexdigest()
        assert digest == document["expected"]["digest"]


# -- the mutated messages --------------------------------------------------------------


def _sign(key_id: bytes, envelope_bytes: bytes) -> bytes:
    return SIGNERS[key_id].sign_bytes(envelope_bytes)


def _bytes_mutation(data: bytes, rng: random.Random) -> bytes:
    position = rng.randrange(len(data))
    interesting = (0xC1, 0xC0, 0xD4, 0xD6, 0xC7, 0xFF, 0x90, 0x80, 0xDC, 0xDE, 0xCA, 0xA0, 0xC4)
    operation = rng.randrange(7)
    if operation == 0:
        return (
            data[:position] + bytes([data[position] ^ 1 << rng.randrange(8)]) + data[position + 1 :]
        )
    if operation == 1:
        return data[:position] + bytes([rng.randrange(256)]) + data[position + 1 :]
    if operation == 2:
        return data[:position] + bytes([rng.choice(interesting)]) + data[position + 1 :]
    if operation == 3:
        return data[:position]
    if operation == 4:
        return data[:position] + data[position + 1 :]
    if operation == 5:
        return data[:position] + bytes([rng.randrange(256)]) + data[position:]
    return data + bytes([rng.choice(interesting)])


def _nested(levels: int) -> dict[str, object]:
    body: dict[str, object] = {"leaf": 1}
    for _ in range(levels - 1):
        body = {"n": body}
    return body


# Values put in place of envelope fields and body entries: every msgpack type, the
# edges of each limit, names that are and are not channels, kinds and precedences.
POOL: tuple[object, ...] = (
    None,
    True,
    False,
    0,
    1,
    2,
    3,
    -1,
    2**53 - 1,
    2**53,
    2**64 - 1,
    -(2**63),
    1.0,
    float("nan"),
    float("-inf"),
    "",
    "air",
    "ground",
    "general-officer",
    "sea",
    "notify",
    "ack",
    "dispute",
    "protest",
    "relay",
    "correct",
    "close",
    "confirm",
    "warn",
    "flash",
    "urgent",
    "other",
    "acknowledged",
    "US-CAOC",
    "RU-HMEIMIM",
    "TR-GROUND",
    "RU/#",
    "é" * 32,
    "é" * 33,
    "x" * 64,
    "x" * 65,
    "é" * 2049,
    b"",
    bytes(16),
    bytes(31),
    bytes(32),
    b"notify",
    [],
    ["RU-HMEIMIM"],
    ["US-CAOC"],
    ["RU-HMEIMIM", "RU-HMEIMIM"],
    [f"S{n}" for n in range(16)],
    [f"S{n}" for n in range(17)],
    [1],
    {},
    {"reason": "other"},
    {"reason": ["other"]},
    {"outcome": "won"},
    {"outcome": "resolved"},
    {"answer": "ack"},
    {"answer": "dispute"},
    {"answer": "dispute", "reason": "other"},
    {"answer": {"a": 1}},
    {"for": "TR-GROUND"},
    {"for": "é" * 33},
    {"a": [1, [2, [3]]]},
    _nested(8),
    _nested(9),
    {"k" * 65: 1},
    {"é" * 33: 1},
    {b"bin": 1},
    {"t": float("nan")},
    {"t": b"x" * 4097},
    {"t": list(range(257))},
    msgpack.ExtType(1, b"x"),
    msgpack.Timestamp(1),
    {"t": msgpack.Timestamp(1)},
    [msgpack.ExtType(5, b"")],
)
KEYS = ("v", "id", "ch", "k", "from", "to", "inc", "ref", "seq", "ts", "pr", "body")
BODY_KEYS = ("reason", "outcome", "answer", "for", "text", "area")


def _field_mutation(envelope_bytes: bytes, rng: random.Random) -> bytes:
    fields = msgpack.unpackb(envelope_bytes, raw=False)
    for _ in range(rng.choice((1, 1, 2, 3))):
        operation = rng.randrange(10)
        if operation < 5:
            fields[rng.choice(KEYS)] = rng.choice(POOL)
        elif operation == 5:
            fields.pop(rng.choice(KEYS), None)
        elif operation == 6:
            fields[rng.choice(("x", "sequence", "V"))] = rng.choice(POOL)
        elif operation == 7 and isinstance(fields.get("body"), dict):
            fields["body"][rng.choice(BODY_KEYS)] = rng.choice(POOL)
        elif operation == 8:
            fields["v"] = 1
            fields["k"] = rng.choice(("protest", "report", "relay", "correct", "close", "confirm"))
        else:
            fields["k"] = rng.choice(("dispute", "close", "confirm", "correct", "relay", "ack"))
    order = list(fields)
    if rng.random() < 0.2:
        rng.shuffle(order)
    packed: bytes = msgpack.packb({key: fields[key] for key in order}, use_bin_type=True)
    return packed


def hand_made() -> Iterator[tuple[str, bytes]]:
    """Signed edge cases, each aimed at one rule of the text."""
    envelope_bytes = msgpack.unpackb(bytes.fromhex(load(FILES[0])["message"]))[0]
    fields = msgpack.unpackb(envelope_bytes, raw=False)
    assert fields["k"] == "notify"

    def signed(envelope_bytes: bytes) -> bytes:
        return CAOC.sign_bytes(envelope_bytes)

    base = msgpack.packb(fields)
    yield "base", signed(base)
    body_last = msgpack.packb({**fields, "body": {}})[:-1]
    for name, body in (
        ("ext then dup", b"\x82\xa1a\xd4\x01\x00\xa1a\x01"),
        ("ext then c1", b"\x82\xa1a\xd4\x01\x00\xa1b\xc1"),
        ("bad timestamp", b"\x81\xa1a\xd5\xff\x00\x00"),
        ("timestamp nanoseconds over", b"\x81\xa1a\xd7\xff" + (10**9 << 34).to_bytes(8, "big")),
        ("ext key", b"\x81\xd4\x01\x00\x01"),
        ("int key then truncated", b"\x82\x01\x01\xa1"),
        ("array over input", b"\x81\xa1a\xdc\xff\xff\xc1"),
        ("map over half input", b"\x81\xa1a\xde\x7f\xff\xc1"),
        ("deep 1025", b"\x91" * 1030 + b"\xc0"),
        ("deep 1023 then c1", b"\x91" * 1022 + b"\xc1"),
        ("deep empty at 1025", b"\x91" * 1023 + b"\x90"),
        ("float32 nan", b"\x81\xa1a\xca\x7f\xc0\x00\x00"),
        ("str and bin keys", b"\x82\xa1a\x01\xc4\x01a\x02"),
        ("dup bin keys", b"\x82\xc4\x01a\x01\xc4\x01a\x02"),
        ("surrogate", b"\x81\xa1a\xa3\xed\xa0\x80"),
        ("overlong", b"\x81\xa1a\xa2\xc0\x80"),
    ):
        yield name, signed(body_last + body)
    yield "trailing after ext", signed(body_last + b"\x81\xa1a\xd4\x01\x00\xc0")
    yield "93c0", bytes.fromhex("93c0")
    yield "93 ext", bytes.fromhex("93d40100")
    yield "outer map dup", b"\x82\xa1a\x01\xa1a\x02"
    yield "outer deep", b"\x91" * 1100
    yield "empty", b""


def mutated_messages(seed: int = SEED) -> Iterator[tuple[str, bytes, str | None]]:
    """(label, message, arrival channel): 2,000 mutations of the valid vectors, then the
    hand-made cases. Seeded, so every run checks the same messages."""
    rng = random.Random(seed)
    valid = [load(p) for p in FILES if load(p)["expected"]["valid"]]
    channels = (None, None, None, "air", "ground", "general-officer", "sea")
    makers: list[tuple[str, int, Callable[[bytes, bytes, bytes], bytes]]] = [
        ("outer", 600, lambda message, _envelope, _key: _bytes_mutation(message, rng)),
        ("bytes", 700, lambda _m, envelope, key: _sign(key, _bytes_mutation(envelope, rng))),
        ("fields", 700, lambda _m, envelope, key: _sign(key, _field_mutation(envelope, rng))),
    ]
    for label, count, make in makers:
        for index in range(count):
            document = rng.choice(valid)
            message = bytes.fromhex(document["message"])
            outer = msgpack.unpackb(message)
            channel = document["channel"] if rng.random() < 0.7 else rng.choice(channels)
            mutated = make(message, outer[0], outer[1])
            yield f"{label}[{index}] of {document['description']!r}", mutated, channel
    for label, message in hand_made():
        for channel in (None, "sea"):
            yield f"hand-made {label}", message, channel


def hotline_verdict(keyring: Keyring, message: bytes, channel: str | None) -> str:
    try:
        Verifier(keyring, POLICY).verify(message, NOW, channel=channel)
    except RejectedMessage as rejected:
        return str(rejected.reason)
    return "valid"


def disagreements(
    judge: Callable[[Keyring, bytes, str | None], str] = hotline_verdict,
) -> tuple[int, list[tuple[str, str, str]]]:
    """How many messages were compared, and those the two verifiers judge differently."""
    shared = load(FILES[0])
    keyring = keyring_from_document(shared["keyring"], "vector keyring")
    spec_keyring = spec.keyring_from_document(shared["keyring"])
    found = []
    total = 0
    for label, message, channel in mutated_messages():
        total += 1
        ours = judge(keyring, message, channel)
        theirs = spec.verdict(spec.SpecVerifier(spec_keyring), message, NOW, channel)
        if ours != theirs:
            found.append((label, ours, theirs))
    return total, found


def test_the_two_verifiers_agree_on_mutated_and_hand_made_messages() -> None:
    total, found = disagreements()
    assert total >= 2000
    shown = "\n".join(f"{label}: hotline {ours}, spec {theirs}" for label, ours, theirs in found)
    assert not found, f"{len(found)} of {total} disagree:\n{shown[:3000]}"


def test_the_mutations_reach_past_the_signature() -> None:
    """Most re-signed mutations are judged on their envelope, not refused at step 4."""
    shared = load(FILES[0])
    keyring = keyring_from_document(shared["keyring"], "vector keyring")
    verdicts = [hotline_verdict(keyring, m, c) for _, m, c in mutated_messages()]
    counts = {reason: verdicts.count(reason) for reason in set(verdicts)}
    assert counts["bad-signature"] < len(verdicts) / 2
    assert len(counts) >= 15, counts
