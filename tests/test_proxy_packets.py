"""MQTT framing as the fault proxy reads and writes it: round trips, any split of the
stream, and every kind of malformed input refused with `MalformedPacket`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.live.proxy.packets import (
    V5,
    V311,
    MalformedPacket,
    PacketReader,
    PacketType,
    Publish,
    acknowledgement,
    connect,
    encode_publish,
    encode_varint,
    frame,
    packet_id,
    parse_connect,
    parse_publish,
    parse_subscribe,
    refusal,
)

topics = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00+#"),
    min_size=1,
    max_size=60,
)


@st.composite
def publishes(draw: st.DrawFn) -> tuple[Publish, int]:
    level = draw(st.sampled_from([V311, V5]))
    qos = draw(st.integers(0, 2))
    alias = draw(st.none() | st.integers(1, 65_535)) if level == V5 else None
    properties = b""
    if level == V5:
        # a topic alias (0x23) and a message expiry (0x02), as an MQTT 5 client sends them
        inner = b"\x02\x00\x00\x00\x3c"
        if alias is not None:
            inner += b"\x23" + alias.to_bytes(2, "big")
        properties = encode_varint(len(inner)) + inner
    publish = Publish(
        topic=draw(topics),
        payload=draw(st.binary(max_size=300)),
        qos=qos,
        retain=draw(st.booleans()),
        dup=draw(st.booleans()) if qos else False,
        packet_id=draw(st.integers(1, 65_535)) if qos else None,
        properties=properties,
        alias=alias,
    )
    return publish, level


@given(publishes())
def test_a_publish_reads_back_as_written(made: tuple[Publish, int]) -> None:
    publish, level = made
    data = encode_publish(publish, level)
    (packet,) = PacketReader().feed(data)
    assert packet.type is PacketType.PUBLISH
    assert packet.raw == data
    assert parse_publish(packet.flags, packet.body, level) == publish


@given(st.lists(publishes(), min_size=1, max_size=8), st.data())
def test_packets_come_out_whole_however_the_stream_is_cut(
    made: list[tuple[Publish, int]], data: st.DataObject
) -> None:
    stream = b"".join(encode_publish(p, level) for p, level in made)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader, found = PacketReader(), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        found += reader.feed(stream[start:end])
    assert b"".join(p.raw for p in found) == stream
    assert len(found) == len(made)
    assert reader.pending == 0


@given(st.integers(0, 268_435_455))
def test_a_packet_waits_for_its_whole_length(length: int) -> None:
    header = b"\x30" + encode_varint(length)
    reader = PacketReader()
    found = reader.feed(header)
    assert (found, reader.pending) == (([], len(header)) if length else (found, 0))


@given(st.binary(max_size=20_000))
def test_a_body_of_any_length_reads_back(body: bytes) -> None:
    (packet,) = PacketReader().feed(frame(PacketType.PUBLISH, 0, body))
    assert packet.body == body


@given(st.binary(max_size=200))
def test_any_bytes_are_packets_or_malformed(data: bytes) -> None:
    reader = PacketReader(max_size=1_000)
    try:
        for packet in reader.feed(data):
            if packet.type is PacketType.PUBLISH:
                parse_publish(packet.flags, packet.body, V5)
            elif packet.type is PacketType.CONNECT:
                parse_connect(packet.body)
            elif packet.type is PacketType.SUBSCRIBE:
                parse_subscribe(packet.body, V311)
    except MalformedPacket:
        pass


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x00\x00", "reserved"),
        (b"\x30\xff\xff\xff\xff\x01", "four bytes"),
        (b"\x30\x80\x80\x80\x01" + b"x" * 10, "bytes"),  # larger than the reader's limit
    ],
)
def test_framing_errors_are_malformed(data: bytes, why: str) -> None:
    with pytest.raises(MalformedPacket, match=why):
        PacketReader(max_size=1_000).feed(data)


@pytest.mark.parametrize(
    ("flags", "body", "why"),
    [
        (0x06, b"\x00\x01t\x00\x01", "QoS 3"),
        (0x02, b"\x00\x01t\x00\x00", "packet id 0"),
        (0x00, b"\x00\x09t", "past the end"),
        (0x00, b"\x00\x01\xff", "UTF-8"),
    ],
)
def test_bad_publishes_are_malformed(flags: int, body: bytes, why: str) -> None:
    with pytest.raises(MalformedPacket, match=why):
        parse_publish(flags, body, V311)


def test_connect_names_its_client_in_either_version() -> None:
    (packet,) = PacketReader().feed(connect("hotline-US", keepalive=30, clean_start=False))
    found = parse_connect(packet.body)
    assert (found.level, found.client_id, found.username, found.clean_start) == (
        V311,
        "hotline-US",
        None,
        False,
    )
    # MQTT 5, with properties, a will (its own properties), a user name and a password
    body = (
        b"\x00\x04MQTT\x05"
        + bytes([0x02 | 0x04 | 0x80 | 0x40])
        + b"\x00\x3c"
        + b"\x05\x11\x00\x00\x00\x3c"  # session expiry
        + b"\x00\x02id"
        + b"\x00"  # will properties
        + b"\x00\x01w\x00\x03bye"
        + b"\x00\x04user\x00\x02pw"
    )
    found = parse_connect(body)
    assert (found.level, found.client_id, found.username) == (V5, "id", "user")
    with pytest.raises(MalformedPacket, match="not MQTT"):
        parse_connect(b"\x00\x04HTTP\x04\x02\x00\x3c\x00\x00")


def test_the_packets_the_proxy_writes() -> None:
    assert acknowledgement(PacketType.PUBACK, 258) == b"\x40\x02\x01\x02"
    assert acknowledgement(PacketType.PUBREL, 1) == b"\x62\x02\x00\x01"
    assert packet_id(b"\x01\x02") == 258
    assert refusal(V311) == b"\x20\x02\x00\x03"  # server unavailable
    assert refusal(V5) == b"\x20\x03\x00\x88\x00"
    identifier, filters = parse_subscribe(b"\x00\x07\x00\x03a/b\x01\x00\x01#\x00", V311)
    assert (identifier, filters) == (7, ["a/b", "#"])
