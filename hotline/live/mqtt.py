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

Incoming messages are handed over in batches — all that one turn of the event loop
read from the socket — and acknowledged to the broker (QoS 1 PUBACK) only after the
handler returns, once the post has committed what the batch did (group commit: one
transaction for many messages). paho-mqtt acknowledges on receipt unless told
otherwise; aiomqtt 2 does not expose paho's manual acknowledgement yet (aiomqtt issue
345), so the link sets it on the paho client. A handler that raises takes the
connection down with it: nothing of the batch was acknowledged, and the broker
delivers it all again on the next connection.

The hot path stays off asyncio's task machinery: aiomqtt runs the connection (connect,
subscribe, the socket in the event loop, disconnect), but messages are collected in
paho's ``on_message`` callback and handled once per turn of the loop, each publish is
paho's own non-blocking call with its PUBACK seen in ``on_publish``, and what paho
queues is written once per turn (`_TurnWriter`). aiomqtt's ``messages`` iterator and awaitable
``publish`` cost a task or two per message, which a post at a few hundred round trips
a second notices (benchmarks/live.py). The outbox numbers waiting to be published are
mirrored in memory, so a flush does not read the store.

The first connection decides whether the post can work at all. Until it is made, each
failed attempt is classified (`ConnectionFailed.reason`) and kept; what retrying cannot
fix (a host name that does not resolve, a TLS failure, credentials refused) ends the
wait at once, the rest is retried until the caller's timeout and then reported with the
last cause. Once the post has been connected, a lost connection is retried for as long
as the link runs, whatever the cause.

