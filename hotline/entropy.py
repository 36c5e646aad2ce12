"""Fresh randomness for live use: key seeds and message ids.

The protocol core takes these as arguments so that simulations can derive them from a
run's seed instead; this module is where real programs get them.
"""

from __future__ import annotations

import secrets

from hotline.core.signing import SEED_BYTES
from hotline.core.wire import MESSAGE_ID_BYTES


def new_seed() -> bytes:
    """A fresh 32-byte Ed25519 private seed from the operating system's CSPRNG."""
    return secrets.token_bytes(SEED_BYTES)


def new_message_id() -> bytes:
    """A fresh random 16-byte message id."""
    return secrets.token_bytes(MESSAGE_ID_BYTES)
