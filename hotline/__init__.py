"""hotline: protocol simulator and client library for military deconfliction hotlines.

The protocol core (`hotline.core`) is pure: bytes and ``now`` in, verdicts out. This
package adds what touches the outside world: key files, fresh randomness, the CLI, and
the live side (`hotline.live`: the `Station` client library over MQTT), whose names
are exported here too but imported only when first used (it loads the MQTT client).
"""

from typing import Any as _Any

from hotline.core import (
    BadSignature,
    Channel,
    ChannelDoctrine,
    Closed,
    DisputePolicy,
    DisputeReason,
    Doctrine,
    DoctrineError,
    Envelope,
    Event,
    HotlineError,
    IllegalTransition,
    Incident,
    Input,
    InvalidEnvelope,
    Keyring,
    KeyringError,
    Kind,
    MalformedMessage,
    Notice,
    NoticeReceived,
    Outgoing,
    Precedence,
    Reason,
    Received,
    RefusedMessage,
    Rejected,
    RejectedMessage,
    ReplayedMessage,
    Role,
    Shape,
    State,
    StationEndpoint,
    StationKey,
    TrustedKey,
    UnknownIncident,
    UntimelyMessage,
    UntrustedKey,
    VerifiedMessage,
    Verifier,
    VerifierPolicy,
    Where,
    decode_envelope,
    digest,
    encode_envelope,
    envelope_from_json,
    envelope_to_json,
    inbox_topic,
    key_id_of,
    split_signed,
)
from hotline.core.wire import __file__ as _wire_file
from hotline.doctrine import default_doctrine, doctrine_with
from hotline.entropy import new_message_id, new_seed
from hotline.keyfiles import load_keyring, load_private_key, save_keyring, write_private_key

__version__ = "0.1.0"
#: Whether the hot modules run as mypyc-compiled C extensions (hatch_build.py: a wheel
#: built where a C compiler is found has them; editable installs do not).
COMPILED = not str(_wire_file).endswith(".py")

#: names of `hotline.live` exported here, imported on first use (PEP 562)
LIVE_NAMES = frozenset(
    {
        "BrokerAddress",
        "ConnectionFailed",
        "FaultProxy",
        "IncidentHandle",
        "LiveExercise",
        "Posted",
        "Station",
        "TlsFiles",
        "TransportError",
        "Unsent",
        "UnsentMessages",
    }
)


def __getattr__(name: str) -> _Any:
    if name in LIVE_NAMES:
        import hotline.live  # noqa: PLC0415 (loaded on first use: see the module doc)

        value = getattr(hotline.live, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hotline' has no attribute {name!r}")


__all__ = [
    "COMPILED",
    "LIVE_NAMES",
    "BadSignature",
    "BrokerAddress",
    "Channel",
    "ChannelDoctrine",
    "Closed",
    "ConnectionFailed",
    "DisputePolicy",
    "DisputeReason",
    "Doctrine",
    "DoctrineError",
    "Envelope",
    "Event",
    "FaultProxy",
    "HotlineError",
    "IllegalTransition",
    "Incident",
    "IncidentHandle",
    "Input",
    "InvalidEnvelope",
    "Keyring",
    "KeyringError",
    "Kind",
    "LiveExercise",
    "MalformedMessage",
    "Notice",
    "NoticeReceived",
    "Outgoing",
    "Posted",
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
    "Station",
    "StationEndpoint",
    "StationKey",
    "TlsFiles",
    "TransportError",
    "TrustedKey",
    "UnknownIncident",
    "Unsent",
    "UnsentMessages",
    "UntimelyMessage",
    "UntrustedKey",
    "VerifiedMessage",
    "Verifier",
    "VerifierPolicy",
    "Where",
    "__version__",
    "decode_envelope",
    "default_doctrine",
    "digest",
    "doctrine_with",
    "encode_envelope",
    "envelope_from_json",
    "envelope_to_json",
    "inbox_topic",
    "key_id_of",
    "load_keyring",
    "load_private_key",
    "new_message_id",
    "new_seed",
    "save_keyring",
    "split_signed",
    "write_private_key",
]
