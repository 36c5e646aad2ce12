"""MQTT packets, as much of them as a fault proxy needs to read and write (3.1.1 and 5).

Theory of operation. A proxy between clients and a broker forwards most packets as the
bytes it read; it only has to see where each packet ends (the fixed header's
remaining-length varint), who a client is (CONNECT), what is published where (PUBLISH:
topic, QoS, packet id, payload; MQTT 5 properties and topic aliases), what a client
listens to (SUBSCRIBE) and which packet id an acknowledgement names. `PacketReader` is
sans-IO: bytes in, whole packets out, a `MalformedPacket` for anything that breaks the
framing rules of either version. The few packets the proxy writes itself are built
here too: acknowledgements (PUBACK, PUBREC, PUBCOMP) for publishes it takes off a
client's hands, a refusing CONNACK for a station the fault plan has down, and the
CONNECT and PUBLISH packets of its own injecting connection.

No maintained Python package reads both versions sans-IO (mqttproto reads MQTT 5
only), and the framing is small: the rules followed are OASIS MQTT 3.1.1 section 2
and MQTT 5.0 sections 1.5 and 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from hotline.live.mqtt import TransportError

#: MQTT's largest remaining length (four varint bytes), and so its largest packet
MAX_REMAINING: Final = 268_435_455
MAX_PACKET: Final = 1 + 4 + MAX_REMAINING

V311: Final = 4  # protocol level of MQTT 3.1.1
V5: Final = 5


class PacketType(IntEnum):
    """The control packet types (the high nibble of a packet's first byte)."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


#: the fixed-header flags MQTT requires of each type but PUBLISH (0 for the others)
_FLAGS: Final[dict[int, int]] = {
    PacketType.PUBREL: 2,
    PacketType.SUBSCRIBE: 2,
    PacketType.UNSUBSCRIBE: 2,
}


#: the packet types by number (0 is reserved: a reader refuses it before looking it up)
PACKET_TYPES: Final = (PacketType.CONNECT, *PacketType)


class MalformedPacket(TransportError):
    """Bytes that are not MQTT: the connection that sent them is closed."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet as read: its type, the flags of its first byte, what follows the fixed
    header, and its whole bytes (forwarded as they are)."""

    type: PacketType
    flags: int
    body: bytes
    raw: bytes


class PacketReader:
    """Cuts a byte stream into packets.

    Args:
        max_size: the largest packet accepted (a larger one is malformed here: a proxy
            must not buffer what its broker would refuse anyway).
    """

    def __init__(self, max_size: int = MAX_PACKET) -> None:
        self.max_size = max_size
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        """The packets ``data`` completes, in order.

        Raises:
            MalformedPacket: a reserved packet type, a varint longer than four bytes, or
                a packet larger than ``max_size``.
        """
        chunk, spans = self.split(data)
        return [
            Packet(
                PACKET_TYPES[chunk[start] >> 4],
                chunk[start] & 0x0F,
                chunk[body:end],
                chunk[start:end],
            )
            for start, body, end in spans
        ]

    def split(self, data: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
        """The packets ``data`` completes, as places in one piece of bytes: that piece
        (what was pending, then ``data``) and, for each packet in order, where it starts,
        where its body starts and where it ends. A packet is then ``piece[start:end]``,
        copied only if it is asked for; without anything pending, the piece is ``data``.

        Raises:
            MalformedPacket: as `feed` does (what was read up to the malformed packet,
                and the packets before it, are dropped; the rest stays pending).
        """
        buffer = self._buffer
        if buffer:
            buffer += data
            chunk = bytes(buffer)
        else:
            chunk = data if type(data) is bytes else bytes(data)
        size = len(chunk)
        spans: list[tuple[int, int, int]] = []
        at = 0
        try:
            while size - at >= 2:
                first = chunk[at]
                kind = first >> 4
                if kind == 0:
                    raise MalformedPacket("packet type 0 is reserved")
                length, position = 0, at + 1
                for shift in (0, 7, 14, 21):
                    if position >= size:
                        length = -1  # the varint is not all here yet
                        break
                    byte = chunk[position]
                    position += 1
                    length |= (byte & 0x7F) << shift
                    if not byte & 0x80:
                        break
                else:
                    raise MalformedPacket("remaining length longer than four bytes")
                if length < 0:
                    break
                flags = first & 0x0F
                if kind != PacketType.PUBLISH and flags != _FLAGS.get(kind, 0):
                    raise MalformedPacket(
                        f"{PacketType(kind).name} with flags {flags:#x} (MQTT requires "
                        f"{_FLAGS.get(kind, 0):#x})"
                    )
                end = position + length
                if end - at > self.max_size:
                    raise MalformedPacket(f"a packet of {end - at} bytes (at most {self.max_size})")
                if end > size:
                    break
                spans.append((at, position, end))
                at = end
        finally:
            # what follows the last whole packet (a packet's beginning, or everything from
            # a malformed one on) waits for more
            if at == size:
                buffer.clear()
            elif at or not buffer:
                self._buffer = bytearray(chunk[at:])
        return chunk, spans

    @property
    def pending(self) -> int:
        """Bytes read that do not yet make a whole packet."""
        return len(self._buffer)


# -- reading fields ---------------------------------------------------------------------


_PAST_END: Final = "a field runs past the end of its packet"


class _Cursor:
    """Reads MQTT's field encodings from a packet body, refusing to read past its end."""

    __slots__ = ("at", "data")

    def __init__(self, data: bytes, at: int = 0) -> None:
        self.data, self.at = data, at

    def take(self, count: int) -> bytes:
        end = self.at + count
        if end > len(self.data):
            raise MalformedPacket(_PAST_END)
        piece = self.data[self.at : end]
        self.at = end
        return piece

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def text(self) -> str:
        try:
            return self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacket("a string that is not UTF-8") from None

    def varint(self) -> int:
        value = 0
        for shift in range(0, 28, 7):
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise MalformedPacket("variable byte integer longer than four bytes")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.at)


# MQTT 5 property identifiers, by how their values are encoded (MQTT 5.0, 2.2.2.2)
_BYTE_PROPS: Final = frozenset({0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A})
_U16_PROPS: Final = frozenset({0x13, 0x21, 0x22, 0x23})
_U32_PROPS: Final = frozenset({0x02, 0x11, 0x18, 0x27})
_VARINT_PROPS: Final = frozenset({0x0B})
_TEXT_PROPS: Final = frozenset({0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F})
_BINARY_PROPS: Final = frozenset({0x09, 0x16})
_PAIR_PROPS: Final = frozenset({0x26})
TOPIC_ALIAS: Final = 0x23


def read_properties(cursor: _Cursor) -> dict[int, int | str | bytes]:
    """An MQTT 5 property list (the last value of each identifier; user properties are
    skipped: nothing here reads them)."""
    length = cursor.varint()
    inner = _Cursor(cursor.take(length))
    found: dict[int, int | str | bytes] = {}
    while inner.at < len(inner.data):
        identifier = inner.varint()
        if identifier in _BYTE_PROPS:
            found[identifier] = inner.byte()
        elif identifier in _U16_PROPS:
            found[identifier] = inner.u16()
        elif identifier in _U32_PROPS:
            found[identifier] = inner.u32()
        elif identifier in _VARINT_PROPS:
            found[identifier] = inner.varint()
        elif identifier in _TEXT_PROPS:
            found[identifier] = inner.text()
        elif identifier in _BINARY_PROPS:
            found[identifier] = inner.binary()
        elif identifier in _PAIR_PROPS:
            inner.text()
            inner.text()
        else:
            raise MalformedPacket(f"unknown MQTT 5 property 0x{identifier:02x}")
    return found


@dataclass(frozen=True, slots=True)
class Connect:
    """What a CONNECT says about its client."""

    level: int  # 3 (MQTT 3.1), 4 (3.1.1) or 5
    client_id: str
    username: str | None
    clean_start: bool
    keepalive: int


def parse_connect(body: bytes) -> Connect:
    """Read a CONNECT packet's body.

    Raises:
        MalformedPacket: not a CONNECT of MQTT 3.1, 3.1.1 or 5.
    """
    cursor = _Cursor(body)
    name = cursor.text()
    level = cursor.byte()
    if (name, level) not in (("MQIsdp", 3), ("MQTT", V311), ("MQTT", V5)):
        raise MalformedPacket(f"protocol {name!r} level {level} is not MQTT 3.1, 3.1.1 or 5")
    flags = cursor.byte()
    if flags & 0x01:
        raise MalformedPacket("CONNECT's reserved flag is set")
    keepalive = cursor.u16()
    if level == V5:
        read_properties(cursor)
    client_id = cursor.text()
    if flags & 0x04:  # a will: its properties (MQTT 5), topic and message
        if level == V5:
            read_properties(cursor)
        cursor.text()
        cursor.binary()
    username = cursor.text() if flags & 0x80 else None
    return Connect(level, client_id, username, bool(flags & 0x02), keepalive)


@dataclass(frozen=True, slots=True)
class Publish:
    """A PUBLISH packet: where, how, what.

    ``topic`` is empty in an MQTT 5 packet that names its topic by alias only
    (``alias``); ``properties`` are its MQTT 5 properties as they were encoded.
    """

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: bytes = b""
    alias: int | None = None


def parse_publish(flags: int, body: bytes, level: int) -> Publish:
    """Read a PUBLISH packet (``flags``: the low nibble of its first byte).

    Raises:
        MalformedPacket: QoS 3, a missing packet id, or a field past the end.
    """
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    cursor = _Cursor(body)
    topic = cursor.text()
    packet_id = cursor.u16() if qos else None
    if packet_id == 0:
        raise MalformedPacket("PUBLISH with packet id 0")
    properties, alias = b"", None
    if level == V5:
        start = cursor.at
        alias_value = read_properties(cursor).get(TOPIC_ALIAS)
        alias = alias_value if isinstance(alias_value, int) else None
        properties = body[start : cursor.at]
    return Publish(
        topic,
        cursor.rest(),
        qos,
        bool(flags & 0x01),
        bool(flags & 0x08),
        packet_id,
        properties,
        alias,
    )


def check_publish(data: bytes, flags: int, at: int, end: int) -> None:
    """The checks `parse_publish` makes of an MQTT 3.1 or 3.1.1 PUBLISH whose body is
    ``data[at:end]`` (``flags``: the low nibble of its first byte), in the same order,
    building nothing: a copy the line passes untouched goes on as it was read.

    Raises:
        MalformedPacket: what `parse_publish` would raise.
    """
    if flags & 0x06 == 0x06:
        raise MalformedPacket("PUBLISH with QoS 3")
    topic = at + 2
    if topic > end:
        raise MalformedPacket(_PAST_END)
    topic_end = topic + (data[at] << 8 | data[at + 1])
    if topic_end > end:
        raise MalformedPacket(_PAST_END)
    try:
        data[topic:topic_end].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("a string that is not UTF-8") from None
    if flags & 0x06:
        if topic_end + 2 > end:
            raise MalformedPacket(_PAST_END)
        if not (data[topic_end] or data[topic_end + 1]):
            raise MalformedPacket("PUBLISH with packet id 0")


def encode_publish(publish: Publish, level: int) -> bytes:
    """The bytes of a PUBLISH (its properties kept as they were, MQTT 5)."""
    flags = (publish.dup << 3) | (publish.qos << 1) | publish.retain
    body = bytearray(_text(publish.topic))
    if publish.qos:
        assert publish.packet_id is not None
        body += publish.packet_id.to_bytes(2, "big")
    if level == V5:
        body += publish.properties or b"\x00"
    body += publish.payload
    return frame(PacketType.PUBLISH, flags, bytes(body))


def packet_id(body: bytes) -> int:
    """The packet id a PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE or UNSUBSCRIBE starts
    with.

    Raises:
        MalformedPacket: fewer than two bytes.
    """
    return _Cursor(body).u16()


def parse_subscribe(body: bytes, level: int) -> tuple[int, list[str]]:
    """A SUBSCRIBE's packet id and topic filters."""
    cursor = _Cursor(body)
    identifier = cursor.u16()
    if level == V5:
        read_properties(cursor)
    filters = []
    while cursor.at < len(body):
        filters.append(cursor.text())
        cursor.byte()  # the options (QoS, and in MQTT 5 no-local, retain handling)
    if not filters:
        raise MalformedPacket("SUBSCRIBE without a topic filter")
    return identifier, filters


# -- writing ----------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """MQTT's variable byte integer."""
    if not 0 <= value <= MAX_REMAINING:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def frame(kind: PacketType, flags: int, body: bytes) -> bytes:
    """A whole packet: the fixed header, then ``body``."""
    return bytes([kind << 4 | flags]) + encode_varint(len(body)) + body


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(2, "big") + data


def acknowledgement(kind: PacketType, identifier: int) -> bytes:
    """A PUBACK, PUBREC, PUBREL or PUBCOMP naming ``identifier``: success in either
    version (MQTT 5 lets a success omit its reason code)."""
    return frame(kind, 0x02 if kind is PacketType.PUBREL else 0, identifier.to_bytes(2, "big"))


def refusal(level: int) -> bytes:
    """A CONNACK refusing the connection: server unavailable (MQTT 3.1.1 return code 3,
    MQTT 5 reason code 0x88)."""
    if level == V5:
        return frame(PacketType.CONNACK, 0, b"\x00\x88\x00")
    return frame(PacketType.CONNACK, 0, b"\x00\x03")


def connect(
    client_id: str,
    *,
    keepalive: int = 30,
    clean_start: bool = True,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """An MQTT 3.1.1 CONNECT (the proxy's own injecting connection)."""
    flags = (0x02 if clean_start else 0) | (0x80 if username is not None else 0)
    flags |= 0x40 if password is not None else 0
    body = _text("MQTT") + bytes([V311, flags]) + keepalive.to_bytes(2, "big") + _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return frame(PacketType.CONNECT, 0, body)


PINGREQ: Final = frame(PacketType.PINGREQ, 0, b"")
DISCONNECT: Final = frame(PacketType.DISCONNECT, 0, b"")
