"""The events a post keeps for its application until it reads them (`Station.events`).

A post makes a few events per message it takes. An application that only sends
notices and awaits their outcomes may never read them, and a queue without bound
would keep every one for the life of the post (millions a day on a busy line). So the
buffer keeps at most ``limit``: past it, the oldest event is let go, counted
(`EventBuffer.dropped`) and logged, except a `NoticeReceived`, which is work the
application still has to do (answer the notice) and is never let go. Nothing is lost
from the record: the post's journal holds every message taken and every transition.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from hotline.core.events import Event, NoticeReceived

log = logging.getLogger("hotline.station")


class EventBuffer:
    """Events waiting for the application, oldest first (see the module doc).

    Args:
        limit: the most kept; None keeps every one.
        name: the post, for the log.
    """

    def __init__(self, limit: int | None, name: str) -> None:
        if limit is not None and limit < 1:
            raise ValueError("max_events must be None or at least 1")
        self.limit, self.name = limit, name
        self.dropped = 0  # events let go unread
        self._items: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._warned = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: Event) -> None:
        """Keep ``event``; past the limit, let the oldest one go (never a notice)."""
        items = self._items
        items.append(event)
        self._ready.set()
        if self.limit is not None and len(items) > self.limit:
            self._let_go()

    def _let_go(self) -> None:
        items = self._items
        for index, old in enumerate(items):
            if not isinstance(old, NoticeReceived):
                del items[index]
                break
        else:
            return  # all notices waiting for an answer: kept
        self.dropped += 1
        if not self._warned:
            self._warned = True
            log.warning(
                "%s: more than %d events unread: the oldest are let go (notices waiting "
                "for an answer are kept; read Station.events(), or raise max_events)",
                self.name,
                self.limit,
            )

    async def get(self) -> Event:
        """The oldest event, waiting for one if there is none."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def take_all(self) -> list[Event]:
        """Every event waiting, at once (none waits for more)."""
        taken = list(self._items)
        self._items.clear()
        return taken
