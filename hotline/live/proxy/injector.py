"""The proxy's own connection to the broker, for the copies it takes off clients' hands.

Theory of operation. A copy the line delays, duplicates, corrupts, replays or forges
cannot travel on its sender's connection: it leaves later, or there is more of it than
the sender sent. The proxy acknowledges such a copy to its sender at once (the line has
taken it) and gives it to the `Injector`, which publishes it at its due time on a
connection of its own, QoS 1, and keeps it until the broker confirms it (PUBACK). A
lost connection is made again with backoff; whatever the broker had not confirmed is
published again with the DUP flag. So a held copy is neither lost when its sender's
connection is cut nor tied to that sender's packet ids, and the broker hands it to each
subscriber with a packet id of its own.

The connection is MQTT 3.1.1, written with `hotline.live.proxy.packets`: a CONNECT, a
PUBLISH per copy, PINGREQ to keep it alive, and reading CONNACK and PUBACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass

from hotline.live.mqtt import BrokerAddress
from hotline.live.proxy.errors import ProxyError
from hotline.live.proxy.packets import (
    DISCONNECT,
    PINGREQ,
    V311,
    MalformedPacket,
    PacketReader,
    PacketType,
    Publish,
    connect,
    encode_publish,
    packet_id,
)

log = logging.getLogger("hotline.proxy")

KEEPALIVE = 30  # seconds


@dataclass(slots=True)
class _Item:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    sent: bool = False  # published at least once (a repeat carries DUP)


class _Connection(asyncio.Protocol):
    def __init__(self, injector: Injector) -> None:
        self.injector = injector
        self.reader = PacketReader()
        self.transport: asyncio.Transport | None = None
        #: the broker's CONNACK return code (0: accepted), or None if it closed first
        self.answer: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        injector = self.injector
        transport.write(
            connect(
                injector.client_id,
                keepalive=KEEPALIVE,
                username=injector.username,
                password=injector.password,
            )
        )

    def data_received(self, data: bytes) -> None:
        try:
            packets = self.reader.feed(data)
        except MalformedPacket as exc:
            log.warning("injector: the broker sent what is not MQTT (%s)", exc)
            assert self.transport is not None
            self.transport.abort()
            return
        for packet in packets:
            if packet.type is PacketType.CONNACK and not self.answer.done():
                self.answer.set_result(packet.body[1] if len(packet.body) >= 2 else None)
            elif packet.type is PacketType.PUBACK:
                self.injector.confirmed(packet_id(packet.body))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_result(None)
        if not self.lost.done():
            self.lost.set_result(None)


#: what a refusing CONNACK's return code means (MQTT 3.1.1, 3.2.2.3)
REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class Injector:
    """Publishes held copies at their due times (see the module doc).

    Args:
        broker: the broker behind the proxy.
        client_id: this connection's MQTT client id.
    """

    def __init__(
        self,
        broker: BrokerAddress,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.username, self.password = username, password
        self._loop = asyncio.get_running_loop()
        self._unsent: deque[_Item] = deque()  # due, waiting for a connection
        self._in_flight: dict[int, _Item] = {}  # packet id -> published, not confirmed
        self._next_id = 0
        self._timers: set[asyncio.TimerHandle] = set()  # copies not yet due
        self._connection: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._paused = False
        self._closing = False

    @property
    def held(self) -> int:
        """Copies taken and not yet confirmed by the broker (due later, or on the way)."""
        return len(self._timers) + len(self._unsent) + len(self._in_flight)

    async def start(self) -> None:
        """Connect, and keep connecting while running.

        Raises:
            ProxyError: the broker cannot be reached, or refuses this connection (a
                broker that wants a user name and password: the proxy's are asked for).
        """
        connection, answer = await self._attempt()
        if answer != 0:
            if connection is not None and connection.transport is not None:
                connection.transport.close()
            why = "did not answer" if answer is None else REFUSALS.get(answer, f"code {answer}")
            raise ProxyError(
                f"the broker {self.broker.url} refused the proxy's own connection ({why}); "
                "it publishes the copies the line delays or adds: give it a user name and "
                "password the broker accepts (--username, --password)"
            )
        assert connection is not None
        self._task = asyncio.create_task(self._run(connection), name="hotline-proxy-injector")

    async def close(self) -> None:
        """Disconnect; copies not yet due are dropped with a warning."""
        self._closing = True
        left = self.held
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if left:
            log.warning("injector: %d held copies never reached the broker", left)
        connection = self._connection
        if connection is not None and connection.transport is not None:
            connection.transport.write(DISCONNECT)
            connection.transport.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False, after: float = 0.0
    ) -> None:
        """Publish ``payload`` to ``topic`` ``after`` real seconds from now (QoS 1 at
        most: a copy the line took is the line's to deliver at least once)."""
        item = _Item(topic, payload, min(qos, 1), retain)
        if after <= 0:
            self._send(item)
            return
        timer: asyncio.TimerHandle | None = None

        def due() -> None:
            assert timer is not None
            self._timers.discard(timer)
            self._send(item)

        timer = self._loop.call_later(after, due)
        self._timers.add(timer)

    def pause(self, paused: bool) -> None:
        """While paused (the broker is down for the plan), copies wait."""
        self._paused = paused
        if not paused:
            self._flush()

    def confirmed(self, identifier: int) -> None:
        self._in_flight.pop(identifier, None)

    def _send(self, item: _Item) -> None:
        self._unsent.append(item)
        self._flush()

    def _flush(self) -> None:
        connection = self._connection
        if self._paused or connection is None or connection.transport is None:
            return
        transport = connection.transport
        while self._unsent:
            item = self._unsent.popleft()
            if item.qos == 0:
                publish = Publish(item.topic, item.payload, 0, item.retain)
                transport.write(encode_publish(publish, V311))
                continue
            identifier = self._allocate()
            self._in_flight[identifier] = item
            transport.write(self._packet(item, identifier))

    def _packet(self, item: _Item, identifier: int) -> bytes:
        publish = Publish(item.topic, item.payload, 1, item.retain, item.sent, identifier)
        item.sent = True
        return encode_publish(publish, V311)

    def _allocate(self) -> int:
        for _ in range(65_535):
            self._next_id = self._next_id % 65_535 + 1
            if self._next_id not in self._in_flight:
                return self._next_id
        raise RuntimeError("65,535 copies wait for the broker's confirmation")

    async def _attempt(self) -> tuple[_Connection | None, int | None]:
        """One connection: its protocol, and the CONNACK's return code (None: none)."""
        try:
            _, connection = await self._loop.create_connection(
                lambda: _Connection(self), self.broker.host, self.broker.port
            )
        except OSError as exc:
            log.info("injector: cannot reach %s (%s)", self.broker.url, exc)
            return None, None
        try:
            return connection, await asyncio.wait_for(asyncio.shield(connection.answer), 10)
        except TimeoutError:
            if connection.transport is not None:
                connection.transport.close()
            return None, None

    async def _run(self, connection: _Connection | None) -> None:
        """Keep the connection: publish while it stands, connect again when it falls."""
        pause, rng = 0.05, random.Random()
        while not self._closing:
            if connection is not None:
                pause = 0.05
                self._connection = connection
                # what the broker had not confirmed goes again, before anything newer
                again = list(self._in_flight.values())
                self._in_flight.clear()
                self._unsent.extendleft(reversed(again))
                self._flush()
                pinger = asyncio.create_task(self._ping(connection))
                try:
                    await connection.lost
                finally:
                    pinger.cancel()
                    self._connection = None
            if self._closing:
                return
            await asyncio.sleep(pause * (0.5 + rng.random()))
            pause = min(pause * 2, 2.0)
            connection, answer = await self._attempt()
            if answer != 0 and connection is not None:
                log.info("injector: %s refused the connection (%s)", self.broker.url, answer)
                if connection.transport is not None:
                    connection.transport.close()
                connection = None

    async def _ping(self, connection: _Connection) -> None:
        while connection.transport is not None and not connection.transport.is_closing():
            await asyncio.sleep(KEEPALIVE / 2)
            connection.transport.write(PINGREQ)