aiomqtt and paho exceptions stop here: callers see `TransportError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import select
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from hotline.core.errors import HotlineError
from hotline.live.store import PostStore

log = logging.getLogger("hotline.mqtt")


def _as_debug(record: logging.LogRecord) -> bool:
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return True


#: paho's own lines (an error for each socket read a dropped connection fails, and so
#: on) are kept at DEBUG: the link says what matters of them itself (connection lost,
#: retrying in...), and an application that configured no logging would otherwise see
#: them printed as errors while its post reconnects as it should
PAHO_LOG = logging.getLogger("hotline.mqtt.paho")
PAHO_LOG.addFilter(_as_debug)

#: takes a batch of inbox messages, ``(topic, payload)``, and commits what they did
Handler = Callable[[Sequence[tuple[str, bytes]]], None]
#: the most inbox messages taken in one transaction
BATCH = 64
#: seconds a broker's confirmation may wait for a commit of its own, when no message
#: comes to take it along: until then a restart would publish the message again, and
#: its recipients refuse the copy as a replay
CONFIRMATIONS_WAIT = 1.0
#: Small messages must leave at once: with Nagle's algorithm on, each hop of a round
#: trip waits for the peer's delayed ACK (about 40 ms on Linux).
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


class TransportError(HotlineError):
    """The transport could not do what was asked (bad address, broker refused...)."""


#: why a first connection failed (`ConnectionFailed.reason`)
FailureReason = Literal["refused", "no-such-host", "tls", "auth", "refused-by-broker", "timeout"]


class ConnectionFailed(TransportError):
    """The post could not make its first connection to the broker.

    The message says which broker, what failed and what to try; match on ``reason``,
    never on the message text.

    Attributes:
        reason: ``"refused"``: nothing listens at the address (ECONNREFUSED);
            ``"no-such-host"``: the host name does not resolve; ``"tls"``: the TLS
            handshake failed (the broker's certificate does not verify against the CA or
            does not name the host, or the broker refused the post's certificate);
            ``"auth"``: the broker refused the client's credentials (bad user name or
            password, not authorised: MQTT CONNACK codes 4 and 5);
            ``"refused-by-broker"``: any other refusal by the broker (another CONNACK
            code, or the connection closed before the broker answered); ``"timeout"``:
            nothing answered in time.
        broker: the broker's URL (the nodes', comma-separated, for a cluster).
        detail: what failed, e.g. ``"connection refused"``.
    """

    def __init__(self, reason: FailureReason, broker: str, detail: str, hint: str) -> None:
        super().__init__(f"cannot connect to {broker}: {detail}; {hint}")
        self.reason: FailureReason = reason
        self.broker = broker
        self.detail = detail


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
        handler: called with the messages received in one turn of the event loop,
            ``[(topic, payload), ...]``; they are acknowledged to the broker when it
            returns (the post has committed).
        backoff: first and largest pause between reconnection attempts, seconds.
        tls: the post's certificate files, for an ``mqtts://`` broker.

    Raises:
        TransportError: TLS files for a plain broker address, or unreadable ones.
        ValueError: a backoff that is not two positive pauses, the first no longer
            than the last.
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
        if not 0 < backoff[0] <= backoff[1]:
            raise ValueError(
                f"backoff {backoff}: give (first, largest) pauses, 0 < first <= largest"
            )
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
        #: outbox numbers the broker has not confirmed yet (the store's outbox, mirrored)
        self.waiting: set[int] = {number for number, _, _ in store.pending()}
        self._stopping = asyncio.Event()
        self._paho: paho.Client | None = None  # while connected
        self._unsent: deque[tuple[int, str, bytes]] = deque()  # outbox, not yet published
        self._in_flight: dict[int, int] = {}  # MQTT packet id -> outbox number
        self._rng = random.Random()
        self._confirming: asyncio.Event | None = None  # set at the next confirmation
        self._failures: dict[int, _Failure] = {}  # per node, until the first connection
        self._last_failure: _Failure | None = None
        self._decided = asyncio.Event()  # first connection made, or impossible
        self._client: aiomqtt.Client | None = None  # while connected
        #: this turn's messages, not handled yet, with the connection each came on
        self._arrived: list[tuple[paho.Client, paho.MQTTMessage]] = []
        self._turning = False  # `_turn` is scheduled
        self._committing: asyncio.TimerHandle | None = None  # confirmations' own commit

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
            connection.enable_logger(PAHO_LOG)
            connection.manual_ack_set(True)
            connection.on_message = self._on_message
            connection.on_publish = self._on_publish
            attempt = _Attempt(client)
            try:
                async with client:
                    attempt.over()
                    self.connections += 1
                    # what the session's queue brought in meanwhile is in the outbox too
                    self._paho, self._client = connection, client
                    _TurnWriter(client)
                    self._unsent = deque(self.store.pending())
                    self._in_flight.clear()
                    for topic in self.inboxes:
                        await client.subscribe(topic, qos=1)
                    self.connected.set()
                    self._decided.set()
                    pause = self.backoff[0]
                    self.flush()
                    await self._until_lost_or_stopped(client)
            except aiomqtt.MqttError as exc:
                if not self.connections and self._failed(exc):
                    return  # nothing retrying can cure: `first_connection` reports it
                log.info("%s: connection lost (%s); retrying in %.2f s", self.client_id, exc, pause)
                self._node = (self._node + 1) % len(self.brokers)
            finally:
                attempt.abandon()
                self._paho = self._client = None
                self._arrived.clear()  # not acknowledged: the broker delivers them again
                self.connected.clear()
                self._wake()
            if self._stopping.is_set():
                return
            await asyncio.sleep(pause * (0.5 + self._rng.random()))  # jitter
            pause = min(pause * 2, self.backoff[1])

    @property
    def broker(self) -> BrokerAddress:
        """The broker this link is connected to, or will try next."""
        return self.brokers[self._node]

    def _failed(self, exc: aiomqtt.MqttError) -> bool:
        """Keep why a connection attempt before the first one failed; whether to give up
        (every node failed in a way that retrying cannot cure)."""
        failure = self._last_failure = _classify(exc, self.broker)
        self._failures[self._node] = failure
        if len(self._failures) == len(self.brokers) and all(
            f.final for f in self._failures.values()
        ):
            self._decided.set()
            return True
        return False

    async def first_connection(self, timeout: float) -> None:
        """Wait until `run` has connected once.

        Raises:
            ConnectionFailed: not within ``timeout`` seconds (with the last attempt's
                cause), or at once when every broker failed in a way retrying cannot
                cure (no such host, TLS, credentials refused).
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._decided.wait()
        if self.connections:
            return
        last = self._last_failure
        if last is None:
            urls = ", ".join(address.url for address in self.brokers)
            raise ConnectionFailed(
                "timeout",
                urls,
                f"no answer within {timeout:g} s",
                "check the address, and that the broker is running and reachable from here",
            )
        others = [f"{f.broker}: {f.detail}" for f in self._failures.values() if f is not last]
        raise last.error(None if last.final else timeout, others)

    async def forget_session(self, timeout: float) -> bool:
        """End the post's session at the broker: connect once with a clean session under
        the same client id, then disconnect (MQTT 3.1.1 has no other way). Call it once
        `run` has returned. Returns whether the broker took it, within ``timeout``."""
        client = aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=True,
            timeout=timeout,
            tls_context=self._tls_context,
        )
        client._client.enable_logger(PAHO_LOG)
        try:
            async with asyncio.timeout(timeout), client:
                pass
        except (aiomqtt.MqttError, TimeoutError) as exc:
            why = str(exc) or f"no answer within {timeout:g} s"
            log.warning("%s: the broker keeps this post's session: %s", self.client_id, why)
            return False
        return True

    async def confirmed(self, numbers: Collection[int] | None, timeout: float | None) -> bool:
        """Wait until the broker has confirmed outbox messages ``numbers`` (None: every
        message in the outbox). Returns whether it has, within ``timeout`` seconds; False
        at once if the link has stopped with some still waiting."""

        def left() -> bool:
            if numbers is None:
                return bool(self.waiting)
            return not self.waiting.isdisjoint(numbers)

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while left() and not (self._stopping.is_set() and self._paho is None):
                    if self._confirming is None:
                        self._confirming = asyncio.Event()
                    await self._confirming.wait()
        return not left()

    def _wake(self) -> None:
        """Wake whoever waits in `confirmed`."""
        if self._confirming is not None:
            self._confirming.set()
            self._confirming = None

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
        # the loop runs `_turn` next, which reads what else the socket holds: the
        # messages of one read are handled together
        self._arrived.append((connection, message))
        self._schedule()

    def _schedule(self) -> None:
        if not self._turning:
            self._turning = True
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        """Hand the turn's messages to the handler and acknowledge them, each on the
        connection it came on, once the handler has returned (committed)."""
        try:
            if self._arrived and self._client is not None:
                self._read_on(self._arrived[-1][0], self._client)
        finally:
            self._turning = False
        arrived, self._arrived = self._arrived, []
        if not arrived:
            return
        try:
            self.handler([(m.topic, bytes(m.payload)) for _, m in arrived])
        except Exception as exc:
            # not acknowledged: the broker delivers them again on the next connection
            log.exception("%s: handling %d message(s) failed", self.client_id, len(arrived))
            if self._client is not None:
                _drop(self._client, exc)  # ends this connection
            return
        for connection, message in arrived:
            if message.qos > 0:  # the handler has committed: the broker may forget it
                connection.ack(message.mid, message.qos)

    def _read_on(self, connection: paho.Client, client: aiomqtt.Client) -> None:
        """Read the packets already waiting in the socket, up to `BATCH` messages.

        paho reads one packet each time the socket turns readable while nothing it
        sent awaits an answer, so messages that arrived together would be handled one
        loop turn, and one commit, each.
        """
        sock = connection.socket()
        if sock is None or connection is not client._client:
            return  # a connection lost, or one before it
        ready = select.poll()  # not select(): it fails on descriptors past 1023
        ready.register(sock, select.POLLIN)
        while len(self._arrived) < BATCH and _readable(sock, ready):
            try:
                if connection.loop_read() != paho.MQTT_ERR_SUCCESS:
                    return  # paho has closed the connection and said why
            except Exception as exc:  # what aiomqtt's own reader does with it
                _drop(client, exc)
                return

    def _on_publish(self, _: paho.Client, __: object, mid: int, *___: object) -> None:
        number = self._in_flight.pop(mid, None)
        if number is not None:
            self.store.confirmed(number)  # leaves the outbox with the next commit
            if self._committing is None:
                self._committing = asyncio.get_running_loop().call_later(
                    CONFIRMATIONS_WAIT, self._commit_confirmations
                )
            self.waiting.discard(number)
            if self._confirming is not None:
                self._wake()

    def _commit_confirmations(self) -> None:
        """Commit the confirmations no message's transaction took along meanwhile."""
        self._committing = None
        self.store.commit_waiting()

    def stop(self) -> None:
        """Ask `run` to disconnect cleanly and return."""
        self._stopping.set()
        self._wake()

    def send(self, messages: Iterable[tuple[int, str, bytes]]) -> None:
        """Publish messages just committed to the outbox: ``(number, topic, data)``.

        While disconnected they wait: the next connection publishes everything the
        outbox holds.
        """
        messages = list(messages)
        self.waiting.update(number for number, _, _ in messages)
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


class _TurnWriter:
    """Writes what paho queues once per turn of the loop, from the loop itself.

    aiomqtt has paho ask for the socket to be watched for writing after each packet it
    queues (`call_soon_threadsafe`, then `add_writer` and `remove_writer`: system calls
    and a turn of the loop per packet). On the loop's own thread, this writes the turn's
    packets at the end of the turn instead, and leaves the watching to aiomqtt only when
    the socket is full or the call comes from another thread (paho's CONNECT).
    """

    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._connection = connection = client._client
        self._watch = connection.on_socket_register_write  # aiomqtt's
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._due = False
        connection.on_socket_register_write = self._register

    def _register(self, connection: paho.Client, userdata: Any, sock: Any) -> None:
        if self._watch is not None and threading.get_ident() != self._thread:
            self._watch(connection, userdata, sock)
        elif not self._due:
            self._due = True
            self._loop.call_soon(self._write, userdata, sock)

    def _write(self, userdata: Any, sock: Any) -> None:
        self._due = False
        connection = self._connection
        current = connection.socket()
        if current is None or current is not sock:
            return  # closed meanwhile: the next connection publishes the outbox again
        try:
            connection.loop_write()
        except Exception as exc:  # what aiomqtt's own writer does with it
            _drop(self._client, exc)
            return
        if connection.want_write() and self._watch is not None:
            self._watch(connection, userdata, current)  # full: the rest when it drains


def _readable(sock: Any, ready: select.poll) -> bool:
    """Whether a socket (registered with ``ready``) has bytes to read now, decrypted
    ones for TLS."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending() > 0:
        return True
    return bool(ready.poll(0))


def _drop(client: aiomqtt.Client, exc: Exception) -> None:
    """End ``client``'s connection with ``exc``, as aiomqtt's own reader and writer do."""
    if not client._disconnected.done():
        client._disconnected.set_exception(exc)


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed connection attempt, classified."""

    reason: FailureReason
    broker: str
    detail: str
    hint: str
    final: bool  # retrying cannot fix it

    def error(self, waited: float | None, others: Sequence[str] = ()) -> ConnectionFailed:
        """The error to raise, after ``waited`` seconds of retrying (None: none), with
        what the other nodes of a cluster said."""
        detail = self.detail if waited is None else f"{self.detail} (tried for {waited:g} s)"
        if others:
            detail += f" (and {'; '.join(others)})"
        return ConnectionFailed(self.reason, self.broker, detail, self.hint)


class _Unanswered(aiomqtt.MqttError):
    """The connection closed before the broker answered the CONNECT (no CONNACK)."""

    def __init__(self, logged: str) -> None:
        super().__init__(logged or "connection closed")
        self.logged = logged


#: paho 2 reports an MQTT 3.1.1 CONNACK return code as the MQTT 5 reason code it maps to
_V311_CODES = {132: 1, 133: 2, 136: 3, 134: 4, 135: 5}
#: CONNACK return codes that refuse the client's credentials: bad user name or password,
#: not authorised
_AUTH_CODES = frozenset({4, 5})
#: "server unavailable", the one refusal that retrying may cure
_UNAVAILABLE_CODES = frozenset({3})
_SSL_NOISE = re.compile(r"^\[SSL(: [A-Z0-9_]+)?\] |\s*\(_ssl\.c:\d+\)$")


def _ssl_text(text: str) -> str:
    """An OpenSSL error without its bracketed code and source line."""
    return _SSL_NOISE.sub("", text).strip()


def _classify(exc: BaseException, broker: BrokerAddress) -> _Failure:
    """What one failed connection attempt says about the broker (see `ConnectionFailed`)."""
    url, where = broker.url, f"{broker.host}:{broker.port}"
    if isinstance(exc, MqttConnectError):  # the broker answered CONNACK: refused
        code = exc.rc
        value = _V311_CODES.get(code.value, code.value) if isinstance(code, ReasonCode) else code
        name = str(code) if isinstance(code, ReasonCode) else str(exc)
        if value in _AUTH_CODES:
            return _Failure(
                "auth",
                url,
                f"the broker refused this client: {name.lower()} (CONNACK code {value})",
                "check the broker's allow_anonymous, password file and ACL for this client, "
                "or connect over mqtts:// with the post's certificate (tls=TlsFiles...)",
                final=True,
            )
        return _Failure(
            "refused-by-broker",
            url,
            f"the broker refused the connection: {name.lower()} (CONNACK code {value})",
            "see the broker's log",
            final=value not in _UNAVAILABLE_CODES,
        )
    if isinstance(exc, _Unanswered):
        if exc.logged.startswith("[SSL"):
            return _Failure(
                "tls",
                url,
                f"TLS: the broker refused this post's certificate ({_ssl_text(exc.logged)})",
                "check that the post's certificate and key were issued by the broker's CA "
                "(hotline certs issue)",
                final=True,
            )
        why = f" ({exc.logged})" if exc.logged else ""
        return _Failure(
            "refused-by-broker",
            url,
            f"the broker closed the connection before answering{why}",
            "if it listens with TLS, use an mqtts:// address; otherwise see the broker's log"
            if not broker.tls
            else "see the broker's log",
            final=False,
        )
    cause = exc.__cause__ or exc.__context__  # aiomqtt raises MqttError(str(OSError))
    if isinstance(cause, socket.gaierror):
        return _Failure(
            "no-such-host",
            url,
            f"no such host {broker.host!r} ({cause.strerror})",
            "check the host name",
            final=cause.errno != socket.EAI_AGAIN,  # a resolver that may answer later
        )
    if isinstance(cause, ssl.SSLCertVerificationError):
        return _Failure(
            "tls",
            url,
            f"TLS: certificate verify failed: {cause.verify_message}",
            "check the CA file and that the broker's certificate names this host",
            final=True,
        )
    if isinstance(cause, ssl.SSLError):
        return _Failure(
            "tls",
            url,
            f"TLS: the handshake failed ({_ssl_text(str(cause.args[-1]))})",
            "check the CA file, and that the post's certificate and key were issued by the "
            "broker's CA (hotline certs issue)",
            final=True,
        )
    if isinstance(cause, ConnectionRefusedError):
        return _Failure(
            "refused",
            url,
            "connection refused",
            f"is a broker listening on {where}? start one with brokers/dev/start.sh",
            final=False,
        )
    if isinstance(cause, TimeoutError):
        detail = f"no answer from {where}"
    else:
        detail = f"no connection ({exc})"
    return _Failure(
        "timeout",
        url,
        detail,
        "check the address, and that the broker is running and reachable from here",
        final=False,
    )


class _Attempt:
    """A connection attempt's watch on paho until the broker answers the CONNECT.

    aiomqtt waits out its whole timeout when the connection closes before the CONNACK
    (it ignores a disconnection before it is connected), and paho only logs why: a
    broker that refuses the post's certificate after a TLS 1.3 handshake looks like a
    broker that does not answer. This ends the wait at once, with paho's last error.
    """

    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._logged = ""
        self._waiting = True
        connection = client._client
        self._then = connection.on_disconnect
        connection.on_log = self._on_log
        connection.on_disconnect = self._on_disconnect

    def over(self) -> None:
        """The broker answered: stop watching."""
        self._waiting = False
        self._client._client.on_log = None  # paho formats every line for it: not per message

    def abandon(self) -> None:
        """The attempt is over. If the broker never answered, close paho's socket: aiomqtt
        leaves it open, and watched by the event loop, when it gives up waiting."""
        if self._waiting:
            self._client._client._sock_close()
        self.over()

    def _on_log(self, _: paho.Client, __: object, level: int, text: str) -> None:
        if level == paho.MQTT_LOG_ERR:
            self._logged = text.removeprefix("failed to receive on socket: ")

    def _on_disconnect(self, *args: Any) -> None:
        # aiomqtt's own future for the CONNACK: failing it ends its wait at once
        pending = self._client._connected
        if self._waiting and not pending.done():
            pending.set_exception(_Unanswered(self._logged))
        if self._then is not None:
            self._then(*args)
