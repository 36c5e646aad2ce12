"""What a post does, written into its journal as it happens.

A `Recorder` sits beside a `StationEndpoint`: the code that pumps the endpoint (a live
`Station`, or a simulated `Exercise`) tells it what arrived, what left, and which
incidents changed; it writes the entries. It journals each incident's history steps
once, so a post restarted on the same journal carries on without repeating any.
A rejected copy is kept byte for byte when it is no larger than a message can be; a
larger one (junk published to a station's topic) by its SHA-256 digest, its size and its
first 256 bytes, so junk cannot fill the post's disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Final

from hotline.audit.journal import Journal
from hotline.core.endpoint import Outgoing, StationEndpoint
from hotline.core.events import Event, Received, Rejected
from hotline.core.incident import Incident, Role
from hotline.core.names import Channel
from hotline.core.wire import MAX_MESSAGE_BYTES

#: How much of a rejected copy larger than any message is kept (with its digest and size).
REJECTED_PREFIX_BYTES: Final = 256


class Recorder:
    """Writes an endpoint's messages and transitions into ``journal``.

    Args:
        journal: where to write.
        endpoint: the endpoint recorded; its keyring is journaled now, and its
            incidents' histories so far count as already journaled.
        at: the post's clock now.
    """

    def __init__(self, journal: Journal, endpoint: StationEndpoint, at: float) -> None:
        self.journal = journal
        self.endpoint = endpoint
        self._steps: dict[tuple[Role, str, Channel], int] = {}
        journal.keys(at, endpoint.verifier.keyring)
        for incident in endpoint.incidents():
            self._steps[_view(incident)] = len(incident.history)

    def sent(self, message: Outgoing, at: float) -> None:
        """A signed message left for its recipients."""
        self.journal.append(
            at,
            "sent",
            message.envelope.incident,
            {"message": message.data, "channel": message.channel.value, "to": message.recipients},
        )

    def received(
        self, data: bytes, channel: Channel | None, events: Iterable[Event], at: float
    ) -> None:
        """A message arrived and the endpoint took it (``events``: what it said)."""
        for event in events:
            if isinstance(event, Received):
                line = event.envelope.channel.value
                self.journal.append(
                    at, "received", event.envelope.incident, {"message": data, "channel": line}
                )
                return
            if isinstance(event, Rejected):
                body: dict[str, Any] = {
                    "channel": None if channel is None else channel.value,
                    "reason": event.reason.value,
                    "detail": event.detail,
                }
                if len(data) <= MAX_MESSAGE_BYTES:  # what a message can be: kept verbatim
                    body["message"] = data
                else:  # no one fills a post's disk: its digest, size and first bytes
                    body["digest"] = hashlib.sha256(data).digest()
                    body["size"] = len(data)
                    body["prefix"] = data[:REJECTED_PREFIX_BYTES]
                self.journal.append(at, "rejected", event.incident, body)
                return

    def transitions(self, incidents: Iterable[Incident]) -> None:
        """Journal the history steps of ``incidents`` not journaled yet."""
        for incident in incidents:
            view = _view(incident)
            done = self._steps.get(view, 0)
            for step in incident.history[done:]:
                self.journal.append(
                    step.at,
                    "transition",
                    incident.id,
                    {
                        "role": incident.role.value,
                        "before": step.before.value,
                        "input": step.input.value,
                        "after": step.after.value,
                        "channel": step.channel.value,
                        "by": step.by,
                    },
                )
            self._steps[view] = len(incident.history)

    def seen(self, incidents: Iterable[Incident]) -> None:
        """Incidents read back from the store: their history so far is journaled."""
        for incident in incidents:
            self._steps[_view(incident)] = len(incident.history)

    def forget(self, incidents: Iterable[Incident]) -> None:
        """Incidents the endpoint set aside: `seen` tells again if they come back."""
        for incident in incidents:
            self._steps.pop(_view(incident), None)


def _view(incident: Incident) -> tuple[Role, str, Channel]:
    return incident.role, incident.id, incident.legs[0].channel
