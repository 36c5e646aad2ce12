"""hotline: protocol simulator and client library for military deconfliction hotlines.

The protocol core (`hotline.core`) is pure: bytes and ``now`` in, verdicts out. This
package adds what touches the outside world: key files, fresh randomness, the CLI.
"""

from hotline.core import (
    BadSignature,
    Channel,
    DisputeReason,
    Envelope,
    HotlineError,
    InvalidEnvelope,
    Keyring,
    KeyringError,
    Kind,
    MalformedMessage,
    Precedence,
    Reason,
    RejectedMessage,
    ReplayedMessage,
    StationKey,
    TrustedKey,
    UntimelyMessage,
    UntrustedKey,
    VerifiedMessage,
    Verifier,
    VerifierPolicy,
    decode_envelope,
    digest,
    encode_envelope,
)
from hotline.entropy import new_message_id, new_seed
from hotline.keyfiles import load_keyring, load_private_key, save_keyring, write_private_key

__version__ = "0.1.0"

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
    "__version__",
    "decode_envelope",
    "digest",
    "encode_envelope",
    "load_keyring",
    "load_private_key",
    "new_message_id",
    "new_seed",
    "save_keyring",
    "write_private_key",
]
