"""The pure protocol core: no IO, no clocks, no randomness.

Time comes in as an argument (``now``, Unix seconds); fresh ids and key seeds come in
from the caller. Everything here can be driven by a virtual clock, by asyncio, or by
another event loop.
"""

from hotline.core.errors import (
    BadSignature,
    HotlineError,
    InvalidEnvelope,
    KeyringError,
    MalformedMessage,
    Reason,
    RejectedMessage,
    ReplayedMessage,
    UntimelyMessage,
    UntrustedKey,
)
from hotline.core.jsonform import envelope_from_json, envelope_to_json
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel, DisputeReason, Kind, Precedence
from hotline.core.signing import StationKey, key_id_of, split_signed
from hotline.core.verifier import VerifiedMessage, Verifier, VerifierPolicy
from hotline.core.wire import Envelope, decode_envelope, digest, encode_envelope

__all__ = [
    "BadSignature",
    "Channel",
    "DisputeReason",
    "Envelope",
    "HotlineError",
    "InvalidEnvelope",
    "Keyring",
    "KeyringError",
    "Kind",
    "MalformedMessage",
    "Precedence",
    "Reason",
    "RejectedMessage",
    "ReplayedMessage",
    "StationKey",
    "TrustedKey",
    "UntimelyMessage",
    "UntrustedKey",
    "VerifiedMessage",
    "Verifier",
    "VerifierPolicy",
    "decode_envelope",
    "digest",
    "encode_envelope",
    "envelope_from_json",
    "envelope_to_json",
    "key_id_of",
    "split_signed",
]
