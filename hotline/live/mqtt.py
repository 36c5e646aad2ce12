"""The MQTT transport: one connection per post, over aiomqtt.

Theory of operation. A post subscribes to its stations' inboxes
(``hotline/v2/<channel>/<station>``) with QoS 1 over a persistent session — MQTT 3.1.1
``clean_session = False`` and a stable client id — so the broker keeps what arrives
while the post is away. aiomqtt 2 does not reconnect by itself: `MqttLink.run` does,
with exponential backoff and jitter, subscribing again each time. Every message to
publish goes first into the post's outbox (`PostStore`) and leaves it only when the
broker confirms it (QoS 1 PUBACK); whatever is still there when a connection comes
back is published again. Broker confirmation proves only that the broker has it: the
protocol's own signed acknowledgement is the proof of delivery.

Incoming messages are acknowledged to the broker (QoS 1 PUBACK) only after the handler
returns — after the post has committed what the message did. paho-mqtt acknowledges
on receipt unless told otherwise; aiomqtt 2 does not expose paho's manual
acknowledgement yet (aiomqtt issue 345), so the link sets it on the paho client.

The hot path stays off asyncio's task machinery: aiomqtt runs the connection (connect,
subscribe, the socket in the event loop, disconnect), but each message is handled in
paho's ``on_message`` callback, and each publish is paho's own non-blocking call with
its PUBACK seen in ``on_publish``. aiomqtt's ``messages`` iterator and awaitable
``publish`` cost a task or two per message, which a post at a few hundred round trips
a second notices (benchmarks/live.py). The outbox numbers waiting to be published are
mirrored in memory, so a flush does not read the store.

aiomqtt and paho exceptions stop here: callers see `TransportError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho

from hotline.core.errors import HotlineError
from hotline.live.store import PostStore

log = logging.getLogger("hotline.mqtt")

Handler = Callable[[str, bytes], None]
#: Small messages must leave at once: with Nagle's algorithm on, each hop of a round
#: trip waits for the peer's delayed ACK (about 40 ms on Linux).
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


class TransportError(HotlineError):
    """The transport could not do what was asked (bad address, broker refused...)."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is: ``mqtt://host:port``, or ``mqtts://host:port`` over TLS."""

    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Read ``mqtt://HOST:PORT`` (port 1883 by default) or ``mqtts://`` (8883).

        Raises:
            TransportError: not an mqtt:// or mqtts:// address.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise TransportError(f"{url!r} is not a broker address like mqtt://127.0.0.1:1883")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise TransportError(f"{url!r} has an invalid port") from None
        return cls(parts.hostname, port, tls)

    @property
    def url(self) -> str:
        """The address as a URL again."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @classmethod
    def parse_many(cls, urls: str | Sequence[str]) -> tuple[BrokerAddress, ...]:
        """Read one address, a comma-separated list, or a sequence: nodes of one cluster.

        Raises:
            TransportError: no address, a bad one, or plain and TLS addresses mixed.
        """
        texts = urls.split(",") if isinstance(urls, str) else list(urls)
        found = tuple(cls.parse(text.strip()) for text in texts if text.strip())
        if not found:
            raise TransportError("no broker address given")
        if len({address.tls for address in found}) > 1:
            raise TransportError("broker addresses mix mqtt:// and mqtts://")
        return found


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A post's TLS identity (from ``hotline certs issue``): the CA to trust, and the
    post's certificate and private key."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_directory(cls, directory: Path, post: str) -> TlsFiles:
        """The files ``hotline certs issue`` wrote for ``post`` into ``directory``."""
        return cls(directory / "ca.crt", directory / f"{post}.crt", directory / f"{post}.key")

    def context(self) -> ssl.SSLContext:
        """A client context: verifies the broker against the CA, presents the post's cert.

        Raises:
            TransportError: a file is missing or unreadable.
        """
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        try:
            context.load_verify_locations(cafile=str(self.ca))
            context.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"TLS files {self.cert}, {self.key}, {self.ca}: {exc}") from None
        return context


class MqttLink:
    """A post's connection: inbox subscriptions in, outbox out, reconnecting as needed.

    Given several broker addresses (the nodes of a cluster), a lost or refused
    connection moves on to the next node: the persistent session lives in the cluster,
    not in one node, so the post carries on where it was.

    Args:
        broker: the broker address, or the addresses of a cluster's nodes.
        client_id: stable across restarts (the broker keeps the session under it).
        inboxes: topics to subscribe to.
        store: the post's outbox.
        handler: called for each message received, ``(topic, payload)``; the message
            is acknowledged to the broker when it returns (the post has committed).
        backoff: first and largest pause between reconnection attempts, seconds.
        tls: the post's certificate files, for an ``mqtts://`` broker.

    Raises:
        TransportError: TLS files for a plain broker address, or unreadable ones.
    """

    def __init__(
        self,
        broker: BrokerAddress | Sequence[BrokerAddress],
        *,
        client_id: str,
        inboxes: Sequence[str],
        store: PostStore,
        handler: Handler,
        backoff: tuple[float, float] = (0.05, 2.0),
        tls: TlsFiles | None = None,
    ) -> None:
        self.brokers = (broker,) if isinstance(broker, BrokerAddress) else tuple(broker)
        secure = self.brokers[0].tls
        if tls is not None and not secure:
            raise TransportError("TLS files given for a plain broker: use an mqtts:// address")
        self._tls_context = (
            None if not secure else tls.context() if tls else ssl.create_default_context()
        )
        self._node = 0  # which of the brokers to try next
        self.client_id = client_id
        self.inboxes = tuple(inboxes)
        self.store = store
        self.handler = handler
        self.backoff = backoff
        self.connected = asyncio.Event()
        self.connections = 0
        self._stopping = asyncio.Event()
        self._paho: paho.Client | None = None  # while connected
        self._unsent: deque[tuple[int, str, bytes]] = deque()  # outbox, not yet published
        self._in_flight: dict[int, int] = {}  # MQTT packet id -> outbox number
        self._rng = random.Random()

    async def run(self) -> None:
        """Stay connected until `stop`: connect, subscribe, flush, receive; repeat."""
        pause = self.backoff[0]
        while not self._stopping.is_set():
            client = aiomqtt.Client(
                self.broker.host,
                self.broker.port,
                identifier=self.client_id,
                protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=False,
                keepalive=10,
                timeout=5,
                socket_options=NO_DELAY,
                tls_context=self._tls_context,
            )
            # before connecting: a persistent session's queue arrives right after CONNACK
            connection = client._client
            connection.manual_ack_set(True)
            connection.on_message = self._on_message
            connection.on_publish = self._on_publish
            try:
                async with client:
                    self.connections += 1
                    # what the session's queue brought in meanwhile is in the outbox too
                    self._paho = connection
                    self._unsent = deque(self.store.pending())
                    self._in_flight.clear()
                    for topic in self.inboxes:
                        await client.subscribe(topic, qos=1)
                    self.connected.set()
                    pause = self.backoff[0]
                    self.flush()
                    await self._until_lost_or_stopped(client)
            except aiomqtt.MqttError as exc:
                log.info("%s: connection lost (%s); retrying in %.2f s", self.client_id, exc, pause)
                self._node = (self._node + 1) % len(self.brokers)
            finally:
                self._paho = None
                self.connected.clear()
            if self._stopping.is_set():
                return
            await asyncio.sleep(pause * (0.5 + self._rng.random()))  # jitter
            pause = min(pause * 2, self.backoff[1])

    @property
    def broker(self) -> BrokerAddress:
        """The broker this link is connected to, or will try next."""
        return self.brokers[self._node]

    async def _until_lost_or_stopped(self, client: aiomqtt.Client) -> None:
        # Stopping must leave the client's context normally, so that it disconnects at
        # once: cancelling a task parked inside it would wait out the client timeout.
        lost = asyncio.create_task(self._until_lost(client))
        stopper = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait({lost, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (lost, stopper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if lost in done:
            lost.result()  # re-raises the MqttError that ended the connection

    @staticmethod
    async def _until_lost(client: aiomqtt.Client) -> None:
        # messages go to `_on_message`, never to aiomqtt's queue: this iterator only
        # raises MqttError when the connection is lost
        async for _ in client.messages:
            pass

    def _on_message(self, connection: paho.Client, _: object, message: paho.MQTTMessage) -> None:
        try:
            self.handler(message.topic, bytes(message.payload))
        except Exception:
            # not acknowledged: the broker delivers it again on the next connection
            log.exception("%s: handling a message on %s failed", self.client_id, message.topic)
            raise
        if message.qos > 0:  # the handler has committed: the broker may forget it
            connection.ack(message.mid, message.qos)

    def _on_publish(self, _: paho.Client, __: object, mid: int, *___: object) -> None:
        number = self._in_flight.pop(mid, None)
        if number is not None:
            self.store.confirmed(number)

    def stop(self) -> None:
        """Ask `run` to disconnect cleanly and return."""
        self._stopping.set()

    def send(self, messages: Iterable[tuple[int, str, bytes]]) -> None:
        """Publish messages just committed to the outbox: ``(number, topic, data)``.

        While disconnected this does nothing: the next connection publishes everything
        the outbox holds.
        """
        if self._paho is not None:
            self._unsent.extend(messages)
            self.flush()

    def flush(self) -> None:
        """Publish every outbox message not already on its way (QoS 1).

        Each is confirmed (and leaves the outbox) when its own PUBACK arrives: messages
        are pipelined, not sent one broker round trip at a time, in outbox order. A
        publish the client refuses stays in the outbox for the next connection.
        """
        connection, unsent = self._paho, self._unsent
        while connection is not None and unsent:
            number, topic, data = unsent[0]
            info = connection.publish(topic, data, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                log.info("%s: publish deferred (%s)", self.client_id, paho.error_string(info.rc))
                return
            unsent.popleft()
            self._in_flight[info.mid] = number
