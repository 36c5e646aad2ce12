"""What a station endpoint reports back to its caller.

`StationEndpoint.receive` and `StationEndpoint.on_timer` return these; the caller (the
simulator, the MQTT client, a user's own loop) logs them, journals them, and decides
what to answer when a `NoticeReceived` arrives. They are named tuples: immutable values
that cost little to make, since a busy station makes several per message.
"""

from __future__ import annotations

from typing import NamedTuple

from hotline.core.errors import Reason
from hotline.core.incident import Incident, Role
from hotline.core.names import Channel
from hotline.core.wire import Envelope


class Rejected(NamedTuple):
    """A message was refused: by verification, or by the incident it concerns."""

    reason: Reason
    detail: str
    at: float
    channel: Channel | None = None
    sender: str | None = None  # known once the signature verified
    incident: str | None = None


class Received(NamedTuple):
    """A message passed verification and its incident took it."""

    envelope: Envelope
    digest: bytes
    at: float


class NoticeReceived(NamedTuple):
    """A notice opened a responder view here: the caller must decide how to answer."""

    incident: Incident
    at: float

    @property
    def late(self) -> bool:
        """The notice came with less lead time than doctrine asks for its activity."""
        return self.incident.late_notice


class Closed(NamedTuple):
    """An incident view reached a terminal state without a local call closing it."""

    incident: str
    role: Role
    channel: Channel
    outcome: str
    at: float


Event = Rejected | Received | NoticeReceived | Closed
