"""The discrete-event kernel: virtual time, and a heap of things to do.

Entries are ordered by (time, priority, counter): at one instant, lower priorities run
first, and among equals the earlier-scheduled runs first, so a run is a pure function
of its inputs and seed. Nothing here reads a clock; time jumps from entry to entry.
A cancelled entry stays in the heap until it surfaces and is skipped (cheaper than
removing it), but it no longer counts as work: a run whose agenda holds only cancelled
entries is over.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from enum import IntEnum


class Priority(IntEnum):
    """What runs first when several things fall on one instant."""

    SCRIPT = 0  # a party acts as the scenario says
    DELIVERY = 1  # a message arrives (an answer arriving at its deadline still counts)
    DECISION = 2  # a responder's operator acts
    TIMER = 3  # a station's deadline fires


class Kernel:
    """Virtual time and its agenda.

    Args:
        now: the starting time (seconds; the exercise uses Unix seconds).
    """

    __slots__ = ("_agenda", "_counter", "_live", "now", "steps")

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.steps = 0
        self._agenda: list[tuple[float, int, int, Callable[[], None]]] = []
        self._live: set[int] = set()  # handles scheduled and neither run nor cancelled
        self._counter = 0

    def schedule(self, at: float, priority: Priority, action: Callable[[], None]) -> int:
        """Run ``action`` at time ``at`` (never before now); returns a handle for `cancel`."""
        self._counter += 1
        heapq.heappush(self._agenda, (max(at, self.now), priority, self._counter, action))
        self._live.add(self._counter)
        return self._counter

    def cancel(self, handle: int) -> None:
        """Drop a scheduled entry (a no-op if it already ran or was cancelled)."""
        self._live.discard(handle)

    def run(self, until: float) -> None:
        """Run every live entry due up to and including ``until``, in order.

        Afterwards ``now`` is ``until`` if live work remains beyond it, or the time of
        the last entry run if the agenda ran dry first (the run went quiet).
        """
        agenda, live = self._agenda, self._live
        while agenda:
            at, _, handle, action = agenda[0]
            if handle not in live:
                heapq.heappop(agenda)
                continue
            if at > until:
                self.now = max(self.now, until)
                return
            heapq.heappop(agenda)
            live.discard(handle)
            self.now = at
            self.steps += 1
            action()

    @property
    def pending(self) -> int:
        """Live entries still on the agenda."""
        return len(self._live)
