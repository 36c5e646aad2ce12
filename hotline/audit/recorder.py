"""What a post does, written into its journal as it happens.

A `Recorder` sits beside a `StationEndpoint`: the code that pumps the endpoint (a live
`Station`, or a simulated `Exercise`) tells it what arrived, what left, and which
incidents changed; it writes the entries. It journals each incident's history steps
once, so a post restarted on the same journal carries on without repeating any.
A rejected copy is kept byte for byte when it is no larger than a message can be; a
larger one (junk published to a station's topic) by its SHA-256 digest, its size and its
first 256 bytes, so junk cannot fill the post's disk.

Nor can a flood of junk fill it with entries. On each channel (and on topics no channel
belongs to), the first ``rejection_limit`` copies rejected within a window of
``rejection_window`` seconds of the post's clock are journaled one by one; the rest of
that window's are counted, and one ``rejections`` entry says how many there were: their
number, their bytes, how many of each reason, when the first and the last came, and the
SHA-256 digest of the last. That entry is written when the window has ended, at the
next copy the post receives, or by `Recorder.flush`; every copy rejected is in the
journal, by itself or in a count.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from hotline.audit.journal import Journal
from hotline.core.endpoint import Outgoing, StationEndpoint
from hotline.core.events import Event, Received, Rejected
from hotline.core.incident import Incident, Role
from hotline.core.names import Channel
from hotline.core.wire import MAX_MESSAGE_BYTES

#: How much of a rejected copy larger than any message is kept (with its digest and size).
REJECTED_PREFIX_BYTES: Final = 256
#: Rejected copies journaled one by one per channel and window (the rest are counted).
REJECTION_LIMIT: Final = 20
#: The window of the post's clock, in seconds, that `REJECTION_LIMIT` applies to.
REJECTION_WINDOW: Final = 60.0


class Recorder:
    """Writes an endpoint's messages and transitions into ``journal``.

    Args:
        journal: where to write.
        endpoint: the endpoint recorded; its keyring is journaled now, and its
            incidents' histories so far count as already journaled.
        at: the post's clock now.
        rejection_limit: rejected copies journaled one by one per channel (None: a
            topic no channel belongs to) within ``rejection_window``; the rest of the
            window's are counted in one ``rejections`` entry (see the module doc).
        rejection_window: seconds of the post's clock; a channel's window starts at
            its first rejected copy after the previous window ended.

    Raises:
        ValueError: ``rejection_limit`` below 0, or ``rejection_window`` not above 0.
    """

    def __init__(
        self,
        journal: Journal,
        endpoint: StationEndpoint,
        at: float,
        *,
        rejection_limit: int = REJECTION_LIMIT,
        rejection_window: float = REJECTION_WINDOW,
    ) -> None:
        if rejection_limit < 0:
            raise ValueError("rejection_limit must be at least 0")
        if not rejection_window > 0:
            raise ValueError("rejection_window must be above 0")
        self.journal = journal
        self.endpoint = endpoint
        self._steps: dict[tuple[Role, str, Channel], int] = {}
        self._limit, self._window = rejection_limit, rejection_window
        self._windows: dict[Channel | None, _Window] = {}
        journal.keys(at, endpoint.verifier.keyring)
        for incident in endpoint.incidents():
            self._steps[_view(incident)] = len(incident.history)

    def windows(self) -> Windows:
        """A copy of the rejection windows as they stand (`restore_windows`)."""
        return {
            channel: replace(window, reasons=Counter(window.reasons))
            for channel, window in self._windows.items()
        }

    def restore_windows(self, windows: Windows) -> None:
        """Take up the rejection windows another recorder had (`windows`), for a post
        that starts over from its store after a commit failed: the copies counted
        before are not forgotten, those of the failed commit are counted again."""
        self._windows = windows

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
        """A message arrived and the endpoint took it (``events``: what it said).

        First, the counts of rejection windows that have ended are journaled."""
        self._roll(at)
        for event in events:
            if isinstance(event, Received):
                line = event.envelope.channel.value
                self.journal.append(
                    at, "received", event.envelope.incident, {"message": data, "channel": line}
                )
                return
            if isinstance(event, Rejected):
                self._rejected(data, channel, event, at)
                return

    def flush(self, at: float) -> None:
        """Journal the copies counted and not journaled yet (a post closing calls this).

        The windows go on: a copy rejected later in one is still counted."""
        for channel, window in self._windows.items():
            self._summarise(channel, window, at)

    def _rejected(self, data: bytes, channel: Channel | None, event: Rejected, at: float) -> None:
        """Journal a rejected copy, or count it once its window's limit is reached."""
        window = self._windows.get(channel)
        if window is None:
            window = self._windows[channel] = _Window(at)
        if window.journaled >= self._limit:
            window.count_in(data, event.reason.value, at)
            return
        window.journaled += 1
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

    def _roll(self, at: float) -> None:
        """End the windows ``at`` is not in (a clock set back ends them too), journaling
        what they counted."""
        for channel, window in list(self._windows.items()):
            if not window.start <= at < window.start + self._window:
                del self._windows[channel]
                self._summarise(channel, window, at)

    def _summarise(self, channel: Channel | None, window: _Window, at: float) -> None:
        """One ``rejections`` entry for the copies ``window`` counted since the last."""
        if window.last is None:
            return
        self.journal.append(
            at,
            "rejections",
            None,
            {
                "channel": None if channel is None else channel.value,
                "count": window.count,
                "bytes": window.size,
                "reasons": dict(sorted(window.reasons.items())),
                "from": window.first,
                "until": window.until,
                "digest": hashlib.sha256(window.last).digest(),
            },
        )
        window.clear()

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

    def judged(self, incident: str, judgement: dict[str, Any], at: float) -> None:
        """Journal what the agreed map said of a notice this post sent."""
        self.journal.append(at, "judgement", incident, judgement)

    def seen(self, incidents: Iterable[Incident]) -> None:
        """Incidents read back from the store: their history so far is journaled."""
        for incident in incidents:
            self._steps[_view(incident)] = len(incident.history)

    def forget(self, incidents: Iterable[Incident]) -> None:
        """Incidents the endpoint set aside: `seen` tells again if they come back."""
        for incident in incidents:
            self._steps.pop(_view(incident), None)


@dataclass(slots=True)
class _Window:
    """One channel's rejection window: copies journaled, and those counted since the
    last ``rejections`` entry (``last``: the latest such copy, None while there is none)."""

    start: float
    journaled: int = 0
    count: int = 0
    size: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    first: float = 0.0
    until: float = 0.0
    last: bytes | None = None

    def count_in(self, data: bytes, reason: str, at: float) -> None:
        if self.last is None:
            self.first = at
        self.count += 1
        self.size += len(data)
        self.reasons[reason] += 1
        self.until, self.last = at, data

    def clear(self) -> None:
        self.count = self.size = 0
        self.reasons.clear()
        self.last = None


#: each channel's rejection window (None: copies on no known line)
Windows = dict[Channel | None, _Window]


def _view(incident: Incident) -> tuple[Role, str, Channel]:
    return incident.role, incident.id, incident.legs[0].channel
