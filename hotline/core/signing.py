"""Ed25519 station keys and the signed-message structure.

A signed message is the msgpack array ``[envelope_bytes, key_id, signature]``: three
``bin`` values. The signature covers ``envelope_bytes`` exactly as they travel, as in
COSE_Sign1, so a receiver verifies the bytes it was given and never re-encodes them
(msgpack map order is not canonical, and re-encoding would let two encodings of one
meaning disagree about what was signed).

Key ids are the first 16 bytes of SHA-256 over the 32-byte raw public key, so anyone
holding a public key can compute its id. Private keys enter as 32-byte seeds: drawing
a fresh seed is the caller's business (`hotline.entropy`), which keeps this module free
of randomness and lets tests and simulations derive keys from a run's seed.

Signing and verification call libsodium through PyNaCl's bindings: on the development
machine it signs about 1.6 and verifies about 2 times as fast as OpenSSL through
`cryptography` (benchmarks/ed25519.py), and verification is most of a message's cost.
"""

from __future__ import annotations

import hashlib
from typing import Final, NamedTuple

from nacl.bindings import (
    crypto_sign,
    crypto_sign_ed25519_sk_to_seed,
    crypto_sign_open,
    crypto_sign_seed_keypair,
)
from nacl.exceptions import BadSignatureError

from hotline.core.errors import BadSignature, InvalidEnvelope, MalformedMessage, Reason
from hotline.core.names import check_station_id
from hotline.core.wire import MAX_MESSAGE_BYTES, Envelope, encode_envelope, unpack_strict

KEY_ID_BYTES: Final = 16
SEED_BYTES: Final = 32
PUBLIC_KEY_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64
_KEY_ID_HEADER: Final = b"\xc4\x10"
_SIGNATURE_HEADER: Final = b"\xc4\x40"


