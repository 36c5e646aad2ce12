"""The protocol's vocabulary: channels, message kinds, precedences and identifiers.

Every name here travels on the wire as a msgpack string, so the spellings are part of
the protocol (protocol/PROTOCOL.md, "Field values"). Station and incident identifiers
are plain strings restricted to characters that are safe in MQTT topic levels and file
names, which keeps per-station broker ACLs simple.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from hotline.core.errors import InvalidEnvelope, Reason


class Channel(StrEnum):
    """A hotline: each is a separate line with its own stations, keys and deadlines."""

    AIR = "air"
    GROUND = "ground"
    GENERAL_OFFICER = "general-officer"


class Kind(StrEnum):
    """What a message does within its incident."""

    NOTIFY = "notify"
    ACK = "ack"
    STANDBY = "standby"
    DISPUTE = "dispute"
    ESCALATE = "escalate"
    WITHDRAW = "withdraw"
    RESOLVE = "resolve"
    HEARTBEAT = "heartbeat"
    CLOSE = "close"  # the originator's final word on an incident: its outcome
    CONFIRM = "confirm"  # a closing message (close, withdraw, resolve) was received
    PROTEST = "protest"  # a request to cease an activity under way
    REPORT = "report"  # word of an activity after the fact
    CORRECT = "correct"  # a responder amends an answer it gave earlier
    RELAY = "relay"  # a notice for a party the originator has no line to


class Precedence(StrEnum):
    """Message precedence, most urgent first (ACP handling-time family)."""

    FLASH = "flash"
    IMMEDIATE = "immediate"
    PRIORITY = "priority"
    ROUTINE = "routine"


class DisputeReason(StrEnum):
    """Why a responder answers a notice with something other than a yes."""

    NOT_OUR_FORCES = "not-our-forces"
    NO_NOTICE_RECEIVED = "no-notice-received"
    BREACH_OF_PROTOCOL = "breach-of-protocol"
    LOCATION_CONFLICT = "location-conflict"
    INSUFFICIENT_LEAD_TIME = "insufficient-lead-time"
    # About the notice's location (a dispute may say by how much: ``distance_m``).
    INSIDE_AGREED_ZONE = "inside-agreed-zone"  # in a zone agreed closed to the activity
    LOCATION_WRONG = "location-wrong"  # the activity is elsewhere than the notice says
    TOO_CLOSE = "too-close"  # within doctrine's distance of the responder's own forces
    OTHER = "other"


#: A responder's answers to a notice.
ANSWER_KINDS: Final = frozenset({Kind.ACK, Kind.STANDBY, Kind.DISPUTE})
#: Kinds that answer an earlier message and therefore must carry its digest in ``ref``.
REF_KINDS: Final = ANSWER_KINDS | {Kind.CONFIRM, Kind.CORRECT}
#: Kinds that open an incident: the notices an originator can send first.
OPENING_KINDS: Final = frozenset({Kind.NOTIFY, Kind.PROTEST, Kind.REPORT, Kind.RELAY})
#: Kinds that carry a notice to a line: the first call there, or the escalation to it.
NOTICE_KINDS: Final = OPENING_KINDS | {Kind.ESCALATE}
#: The originator's closing messages, each confirmed by its addressee.
CLOSING_KINDS: Final = frozenset({Kind.CLOSE, Kind.WITHDRAW, Kind.RESOLVE})
#: The kinds of protocol version 1; version 2 adds the others.
V1_KINDS: Final = frozenset(
    {Kind.NOTIFY, Kind.ACK, Kind.STANDBY, Kind.DISPUTE}
    | {Kind.ESCALATE, Kind.WITHDRAW, Kind.RESOLVE, Kind.HEARTBEAT}
)
#: How an incident ends, as a ``close`` or ``confirm`` body names it.
OUTCOME_NAMES: Final = ("acknowledged", "disputed", "resolved", "withdrawn", "unresolved")
#: The two answers a ``correct`` can put in place of an earlier one.
CORRECTED_ANSWERS: Final = frozenset({Kind.ACK, Kind.DISPUTE})

MAX_IDENTIFIER_LENGTH: Final = 64
# Identifiers recur in every message of an incident, so valid ones are remembered
# (boundedly) to skip the regular expression next time.
_KNOWN_GOOD: Final[set[str]] = set()
_KNOWN_INCIDENTS: Final[set[str]] = set()
_KNOWN_LIMIT: Final = 4096


def _remember(value: str, known: set[str]) -> None:
    if len(known) >= _KNOWN_LIMIT:
        known.clear()
    known.add(value)


_STATION_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_INCIDENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def check_station_id(value: object, field: str = "station") -> str:
    """Return ``value`` if it is a valid station id, else raise `InvalidEnvelope`.

    A station id is 1 to 64 ASCII letters, digits, ``.``, ``_`` or ``-``, starting with
    a letter or digit: it is used verbatim as an MQTT topic level.
    """
    if not isinstance(value, str):
        raise InvalidEnvelope(Reason.INVALID_FIELD, field, "station id must be a string")
    if value in _KNOWN_GOOD:
        return value
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidEnvelope(Reason.FIELD_TOO_LARGE, field, "station id over 64 characters")
    if _STATION_ID.fullmatch(value) is None:
        raise InvalidEnvelope(
            Reason.INVALID_FIELD, field, f"{value!r} is not a station id ([A-Za-z0-9._-])"
        )
    _remember(value, _KNOWN_GOOD)
    return value


def check_incident_id(value: object, field: str = "inc") -> str:
    """Return ``value`` if it is a valid incident id, else raise `InvalidEnvelope`.

    An incident id is 1 to 64 ASCII letters, digits, ``.``, ``_``, ``:`` or ``-``,
    starting with a letter or digit.
    """
    if not isinstance(value, str):
        raise InvalidEnvelope(Reason.INVALID_FIELD, field, "incident id must be a string")
    if value in _KNOWN_INCIDENTS:
        return value
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidEnvelope(Reason.FIELD_TOO_LARGE, field, "incident id over 64 characters")
    if _INCIDENT_ID.fullmatch(value) is None:
        raise InvalidEnvelope(
            Reason.INVALID_FIELD, field, f"{value!r} is not an incident id ([A-Za-z0-9._:-])"
        )
    _remember(value, _KNOWN_INCIDENTS)
    return value


TOPIC_PREFIX: Final = "hotline/v2"


def inbox_topic(channel: Channel, station: str) -> str:
    """The MQTT topic of ``station``'s inbox on ``channel``: ``hotline/v2/<channel>/<station>``."""
    return f"{TOPIC_PREFIX}/{channel.value}/{check_station_id(station)}"
