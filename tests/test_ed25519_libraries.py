"""hotline signs and verifies with libsodium (PyNaCl); `cryptography` (OpenSSL) must agree
with it on keys, signatures and refusals, so that a peer using either library reads
hotline's messages as hotline reads theirs."""

from __future__ import annotations

import json
from pathlib import Path

import msgpack
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from hotline.core.errors import BadSignature
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.signing import StationKey, check_signature, key_id_of, split_signed
from hotline.core.verifier import Verifier
from hotline.core.wire import Envelope, encode_envelope
from hotline.keyfiles import keyring_from_document
from tests.conftest import VECTORS

NOW = 2_000_000_000.0
SEED = bytes(range(32))
SIGNATURE_VECTORS = sorted(
    path
    for path in VECTORS.glob("*.json")
    if json.loads(path.read_text())["expected"].get("reason") == "bad-signature"
)
VALID_VECTORS = sorted(
    path for path in VECTORS.glob("*.json") if json.loads(path.read_text())["expected"]["valid"]
)


def notice(seq: int = 1) -> Envelope:
    return Envelope(
        id=seq.to_bytes(16, "big"),
        channel=Channel.AIR,
        kind=Kind.NOTIFY,
        sender="US-CAOC",
        recipients=("RU-HMEIMIM",),
        incident=f"US-CAOC:{seq}",
        seq=seq,
        sent_at_ms=int(NOW * 1000),
        precedence=Precedence.FLASH,
        body={"activity": "strike", "text": "Strikes east of the river; keep clear."},
    )


def keyring_of(public_key: bytes) -> Keyring:
    return Keyring(
        [
            TrustedKey(
                public_key=public_key,
                party="US",
                station="US-CAOC",
                channels=frozenset({Channel.AIR}),
            )
        ]
    )


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=400))
def test_both_libraries_derive_one_key_and_write_one_signature(seed: bytes, message: bytes) -> None:
    # Ed25519 is deterministic: any difference is a bug in one of them
    ours = StationKey(seed, "US-CAOC")
    theirs = Ed25519PrivateKey.from_private_bytes(seed)
    assert ours.public_key == raw_public(theirs)
    assert ours.seed() == seed
    assert split_signed(ours.sign_bytes(message)).signature == theirs.sign(message)


def test_hotline_signatures_verify_under_cryptography() -> None:
    key = StationKey(SEED, "US-CAOC")
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    for seq in range(1, 21):
        parts = split_signed(key.sign(notice(seq)))
        public.verify(parts.signature, parts.envelope_bytes)


def test_cryptography_signatures_verify_in_hotline() -> None:
    private = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    public_key = raw_public(private)
    verifier = Verifier(keyring_of(public_key))
    for seq in range(1, 21):
        envelope_bytes = encode_envelope(notice(seq))
        data = msgpack.packb(
            [envelope_bytes, key_id_of(public_key), private.sign(envelope_bytes)],
            use_bin_type=True,
        )
        assert verifier.verify(data, NOW).envelope == notice(seq)


@given(bit=st.integers(min_value=0, max_value=8 * 400), in_signature=st.booleans())
def test_both_libraries_refuse_a_tampered_message(bit: int, in_signature: bool) -> None:
    key = StationKey(SEED, "US-CAOC")
    parts = split_signed(key.sign(notice()))
    target = bytearray(parts.signature if in_signature else parts.envelope_bytes)
    target[bit // 8 % len(target)] ^= 1 << bit % 8
    if in_signature:
        parts = parts._replace(signature=bytes(target))
    else:
        parts = parts._replace(envelope_bytes=bytes(target))
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(
            parts.signature, parts.envelope_bytes
        )
    with pytest.raises(BadSignature):
        check_signature(key.public_key, parts)


def _signed_parts(path: Path) -> tuple[bytes, bytes, bytes]:
    """A vector's envelope bytes and signature, and the public key its id names."""
    document = json.loads(path.read_text())
    parts = split_signed(bytes.fromhex(document["message"]))
    key = keyring_from_document(document["keyring"]).get(parts.key_id)
    assert key is not None
    return parts.envelope_bytes, parts.signature, key.public_key


@pytest.mark.parametrize("path", VALID_VECTORS, ids=[p.stem for p in VALID_VECTORS])
def test_both_libraries_accept_every_valid_vector(path: Path) -> None:
    envelope_bytes, signature, public_key = _signed_parts(path)
    crypto_sign_open(signature + envelope_bytes, public_key)
    Ed25519PublicKey.from_public_bytes(public_key).verify(signature, envelope_bytes)


@pytest.mark.parametrize("path", SIGNATURE_VECTORS, ids=[p.stem for p in SIGNATURE_VECTORS])
def test_libsodium_alone_refuses_every_bad_signature_vector(path: Path) -> None:
    """hotline checks the points and S before calling libsodium; libsodium, as PyNaCl
    ships it, refuses the same signatures on its own (so the two layers agree)."""
    envelope_bytes, signature, public_key = _signed_parts(path)
    with pytest.raises(BadSignatureError):
        crypto_sign_open(signature + envelope_bytes, public_key)


def test_the_vectors_cover_each_signature_rule() -> None:
    names = {path.stem.split("-", 1)[1] for path in SIGNATURE_VECTORS}
    assert {"signature-s-not-reduced", "small-order-public-key", "mixed-order-r"} <= names
