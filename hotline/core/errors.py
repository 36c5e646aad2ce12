"""Errors raised by hotline, each rejection with a stable reason code.

The tree::

    HotlineError
     ├── InvalidEnvelope        a value that cannot be an envelope field (also ValueError)
     ├── RejectedMessage        an incoming message failed verification; `.reason` says why
     │    ├── MalformedMessage  size, structure, encoding or schema
     │    ├── UntrustedKey      key unknown, revoked, expired, wrong channel or station
     │    ├── BadSignature      the Ed25519 signature does not cover these bytes
     │    ├── UntimelyMessage   outside the freshness window
     │    ├── ReplayedMessage   message id already seen, or sequence number reused
     │    └── RefusedMessage    verified, but its incident cannot take it (incident layer)
     ├── IllegalTransition      a local call the incident's state or role does not allow
     ├── UnknownIncident        a local call naming an incident this station does not hold
     └── KeyringError           a keyring or key file that cannot be used (also ValueError)

Reason codes are part of the protocol (protocol/PROTOCOL.md lists them): tools, journals
and other implementations match on `reason`, never on the message text.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Stable, machine-readable reason codes for rejected input."""

    # size and structure
    TOO_LARGE = "too-large"
    TRUNCATED = "truncated"
    TRAILING_BYTES = "trailing-bytes"
    MALFORMED = "malformed"
    TOO_DEEP = "too-deep"
    FORBIDDEN_TYPE = "forbidden-type"
    DUPLICATE_KEY = "duplicate-key"
    # schema
    UNSUPPORTED_VERSION = "unsupported-version"
    MISSING_FIELD = "missing-field"
    UNKNOWN_FIELD = "unknown-field"
    FIELD_TOO_LARGE = "field-too-large"
    INVALID_FIELD = "invalid-field"
    UNKNOWN_KIND = "unknown-kind"
    UNKNOWN_CHANNEL = "unknown-channel"
    # trust
    UNKNOWN_KEY = "unknown-key"
    KEY_REVOKED = "key-revoked"
    KEY_EXPIRED = "key-expired"
    KEY_NOT_YET_VALID = "key-not-yet-valid"
    KEY_NOT_FOR_CHANNEL = "key-not-for-channel"
    SENDER_MISMATCH = "sender-mismatch"
    CHANNEL_MISMATCH = "channel-mismatch"
    BAD_SIGNATURE = "bad-signature"
    # time and replay
    STALE = "stale"
    FUTURE = "future"
    REPLAY = "replay"
    SEQUENCE_REGRESSION = "sequence-regression"
    # incident layer: a verified message that its incident cannot take
    NOT_ADDRESSED = "not-addressed"
    UNKNOWN_INCIDENT = "unknown-incident"
    UNKNOWN_REFERENCE = "unknown-reference"
    NOT_AN_ADDRESSEE = "not-an-addressee"
    ILLEGAL_TRANSITION = "illegal-transition"
    LATE = "late"


#: Reasons given after verification succeeded, by the incident layer (endpoint).
INCIDENT_REASONS = frozenset(
    {
        Reason.NOT_ADDRESSED,
        Reason.UNKNOWN_INCIDENT,
        Reason.UNKNOWN_REFERENCE,
        Reason.NOT_AN_ADDRESSEE,
        Reason.ILLEGAL_TRANSITION,
        Reason.LATE,
    }
)


class HotlineError(Exception):
    """Root of every error hotline raises on purpose."""


class InvalidEnvelope(HotlineError, ValueError):
    """A value that cannot be placed in an envelope (raised on construction).

    Attributes:
        reason: the reason code a receiver would report for the same defect.
        field: the envelope field concerned (``"body.area"`` for nested body keys).
    """

    def __init__(self, reason: Reason, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.reason = reason
        self.field = field
        self.detail = detail


class RejectedMessage(HotlineError):
    """An incoming message failed verification.

    Attributes:
        reason: the stable reason code.
        detail: a human-readable explanation (not stable; do not parse it).
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class MalformedMessage(RejectedMessage):
    """The bytes are too large, not the expected structure, or break the schema."""


class UntrustedKey(RejectedMessage):
    """The signing key is not trusted for this message, now, on this channel."""


class BadSignature(RejectedMessage):
    """The signature does not verify over the envelope bytes."""


class UntimelyMessage(RejectedMessage):
    """The sender time lies outside the freshness window."""


class ReplayedMessage(RejectedMessage):
    """The message, or its sender sequence number, was already accepted."""


class RefusedMessage(RejectedMessage):
    """A verified message that its incident cannot take: not addressed here, unknown
    incident or reference, sent by a non-addressee, illegal in the current state, or late."""


class IllegalTransition(HotlineError):
    """A local call that the incident's state or this station's role does not allow.

    Attributes:
        state: the incident's state (its wire name).
        input: the input that was refused.
    """

    def __init__(self, state: str, input: str, detail: str) -> None:
        super().__init__(f"{input} in state {state}: {detail}")
        self.state = state
        self.input = input
        self.detail = detail


class UnknownIncident(HotlineError, LookupError):
    """A local call named an incident this station does not hold (or named it ambiguously)."""


class KeyringError(HotlineError, ValueError):
    """A keyring or key file that cannot be used.

    Attributes:
        source: the file (or other origin) the data came from.
        field: the path of the offending field inside it, e.g. ``keys[2].channels``.
    """

    def __init__(self, source: str, field: str, detail: str) -> None:
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {detail}")
        self.source = source
        self.field = field
        self.detail = detail


def check_time(now: float, what: str = "now") -> None:
    """Refuse a time that is not a finite number: a NaN clock would make every freshness
    and deadline comparison false, and so switch the checks off.

    Raises:
        ValueError: ``now`` is NaN or infinite.
    """
    if not now - now == 0.0:  # false for NaN and both infinities; no import needed
        raise ValueError(f"{what} must be a finite time in Unix seconds, not {now!r}")