def key_id_of(public_key: bytes) -> bytes:
    """The key id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).digest()[:KEY_ID_BYTES]


def _message_header(length: int) -> bytes:
    """A signed message's start: the header of its array of three, then the bin header
    of an envelope of ``length`` bytes."""
    if length < 0x100:
        return b"\x93\xc4" + length.to_bytes(1, "big")
    if length < 0x10000:
        return b"\x93\xc5" + length.to_bytes(2, "big")
    return b"\x93\xc6" + length.to_bytes(4, "big")


class StationKey:
    """A station's private signing key, bound to the station it signs for.

    Args:
        seed: the 32-byte Ed25519 private seed.
        station: the station id this key signs as; `sign` refuses other senders.
    """

    __slots__ = ("_after_envelope", "_secret", "key_id", "public_key", "station")

    def __init__(self, seed: bytes, station: str) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise ValueError("an Ed25519 seed is exactly 32 bytes")
        self.station = check_station_id(station)
        # libsodium's secret key: the seed, then the public key (no randomness drawn)
        self.public_key, self._secret = crypto_sign_seed_keypair(seed)
        self.key_id = key_id_of(self.public_key)
        # what follows the envelope in every message this key signs, up to the signature
        self._after_envelope = _KEY_ID_HEADER + self.key_id + _SIGNATURE_HEADER

    def seed(self) -> bytes:
        """The private seed (for writing a key file; handle with care)."""
        return crypto_sign_ed25519_sk_to_seed(self._secret)

    def sign(self, envelope: Envelope) -> bytes:
        """Encode ``envelope`` and return the signed message bytes.

        Raises:
            InvalidEnvelope: the envelope's sender is not this key's station.
        """
        if envelope.sender != self.station:
            raise InvalidEnvelope(
                Reason.SENDER_MISMATCH,
                "from",
                f"key of {self.station} cannot sign for {envelope.sender}",
            )
        return self.sign_bytes(encode_envelope(envelope))

    def sign_bytes(self, envelope_bytes: bytes) -> bytes:
        """Sign already-encoded envelope bytes (no validation: tests craft bad envelopes)."""
        # crypto_sign returns the signature followed by the message: the binding has no
        # detached call, and this one costs less than nacl.signing's objects around it
        signature = crypto_sign(envelope_bytes, self._secret)[:SIGNATURE_BYTES]
        return b"".join(
            (_message_header(len(envelope_bytes)), envelope_bytes, self._after_envelope, signature)
        )

    def __repr__(self) -> str:
        return f"StationKey(station={self.station!r}, key_id={self.key_id.hex()!r})"


class SignedParts(NamedTuple):
    """The three parts of a signed message, not yet verified."""

    envelope_bytes: bytes
    key_id: bytes
    signature: bytes


def split_signed(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> SignedParts:
    """Check the size and outer structure of a signed message and return its parts.

    Raises:
        MalformedMessage: too-large, truncated, trailing-bytes or malformed.
    """
    if len(data) > max_bytes:
        raise MalformedMessage(Reason.TOO_LARGE, f"{len(data)} bytes (limit {max_bytes})")
    parts = unpack_strict(data, "signed message")
    if type(parts) is not list or len(parts) != 3:
        raise MalformedMessage(Reason.MALFORMED, "not an array of [envelope, key id, signature]")
    envelope_bytes, key_id, signature = parts
    if type(envelope_bytes) is not bytes:
        raise MalformedMessage(Reason.MALFORMED, "envelope is not a bin value")
    if type(key_id) is not bytes or len(key_id) != KEY_ID_BYTES:
        raise MalformedMessage(Reason.MALFORMED, "key id is not 16 bytes of bin")
    if type(signature) is not bytes or len(signature) != SIGNATURE_BYTES:
        raise MalformedMessage(Reason.MALFORMED, "signature is not 64 bytes of bin")
    return SignedParts(envelope_bytes, key_id, signature)


#: The order of the Ed25519 base point: a signature's S must be below it.
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493
_FIELD_PRIME = 2**255 - 19
_SIGN_BIT = 1 << 255
# The encodings of the eight points of small order that libsodium refuses: 0 and 1 (the
# identity), p - 1, p and p + 1 (the last two non-canonical), and the two of order 8 with
# x positive; each with the sign bit clear and set.
_SMALL_ORDER_Y = (
    0,
    1,
    0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826,
    0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7,
    _FIELD_PRIME - 1,
    _FIELD_PRIME,
    _FIELD_PRIME + 1,
)
SMALL_ORDER_ENCODINGS = frozenset(
    (y | sign).to_bytes(32, "little") for y in _SMALL_ORDER_Y for sign in (0, _SIGN_BIT)
)


def _check_points(public_key: bytes, parts: SignedParts) -> None:
    """The checks of PROTOCOL.md 2.1 that come before the Ed25519 equation.

    Raises:
        BadSignature: the key is not canonical or of small order, R is of small order,
            or S is not below the group order.
    """
    signature = parts.signature
    if public_key in SMALL_ORDER_ENCODINGS:
        raise BadSignature(Reason.BAD_SIGNATURE, "the public key is a point of small order")
    if int.from_bytes(public_key, "little") & (_SIGN_BIT - 1) >= _FIELD_PRIME:
        raise BadSignature(Reason.BAD_SIGNATURE, "the public key is not a canonical encoding")
    if signature[:32] in SMALL_ORDER_ENCODINGS:
        raise BadSignature(Reason.BAD_SIGNATURE, "the signature's R is a point of small order")
    if int.from_bytes(signature[32:], "little") >= ED25519_ORDER:
        raise BadSignature(Reason.BAD_SIGNATURE, "the signature's S is not below the group order")


def check_signature(public_key: bytes, parts: SignedParts) -> None:
    """Verify the Ed25519 signature over the envelope bytes under the raw 32-byte
    ``public_key``, by PROTOCOL.md 2.1: the cofactorless equation, S below the group
    order, and neither the key nor R a point of small order.

    Raises:
        BadSignature: the signature does not verify.
    """
    # libsodium makes these checks too, unless built for compatibility (ED25519_COMPAT)
    # or older than the rule: making them here keeps the rule whatever library is loaded,
    # and names the one that failed
    _check_points(public_key, parts)
    try:
        crypto_sign_open(parts.signature + parts.envelope_bytes, public_key)
    except BadSignatureError:
        raise BadSignature(
            Reason.BAD_SIGNATURE, f"signature does not verify under key {parts.key_id.hex()}"
        ) from None
