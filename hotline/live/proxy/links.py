"""Faults only a real network has, on one direction of one proxied connection.

Theory of operation. A `Pipe` carries bytes one way through the proxy (client to broker,
or broker to client) and applies the connection faults acting on that direction now,
as Toxiproxy's toxics do (`toxics/*.go`): `latency` holds every write back by a delay
drawn from its range, `bandwidth` lets at most `rate` bytes a second through, `slicer`
cuts each write into pieces of about `size` bytes a `delay` apart, `stall` accepts
bytes and forwards none (a half-open connection). Bytes never overtake each other: a
piece is due no earlier than the one before it, as on one TCP stream. With no fault
acting, a write goes straight to the transport.

Resets, closes and refusals act on whole connections and live with the proxy's
sessions (`hotline.live.proxy.server`).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Sequence

from hotline.faults import Fault, FaultKind


class Pipe:
    """One direction of a proxied connection (see the module doc).

    Args:
        transport: where the bytes go.
        faults: the connection faults acting on this direction now (asked per write).
        rng: draws for latency and slice sizes (timing only).
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        faults: Callable[[], Sequence[Fault]],
        rng: random.Random,
    ) -> None:
        self.transport = transport
        self._faults = faults
        self._rng = rng
        self._loop = asyncio.get_running_loop()
        self._queue: deque[tuple[float, bytes]] = deque()  # (due, bytes), in order
        self._timer: asyncio.TimerHandle | None = None
        self._last_due = 0.0
        self._free_at = 0.0  # when a bandwidth limit lets the next byte through
        self.stalled_bytes = 0  # accepted and never forwarded
        self._on_empty: list[Callable[[], None]] = []

    def send(self, data: bytes) -> None:
        """Carry ``data`` on, as the faults acting now allow."""
        faults = self._faults()
        if not faults and not self._queue:
            self.transport.write(data)
            return
        by_kind = {f.kind: f for f in faults}
        if FaultKind.STALL in by_kind:
            self.stalled_bytes += len(data)
            return
        now = self._loop.time()
        due = now
        latency = by_kind.get(FaultKind.LATENCY)
        if latency is not None:
            due += latency.draw_delay(self._rng)
        pieces = [data]
        slicer = by_kind.get(FaultKind.SLICER)
        if slicer is not None:
            pieces = self._slices(data, slicer.size)
        bandwidth = by_kind.get(FaultKind.BANDWIDTH)
        for index, piece in enumerate(pieces):
            at = max(due, self._last_due)
            if slicer is not None and index:
                at += slicer.draw_delay(self._rng)
            if bandwidth is not None:
                at = max(at, self._free_at)
                self._free_at = at + len(piece) / bandwidth.rate
            self._last_due = at
            self._queue.append((at, piece))
        self._arm()

    def _slices(self, data: bytes, size: int) -> list[bytes]:
        pieces, at = [], 0
        while at < len(data):
            length = max(1, round(size * self._rng.uniform(0.5, 1.5)))
            pieces.append(data[at : at + length])
            at += length
        return pieces

    def _arm(self) -> None:
        if self._timer is None and self._queue:
            self._timer = self._loop.call_at(self._queue[0][0], self._drain)

    def _drain(self) -> None:
        self._timer = None
        now = self._loop.time()
        queue = self._queue
        while queue and queue[0][0] <= now:
            if not self.transport.is_closing():
                self.transport.write(queue.popleft()[1])
            else:
                queue.popleft()
        if queue:
            self._arm()
        else:
            for callback in self._on_empty:
                callback()
            self._on_empty.clear()

    def after_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every byte accepted so far has been written."""
        if self._queue:
            self._on_empty.append(callback)
        else:
            callback()

    def discard(self) -> None:
        """Drop what waits (the connection is gone)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self._on_empty.clear()
