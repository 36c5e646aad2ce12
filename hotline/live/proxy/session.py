"""One client's connection through the fault proxy, and its connection to the broker.

Theory of operation. A `Session` reads what its client sends packet by packet
(`hotline.live.proxy.packets`) and forwards it to the broker through a `Pipe`
(`hotline.live.proxy.links`); what the broker sends goes back to the client through
another pipe as the bytes it read. The session knows its client by its CONNECT (client
id, user name, and the stations the proxy was told it hosts) and by the inboxes it
subscribes to (``hotline/v2/<line>/<station>``).

Each PUBLISH the client sends is judged by the proxy's line (`LineModel`). A copy that
passes untouched is forwarded as it was read, and the broker's acknowledgement goes
back to the client as usual. Any other copy the line takes off the client's hands: the
session acknowledges it itself (PUBACK for QoS 1; PUBREC, then PUBCOMP for the client's
PUBREL, for QoS 2), so a dropped copy is lost by the line, not by the client, and what
the line delivers later or more than once goes through the proxy's injector. MQTT 5
topic aliases are followed both ways, so a copy taken off the line never leaves the
broker without the alias it set.

A malformed packet from the client is logged, counted and ends the connection (as a
broker would); the proxy carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import TYPE_CHECKING, Final

from hotline.faults import Fault, Stream
from hotline.live.proxy.decisions import Applied, parse_inbox
from hotline.live.proxy.links import Pipe
from hotline.live.proxy.packets import (
    PACKET_TYPES,
    V5,
    V311,
    MalformedPacket,
    Packet,
    PacketReader,
    PacketType,
    Publish,
    acknowledgement,
    check_publish,
    encode_publish,
    packet_id,
    parse_connect,
    parse_publish,
    parse_subscribe,
    refusal,
)

if TYPE_CHECKING:
    from hotline.live.proxy.server import FaultProxy

log = logging.getLogger("hotline.proxy")

#: what a connected client sends that the session reads in full (the rest goes on as
#: read): a second CONNECT is malformed, a PUBREL may complete a publish the line took,
#: a SUBSCRIBE names the stations the client hosts
_READ: Final = frozenset(map(int, (PacketType.CONNECT, PacketType.PUBREL, PacketType.SUBSCRIBE)))
_PUBLISH: Final = int(PacketType.PUBLISH)
#: seconds a broker is given to answer a client's last packets and end the connection
#: once the client has gone (`Session._end_upstream`)
UPSTREAM_GRACE: Final = 2.0


class Session:
    """One proxied connection (see the module doc)."""

    def __init__(self, proxy: FaultProxy, client: asyncio.Transport) -> None:
        self.proxy = proxy
        self.client = client
        self.broker: asyncio.Transport | None = None
        self._early: list[bytes] = []  # what the client sent before the broker answered
        self._reader = PacketReader(proxy.max_packet)  # from the client
        self._from_broker = PacketReader(proxy.max_packet)
        self.level = V311
        self.client_id = ""
        self.username: str | None = None
        self.stations: set[str] = set()
        self._aliases: dict[int, str] = {}  # the client's topic aliases
        self._broker_aliases: dict[int, str] = {}  # those the broker was told of
        self._taken_qos2: set[int] = set()  # QoS 2 packet ids the line took
        #: connection faults that took this connection, with when they took it
        self.taken: dict[int, bool] = {}  # fault id -> whether its toxicity drew it
        self.acting: list[Fault] = []  # connection faults acting on it now
        self.closed = False
        self._grace: asyncio.TimerHandle | None = None  # `_end_upstream`
        self._shut = False  # `close` has closed the client's side
        self.connected = False  # its CONNECT was read
        rng = proxy.rng
        self.down = Pipe(client, self._downstream_faults, rng)
        self.up: Pipe | None = None
        self._connecting = asyncio.create_task(self._connect(), name="hotline-proxy-upstream")

    @property
    def name(self) -> str:
        """How the log names this client."""
        who = self.client_id or "(no CONNECT yet)"
        return f"{who} [{', '.join(sorted(self.stations))}]" if self.stations else who

    def _acting(self, stream: Stream) -> list[Fault]:
        return [f for f in self.acting if f.stream in (stream, Stream.BOTH)]

    # asked at every write: most of the time no fault acts, and that is answered at once
    def _upstream_faults(self) -> list[Fault]:
        return self._acting(Stream.UPSTREAM) if self.acting else []

    def _downstream_faults(self) -> list[Fault]:
        return self._acting(Stream.DOWNSTREAM) if self.acting else []

    async def _connect(self) -> None:
        broker = self.proxy.broker
        try:
            transport, _ = await self.proxy.loop.create_connection(
                lambda: _BrokerSide(self), broker.host, broker.port
            )
        except OSError as exc:
            log.warning("%s: cannot reach the broker %s: %s", self.name, broker.url, exc)
            self.proxy.events["broker-unreachable"] += 1
            self.close()
            return
        if self.closed:
            transport.close()
            return
        assert isinstance(transport, asyncio.Transport)
        self.broker = transport
        self.up = Pipe(transport, self._upstream_faults, self.proxy.rng)
        early, self._early = self._early, []
        for data in early:
            self.from_client(data)

    # -- client to broker ----------------------------------------------------------------

    def from_client(self, data: bytes) -> None:
        """Bytes from the client: packets judged and forwarded."""
        if self.closed:
            return
        if self.up is None:
            self._early.append(data)
            return
        try:
            chunk, spans = self._reader.split(data)
            out = self._packets(chunk, spans)
        except MalformedPacket as exc:
            self.proxy.malformed(self, str(exc))
            self.close()
            return
        if out:
            self.up.send(out)

    def _packets(self, chunk: bytes, spans: list[tuple[int, int, int]]) -> bytes:
        """What goes on to the broker for the packets at ``spans`` of ``chunk``: the same
        bytes, but for the packets the line takes or rewrites (b"": the session closed).

        Packets that go on as read are not copied out of ``chunk``: most reads go on
        whole. Only what says who the client is, what the line may take, and what the
        proxy answers itself is made a `Packet` and read in full.
        """
        proxy = self.proxy
        out: bytearray | None = None  # made at the first packet that does not go as read
        mark = 0  # where the packets not yet copied to ``out`` start
        for start, body, end in spans:
            first = chunk[start]
            kind = first >> 4
            if self.connected:
                if kind == _PUBLISH:
                    # as `FaultProxy.judge` decides (keep the two alike): while the line
                    # is passive or the proxy paused, every copy passes untouched, and
                    # only MQTT 5, for its topic aliases, needs the packet read in full
                    if self.level != V5 and (proxy.paused or proxy.model.passive):
                        check_publish(chunk, first & 0x0F, body, end)
                        proxy.forwarded += 1
                        continue
                elif kind not in _READ:
                    continue
            packet = Packet(PACKET_TYPES[kind], first & 0x0F, chunk[body:end], chunk[start:end])
            piece = self._upstream(packet)
            if self.closed:
                return b""
            if piece is packet.raw:
                continue
            if out is None:
                out = bytearray()
            out += chunk[mark:start]
            out += piece
            mark = end
        last = spans[-1][2] if spans else 0
        if out is None:
            return chunk[:last]
        out += chunk[mark:last]
        return bytes(out)

    def _upstream(self, packet: Packet) -> bytes:
        kind = packet.type
        if kind is PacketType.PUBLISH and self.connected:
            return self._publish(packet)
        if kind is PacketType.CONNECT:
            if self.connected:
                raise MalformedPacket("a second CONNECT")
            return self._connect_packet(packet)
        if not self.connected:
            raise MalformedPacket(f"{kind.name} before CONNECT")
        if kind is PacketType.PUBREL:
            identifier = packet_id(packet.body)
            if identifier in self._taken_qos2:  # the line took that publish: complete it here
                self._taken_qos2.discard(identifier)
                self.down.send(acknowledgement(PacketType.PUBCOMP, identifier))
                return b""
        elif kind is PacketType.SUBSCRIBE:
            _, filters = parse_subscribe(packet.body, self.level)
            for pattern in filters:
                line = parse_inbox(pattern)
                if line.channel is not None:
                    self.stations.add(line.station)
            self.proxy.look_at(self)  # the faults of the stations it turns out to host
        return packet.raw

    def _connect_packet(self, packet: Packet) -> bytes:
        connect = parse_connect(packet.body)
        self.level, self.client_id, self.username = (
            connect.level,
            connect.client_id,
            connect.username,
        )
        clients = self.proxy.clients
        for name in (connect.client_id, connect.username):
            if name is not None:
                self.stations.update(clients.get(name, ()))
        down = self.proxy.down_stations(self.stations)
        if down:
            self.proxy.applied(
                Applied(self.proxy.now(), "refused", "station-down", "", sender=", ".join(down))
            )
            self.proxy.events["refused"] += 1
            self.down.send(refusal(self.level))
            self.down.after_drained(self.close)
            self.closed = True
            return b""
        self.connected = True
        self.proxy.look_at(self)  # connection faults act from the first packet on
        return packet.raw

    def _publish(self, packet: Packet) -> bytes:
        publish = parse_publish(packet.flags, packet.body, self.level)
        topic = publish.topic
        if publish.alias is not None:
            if topic:
                self._aliases[publish.alias] = topic
            else:
                found = self._aliases.get(publish.alias)
                if found is None:
                    raise MalformedPacket(f"topic alias {publish.alias} was never set")
                topic = found
        proxy = self.proxy
        verdict = proxy.judge(self, topic, publish)
        if verdict is None:  # untouched
            return self._forward(packet, publish, topic)
        passed = False
        for out in verdict.outgoing:
            if (
                not passed
                and out.genuine
                and out.tag is None
                and not out.delay
                and out.topic == topic
            ):
                passed = True
                continue
            proxy.inject(out.topic, out.data, publish, out.delay)
        if passed:
            return self._forward(packet, publish, topic)
        self._acknowledge(publish)
        return b""

    def _forward(self, packet: Packet, publish: Publish, topic: str) -> bytes:
        """The packet as read, unless it names its topic by an alias the broker was
        never told of (the line took the publish that set it)."""
        self.proxy.forwarded += 1
        alias = publish.alias
        if alias is None:
            return packet.raw
        if publish.topic:
            self._broker_aliases[alias] = topic
            return packet.raw
        if self._broker_aliases.get(alias) == topic:
            return packet.raw
        self._broker_aliases[alias] = topic
        named = Publish(
            topic,
            publish.payload,
            publish.qos,
            publish.retain,
            publish.dup,
            publish.packet_id,
            publish.properties,
            alias,
        )
        return encode_publish(named, self.level)

    def _acknowledge(self, publish: Publish) -> None:
        """The line has taken the copy: tell the client, as the broker would."""
        identifier = publish.packet_id
        if identifier is None:
            return
        if publish.qos == 1:
            self.down.send(acknowledgement(PacketType.PUBACK, identifier))
        else:
            self._taken_qos2.add(identifier)
            self.down.send(acknowledgement(PacketType.PUBREC, identifier))

    # -- broker to client ----------------------------------------------------------------

    def from_broker(self, data: bytes) -> None:
        """Bytes from the broker: on to the client as they are, a whole packet at a
        time, so that what the proxy writes to the client itself (acknowledgements of
        the copies the line took) never lands inside one of the broker's packets."""
        if self.closed:
            return
        try:
            chunk, spans = self._from_broker.split(data)
        except MalformedPacket as exc:
            log.warning("%s: the broker sent what is not MQTT (%s): closed", self.name, exc)
            self.proxy.events["malformed-from-broker"] += 1
            self.close()
            return
        if spans:
            end = spans[-1][2]
            self.down.send(chunk if end == len(chunk) else chunk[:end])

    # -- ends ----------------------------------------------------------------------------

    def cut(self, reset: bool = False) -> None:
        """End both connections at once (a station down, a broker down, a reset)."""
        if reset:
            _linger_zero(self.client)
        self.closed = True
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.down.discard()
        if self.up is not None:
            self.up.discard()
        self.client.abort()
        if self.broker is not None:
            self.broker.abort()
        self._finish()

    def close(self) -> None:
        """End both connections after what is on its way (a slow close lingers)."""
        if self.broker is None and not self._connecting.done():
            self._connecting.cancel()
        self.closed = True
        linger = next(
            (f.draw_delay(self.proxy.rng) for f in self.acting if f.kind.value == "slow-close"),
            0.0,
        )

        def shut() -> None:
            self._shut = True
            if not self.client.is_closing():
                self.client.close()
            self._end_upstream()

        def drained() -> None:
            if linger > 0:
                self.proxy.loop.call_later(linger, shut)
            else:
                shut()

        pending = [p for p in (self.down, self.up) if p is not None]
        waiting = len(pending)

        def one_drained() -> None:
            nonlocal waiting
            waiting -= 1
            if waiting == 0:
                drained()

        for pipe in pending:
            pipe.after_drained(one_drained)

    def _end_upstream(self) -> None:
        """Half-close the broker's connection and let the broker end it.

        The broker is still answering what the client sent last: a client the line
        acknowledged itself may hang up while copies it forwarded are on their way.
        A broker that finds its connection closed under an answer (a PUBACK) ends the
        session there and drops the packets it had not read yet (mosquitto does), so
        the proxy only stops writing, keeps reading until the broker closes, and
        closes itself `UPSTREAM_GRACE` seconds later at the latest.
        """
        broker = self.broker
        if broker is None or broker.is_closing():
            self._finish()
            return
        if not broker.can_write_eof():
            broker.close()
            self._finish()
            return
        broker.write_eof()
        self._grace = self.proxy.loop.call_later(UPSTREAM_GRACE, self.cut)

    def broker_lost(self) -> None:
        """The broker's side of the connection is gone."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if not self.closed:
            self.close()
        elif self._shut:
            self._finish()
        # else closing, its client's side still draining: `shut` finds the broker gone

    def _finish(self) -> None:
        self.proxy.sessions.discard(self)


def _linger_zero(transport: asyncio.Transport) -> None:
    """Make the next close of ``transport`` a TCP RST (connection reset by peer)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class ClientSide(asyncio.Protocol):
    """The proxy's end of a client's connection."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.session: Session | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        _no_delay(transport)
        self.session = Session(self.proxy, transport)
        self.proxy.sessions.add(self.session)

    def data_received(self, data: bytes) -> None:
        assert self.session is not None
        self.session.from_client(data)

    def eof_received(self) -> bool:
        return False  # close: the session closes the broker's side

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None and not self.session.closed:
            self.session.close()

    def pause_writing(self) -> None:
        if self.session is not None and self.session.broker is not None:
            self.session.broker.pause_reading()

    def resume_writing(self) -> None:
        if self.session is not None and self.session.broker is not None:
            self.session.broker.resume_reading()


class _BrokerSide(asyncio.Protocol):
    """The proxy's connection to the broker, on behalf of one client."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        _no_delay(transport)

    def data_received(self, data: bytes) -> None:
        self.session.from_broker(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.broker_lost()

    def pause_writing(self) -> None:
        self.session.client.pause_reading()

    def resume_writing(self) -> None:
        self.session.client.resume_reading()


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Small packets leave at once: no Nagle delay on either side of the proxy."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
