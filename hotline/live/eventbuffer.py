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

    Notices and the other events wait in two queues, each entry numbered in the order
    it came, so that letting the oldest other event go never scans the notices and a
    read takes whichever of the two fronts came first.

    Args:
        limit: the most kept (notices are kept past it); None keeps every one.
        name: the post, for the log.
    """

    def __init__(self, limit: int | None, name: str) -> None:
        if limit is not None and limit < 1:
            raise ValueError("max_events must be None or at least 1")
        self.limit, self.name = limit, name
        self.dropped = 0  # events let go unread
        self._notices: deque[tuple[int, Event]] = deque()
        self._others: deque[tuple[int, Event]] = deque()
        self._count = 0  # entries ever put: each one's number
        self._ready = asyncio.Event()
        self._warned = False

    def __len__(self) -> int:
        return len(self._notices) + len(self._others)

    def put(self, event: Event) -> None:
        """Keep ``event``; past the limit, let the oldest one go (never a notice)."""
        self._count += 1
        queue = self._notices if isinstance(event, NoticeReceived) else self._others
        queue.append((self._count, event))
        if self.limit is not None and len(self) > self.limit and self._others:
            self._let_go()
        self._ready.set()

    def _let_go(self) -> None:
        self._others.popleft()
        self.dropped += 1
        if not self._warned:
            self._warned = True
            log.warning(
                "%s: more than %d events unread: the oldest are let go (notices waiting "
                "for an answer are kept; read Station.events(), or raise max_events)",
                self.name,
                self.limit,
            )

    def _take(self) -> Event:
        notices, others = self._notices, self._others
        if notices and (not others or notices[0][0] < others[0][0]):
            return notices.popleft()[1]
        return others.popleft()[1]

    async def get(self) -> Event:
        """The oldest event, waiting for one if there is none."""
        while not (self._notices or self._others):
            self._ready.clear()
            await self._ready.wait()
        return self._take()

    def take_all(self) -> list[Event]:
        """Every event waiting, oldest first, at once (none waits for more)."""
        return [self._take() for _ in range(len(self))]
