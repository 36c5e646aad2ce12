"""The pure protocol core: no IO, no clocks, no randomness.

Time comes in as an argument (``now``, Unix seconds); fresh ids and key seeds come in
from the caller. Everything here can be driven by a virtual clock, by asyncio, or by
another event loop.
"""

from hotline.core.channels import (
    ChannelDoctrine,
    DisputePolicy,
    Doctrine,
    DoctrineError,
)
from hotline.core.endpoint import (
    Outgoing,
    StationEndpoint,
)
from hotline.core.errors import (
    BadSignature,
    HotlineError,
    IllegalTransition,
    InvalidEnvelope,
    KeyringError,
    MalformedMessage,
    Reason,
    RefusedMessage,
    RejectedMessage,
    ReplayedMessage,
    UnknownIncident,
    UntimelyMessage,
    UntrustedKey,
)
from hotline.core.events import (
    Closed,
    Event,
    NoticeReceived,
    Received,
    Rejected,
)
from hotline.core.incident import (
    Incident,
    Input,
    Notice,
    Role,
    State,
)
from hotline.core.jsonform import (
    envelope_from_json,
    envelope_to_json,
)
from hotline.core.keyring import (
    Keyring,
    TrustedKey,
)
from hotline.core.names import (
    Channel,
    DisputeReason,
    Kind,
    Precedence,
    inbox_topic,
)
from hotline.core.signing import (
    StationKey,
    key_id_of,
    split_signed,
)
from hotline.core.verifier import (
    VerifiedMessage,
    Verifier,
    VerifierPolicy,
)
from hotline.core.where import (
    Shape,
    Where,
)
from hotline.core.wire import (
    Envelope,
    decode_envelope,
    digest,
    encode_envelope,
)

__all__ = [
    "BadSignature",
    "Channel",
    "ChannelDoctrine",
    "Closed",
    "DisputePolicy",
    "DisputeReason",
    "Doctrine",
    "DoctrineError",
    "Envelope",
    "Event",
    "HotlineError",
    "IllegalTransition",
    "Incident",
    "Input",
    "InvalidEnvelope",
    "Keyring",
    "KeyringError",
    "Kind",
    "MalformedMessage",
    "Notice",
    "NoticeReceived",
    "Outgoing",
    "Precedence",
    "Reason",
    "Received",
    "RefusedMessage",
    "Rejected",
    "RejectedMessage",
    "ReplayedMessage",
    "Role",
    "Shape",
    "State",
    "StationEndpoint",
    "StationKey",
    "TrustedKey",
    "UnknownIncident",
    "UntimelyMessage",
    "UntrustedKey",
    "VerifiedMessage",
    "Verifier",
    "VerifierPolicy",
    "Where",
    "decode_envelope",
    "digest",
    "encode_envelope",
    "envelope_from_json",
    "envelope_to_json",
    "inbox_topic",
    "key_id_of",
    "split_signed",
]
