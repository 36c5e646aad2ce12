"""The fault proxy against a real, private mosquitto: any MQTT client behind it meets the
plan's faults, MQTT stays correct around them, and the proxy survives what clients send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest

from hotline.faults import Fault, FaultKind, Stream
from hotline.live.proxy import FaultProxy, ProxyError
from hotline.live.proxy import session as session_module
from hotline.live.proxy.packets import (
    Packet,
    PacketReader,
    PacketType,
    Publish,
    connect,
    encode_publish,
    frame,
)
from hotline.testing import Mosquitto

pytestmark = pytest.mark.broker


@contextlib.asynccontextmanager
async def client(proxy: FaultProxy, name: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client("127.0.0.1", proxy.port, identifier=name) as made:
        yield made


async def collect(subscriber: aiomqtt.Client, count: int, within: float) -> list[aiomqtt.Message]:
    """Up to ``count`` messages, waiting at most ``within`` seconds in all."""
    found: list[aiomqtt.Message] = []

    async def take() -> None:
        async for message in subscriber.messages:
            found.append(message)
            if len(found) == count:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(take(), within)
    return found


async def packets_from(reader: asyncio.StreamReader) -> AsyncIterator[Packet]:
    """The MQTT packets read from ``reader``, whole, until it ends (a fake broker's)."""
    packets = PacketReader()
    while data := await reader.read(4096):
        for packet in packets.feed(data):
            yield packet


async def raw_connect(
    port: int, client_id: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A bare MQTT 3.1.1 connection: returns the CONNACK's body (b"" if none came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(connect(client_id))
    await writer.drain()
    packets = PacketReader()
    found: list[Any] = []
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(3):
            while not found:
                data = await reader.read(100)
                if not data:
                    break
                found = packets.feed(data)
    body = found[0].body if found and found[0].type is PacketType.CONNACK else b""
    return reader, writer, body


@pytest.mark.skipif(shutil.which("mosquitto_pub") is None, reason="mosquitto-clients missing")
@pytest.mark.asyncio
async def test_any_client_meets_the_plan_mosquitto_pub_and_sub(mosquitto: Mosquitto) -> None:
    plan = [
        Fault(kind=FaultKind.DROP, topic="test/drop", probability=0.5),
        Fault(kind=FaultKind.DELAY, topic="test/slow", delay=(0.4, 0.4)),
    ]
    async with FaultProxy(mosquitto.url, faults=plan, seed=11) as proxy:
        port = str(proxy.port)
        sub = await asyncio.create_subprocess_exec(
            "mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "test/#", "-q", "1",
            "-v", "-W", "20",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert sub.stdout is not None
        async with client(proxy, "probe") as probe:  # until the subscriber is listening
            async with asyncio.timeout(10):
                while True:
                    await probe.publish("test/probe", b"ready", qos=1)
                    with contextlib.suppress(TimeoutError):
                        line = await asyncio.wait_for(sub.stdout.readline(), 0.5)
                        if line.startswith(b"test/probe"):
                            break
        lines = "".join(f"m{n}\n" for n in range(20)).encode()
        pub = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "test/drop", "-q", "1", "-l",
            stdin=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await pub.communicate(lines)
        assert pub.returncode == 0  # every QoS 1 publish was acknowledged, dropped or not
        dropped = proxy.counts()["drops"]["drop"]
        assert 0 < dropped < 20

        async def lines_until(count: int, prefix: bytes) -> list[str]:
            assert sub.stdout is not None
            found: list[str] = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    while len(found) < count and (line := await sub.stdout.readline()):
                        if line.startswith(prefix):
                            found.append(line.decode().strip())
            return found

        # every copy the plan did not drop arrives, and no other
        kept = await lines_until(20 - dropped, b"test/drop")
        assert len(kept) == 20 - dropped
        sent_at = time.monotonic()
        slow = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", "test/slow", "-m", "late",
            "-q", "1",
        )  # fmt: skip
        await slow.wait()
        assert await lines_until(1, b"test/slow") == ["test/slow late"]
        late = time.monotonic() - sent_at
        sub.kill()
        await sub.wait()
        counts = proxy.counts()
    assert counts["delayed"] == 1
    assert late >= 0.35  # held back by the plan


@pytest.mark.asyncio
async def test_mqtt_stays_correct_around_drops_and_duplicates(mosquitto: Mosquitto) -> None:
    plan = [
        Fault(kind=FaultKind.DROP, topic="t/lost"),
        Fault(kind=FaultKind.DUPLICATE, topic="t/twice", copies=2),
    ]
    async with (
        FaultProxy(mosquitto.url, faults=plan, seed=1) as proxy,
        client(proxy, "sub") as sub,
        client(proxy, "pub") as pub,
    ):
        await sub.subscribe("t/#", qos=1)
        async with asyncio.timeout(5):  # a dropped QoS 1 publish is acknowledged all the same
            await pub.publish("t/lost", b"gone", qos=1)
            await pub.publish("t/twice", b"thrice", qos=1)
            await pub.publish("t/kept", b"as sent", qos=1)
        found = await collect(sub, 4, within=3)
        assert sorted(m.payload for m in found) == [b"as sent", b"thrice", b"thrice", b"thrice"]
        copies = [m for m in found if m.payload == b"thrice"]
        assert len({m.mid for m in copies}) == 3  # each copy has a packet id of its own
        await asyncio.sleep(0.2)
        counts = proxy.counts()
        assert proxy.injector.held == 0  # the broker confirmed every copy the proxy added
    assert counts["copies"] == 3
    assert counts["drops"] == {"drop": 1}
    assert counts["injections"] == {"duplicate": 2}
    # nothing the plan did not drop is lost: sent + injected = delivered + dropped
    assert counts["copies"] + counts["injected"] == len(found) + counts["dropped"]


@pytest.mark.asyncio
async def test_a_client_that_hangs_up_after_its_last_publish_loses_nothing_kept(
    mosquitto: Mosquitto,
) -> None:
    # The line acknowledges the copies it takes at once, the broker those forwarded a
    # little later: a client may have every answer and hang up while copies the plan
    # kept are still on their way. The broker must still get, and answer, every one.
    plan = [Fault(kind=FaultKind.DROP, topic="t/lost")]
    sent = 200
    async with (
        FaultProxy(mosquitto.url, faults=plan, seed=3) as proxy,
        client(proxy, "sub") as sub,
    ):
        await sub.subscribe("t/#", qos=1)
        _, writer, connack = await raw_connect(proxy.port, "rude")
        assert connack
        publishes = b"".join(
            encode_publish(Publish("t/kept", b"m%d" % n, qos=1, packet_id=n + 1), 4)
            for n in range(sent)
        )
        disconnect = frame(PacketType.DISCONNECT, 0, b"")
        writer.write(publishes + encode_publish(Publish("t/lost", b"x", 1, packet_id=999), 4))
        writer.write(disconnect)
        writer.close()  # without waiting for a single answer
        found = await collect(sub, sent, within=10)
        assert sorted(m.payload for m in found) == sorted(b"m%d" % n for n in range(sent))
        assert proxy.counts()["drops"] == {"drop": 1}


@pytest.mark.asyncio
async def test_faults_added_and_removed_while_clients_run(mosquitto: Mosquitto) -> None:
    async def call(url: str, method: str, body: Any = None) -> tuple[int, Any]:
        def send() -> tuple[int, Any]:
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(url, data=data, method=method)
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as refused:
                return refused.code, json.loads(refused.read())

        return await asyncio.to_thread(send)

    async with (
        FaultProxy(mosquitto.url, control=("127.0.0.1", 0)) as proxy,
        client(proxy, "sub") as sub,
        client(proxy, "pub") as pub,
    ):
        api = proxy.control_url
        assert api is not None
        await sub.subscribe("live/#", qos=1)

        async def burst(tag: str) -> int:
            for n in range(5):
                await pub.publish("live/x", f"{tag}{n}".encode(), qos=1)
            return len(await collect(sub, 5, within=1.0))

        assert await burst("before") == 5
        status, added = await call(f"{api}/faults", "POST", {"kind": "drop", "topic": "live/#"})
        assert status == 201
        assert await burst("during") == 0
        status, listed = await call(f"{api}/faults", "GET")
        assert listed["faults"] == [{"id": added["id"], "kind": "drop", "topic": "live/#"}]
        status, _ = await call(f"{api}/faults/{added['id']}", "DELETE")
        assert status == 200
        assert await burst("after") == 5
        status, refused = await call(f"{api}/faults", "POST", {"kind": "drop", "colour": "red"})
        assert status == 400
        assert "fault.colour: unknown field" in refused["error"]
        status, _missing = await call(f"{api}/faults/99", "DELETE")
        assert status == 404
        status, log = await call(f"{api}/log", "GET")
        assert [r["action"] for r in log["applied"]] == ["dropped"] * 5
        status, counts = await call(f"{api}/counts", "GET")
        assert counts["drops"] == {"drop": 5}


@pytest.mark.asyncio
async def test_a_down_station_is_cut_and_refused_until_its_window_ends(
    mosquitto: Mosquitto,
) -> None:
    plan = [Fault(kind=FaultKind.STATION_DOWN, station="RU-X", start=0.6, until=1.6)]
    async with FaultProxy(mosquitto.url, faults=plan, clients={"ru": ["RU-X"]}) as proxy:
        reader, writer, accepted = await raw_connect(proxy.port, "ru")
        assert accepted == b"\x00\x00"  # up before the window
        async with asyncio.timeout(3):
            assert await reader.read(100) == b""  # cut when the window starts
        writer.close()
        _, writer, refused = await raw_connect(proxy.port, "ru")
        assert refused == b"\x00\x03"  # server unavailable, while down
        writer.close()
        _, writer, other = await raw_connect(proxy.port, "us")
        assert other == b"\x00\x00"  # nobody else is down
        writer.close()
        await asyncio.sleep(1.7 - proxy.now())
        _, writer, back = await raw_connect(proxy.port, "ru")
        assert back == b"\x00\x00"
        writer.close()
        actions = [(r.action, r.fault) for r in proxy.log]
    assert ("cut", "station-down") in actions
    assert ("refused", "station-down") in actions


@pytest.mark.asyncio
async def test_what_a_client_sends_never_crashes_the_proxy(mosquitto: Mosquitto) -> None:
    async with FaultProxy(mosquitto.url) as proxy:
        for garbage in (b"\x00\x00", b"\x30\xff\xff\xff\xff\x7f", b"GET / HTTP/1.1\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(garbage)
            async with asyncio.timeout(3):
                assert await reader.read(100) == b""  # that connection ends...
            writer.close()
        async with client(proxy, "sub") as sub, client(proxy, "pub") as pub:  # ...the proxy runs on
            await sub.subscribe("ok", qos=1)
            await pub.publish("ok", b"fine", qos=1)
            assert [m.payload for m in await collect(sub, 1, within=2)] == [b"fine"]
        assert proxy.events["malformed"] == 3
        assert [r.fault for r in proxy.log] == ["malformed"] * 3


@pytest.mark.asyncio
async def test_the_proxy_says_why_it_cannot_start(mosquitto: Mosquitto) -> None:
    with pytest.raises(ProxyError, match="connection refused"):
        await FaultProxy("mqtt://127.0.0.1:1").start()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ProxyError, match="in use"):
            async with FaultProxy(mosquitto.url, listen=("127.0.0.1", port)):
                pass
    with pytest.raises(ProxyError, match="loopback only"):
        FaultProxy(mosquitto.url, control=("0.0.0.0", 0))
    with pytest.raises(ProxyError, match="plain MQTT"):
        FaultProxy("mqtts://127.0.0.1:8883")


@pytest.mark.asyncio
async def test_connection_faults_act_as_toxiproxy_s_do(mosquitto: Mosquitto) -> None:
    clients = {"pub": ["PUB"], "sub": ["SUB"]}
    plan = [
        Fault(kind=FaultKind.LATENCY, station="SUB", stream=Stream.DOWNSTREAM, delay=(0.3, 0.3)),
        Fault(kind=FaultKind.SLICER, station="SUB", size=3, delay=(0.001, 0.001)),
        Fault(kind=FaultKind.BANDWIDTH, station="PUB", stream=Stream.UPSTREAM, rate=4_000),
    ]
    async with (
        FaultProxy(mosquitto.url, faults=plan, clients=clients) as proxy,
        client(proxy, "sub") as sub,
        client(proxy, "pub") as pub,
    ):
        await sub.subscribe("c/#", qos=1)
        start = time.monotonic()
        await pub.publish("c/big", b"x" * 2_000, qos=0)  # half a second at 4,000 bytes/s
        (message,) = await collect(sub, 1, within=5)
        took = time.monotonic() - start
        assert message.payload == b"x" * 2_000  # cut into 3-byte writes, whole on arrival
        assert took >= 0.3 + 0.4
        assert {r.fault for r in proxy.log} == {"latency", "slicer", "bandwidth"}


@pytest.mark.asyncio
async def test_a_stalled_connection_takes_bytes_and_forwards_none(mosquitto: Mosquitto) -> None:
    plan = [Fault(kind=FaultKind.STALL, station="PUB", stream=Stream.UPSTREAM, start=0.3)]
    async with (
        FaultProxy(mosquitto.url, faults=plan, clients={"pub": ["PUB"]}) as proxy,
        client(proxy, "sub") as sub,
        client(proxy, "pub") as pub,
    ):
        await sub.subscribe("s", qos=1)
        await asyncio.sleep(0.4)
        await pub.publish("s", b"into the void", qos=0)
        assert await collect(sub, 1, within=0.6) == []
        (session,) = [s for s in proxy.sessions if s.client_id == "pub"]
        assert session.up is not None
        assert session.up.stalled_bytes > len(b"into the void")


@pytest.mark.asyncio
async def test_reset_peer_and_broker_down_cut_connections(mosquitto: Mosquitto) -> None:
    plan = [
        Fault(kind=FaultKind.RESET_PEER, station="PUB", start=0.3, until=0.5),
        Fault(kind=FaultKind.BROKER_DOWN, start=1.0, until=1.6),
    ]
    async with FaultProxy(mosquitto.url, faults=plan, clients={"pub": ["PUB"]}) as proxy:
        reader, writer, accepted = await raw_connect(proxy.port, "pub")
        assert accepted == b"\x00\x00"

        async def drain() -> None:
            async with asyncio.timeout(3):
                while await reader.read(100):
                    pass

        with pytest.raises(ConnectionResetError):
            await drain()
        writer.close()
        reader, writer, accepted = await raw_connect(proxy.port, "other")
        assert accepted == b"\x00\x00"
        async with asyncio.timeout(3):
            assert await reader.read(100) == b""  # every connection cut when the broker goes
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", proxy.port)
        await asyncio.sleep(1.7 - proxy.now())
        _, writer, back = await raw_connect(proxy.port, "other")
        assert back == b"\x00\x00"
        writer.close()
        assert proxy.events["broker-down"] == 1


@pytest.mark.asyncio
async def test_a_copy_the_line_holds_survives_its_sender_leaving(mosquitto: Mosquitto) -> None:
    plan = [Fault(kind=FaultKind.DELAY, delay=(0.5, 0.5))]
    async with FaultProxy(mosquitto.url, faults=plan) as proxy, client(proxy, "sub") as sub:
        await sub.subscribe("held", qos=1)
        reader, writer, _ = await raw_connect(proxy.port, "gone")
        writer.write(encode_publish(Publish("held", b"kept", qos=1, packet_id=1), 4))
        await writer.drain()
        (ack,) = PacketReader().feed(await reader.read(100))
        assert ack.raw == frame(PacketType.PUBACK, 0, b"\x00\x01")  # the line took it
        writer.close()  # and its sender leaves before it is delivered
        assert [m.payload for m in await collect(sub, 1, within=3)] == [b"kept"]


@pytest.mark.asyncio
async def test_the_proxy_s_own_answers_never_land_inside_a_broker_packet() -> None:
    """A broker PUBLISH that arrives in two reads, and between them the proxy answers a
    copy the line took: the client must read whole packets (the answer first: the
    PUBLISH waits, whole, for its second half)."""
    halves: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async for packet in packets_from(reader):
            if packet.type is PacketType.CONNECT:
                writer.write(frame(PacketType.CONNACK, 0, b"\x00\x00"))
                await halves.put(writer)
            elif packet.type is PacketType.PUBLISH and packet.flags & 0x06:
                writer.write(frame(PacketType.PUBACK, 0, packet.body[-2:]))

    server = await asyncio.start_server(broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plan = [Fault(kind=FaultKind.DROP, topic="lost")]
    async with server, FaultProxy(f"mqtt://127.0.0.1:{port}", faults=plan) as proxy:
        await halves.get()  # the proxy's own connection
        reader, writer, accepted = await raw_connect(proxy.port, "client")
        assert accepted == b"\x00\x00"
        to_client = await halves.get()
        big = encode_publish(Publish("news", b"x" * 2_000), 4)
        to_client.write(big[:1_000])
        await asyncio.sleep(0.05)
        writer.write(encode_publish(Publish("lost", b"gone", qos=1, packet_id=9), 4))
        await asyncio.sleep(0.05)
        to_client.write(big[1_000:])
        received: list[Packet] = []
        packets = PacketReader()
        async with asyncio.timeout(3):
            while len(received) < 2:
                received += packets.feed(await reader.read(4096))
        writer.close()
    assert [p.raw for p in received] == [frame(PacketType.PUBACK, 0, b"\x00\x09"), big]


@contextlib.asynccontextmanager
async def silent_broker() -> AsyncIterator[tuple[int, asyncio.Queue[str]]]:
    """A broker that answers CONNECT, then nothing, and never closes a connection: it
    says "eof" on the queue when the proxy stops writing to it. Yields its port."""
    ends: asyncio.Queue[str] = asyncio.Queue()
    released = asyncio.Event()

    async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async for packet in packets_from(reader):
            if packet.type is PacketType.CONNECT:
                writer.write(frame(PacketType.CONNACK, 0, b"\x00\x00"))
        await ends.put("eof")
        await released.wait()  # the connection stays open on this side

    server = await asyncio.start_server(broker, "127.0.0.1", 0)
    async with server:
        try:
            yield server.sockets[0].getsockname()[1], ends
        finally:
            released.set()
            await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_a_broker_that_never_closes_is_let_go_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_module, "UPSTREAM_GRACE", 1.0)
    async with silent_broker() as (port, ends), FaultProxy(f"mqtt://127.0.0.1:{port}") as proxy:
        assert await asyncio.wait_for(ends.get(), 3) == "eof"  # the injector's check
        _, writer, accepted = await raw_connect(proxy.port, "client")
        assert accepted == b"\x00\x00"
        (session,) = proxy.sessions
        writer.close()
        assert await asyncio.wait_for(ends.get(), 3) == "eof"  # half-closed at once
        assert proxy.sessions == {session}  # the broker may still answer
        assert session.broker is not None
        assert not session.broker.is_closing()
        async with asyncio.timeout(5):  # let go once the grace has run out
            while proxy.sessions:
                await asyncio.sleep(0.05)
        assert session.broker.is_closing()


@pytest.mark.asyncio
async def test_a_proxy_that_stops_cuts_a_connection_in_its_grace() -> None:
    async with silent_broker() as (port, ends):
        async with FaultProxy(f"mqtt://127.0.0.1:{port}") as proxy:
            await asyncio.wait_for(ends.get(), 3)
            _, writer, _ = await raw_connect(proxy.port, "client")
            (session,) = proxy.sessions
            writer.close()
            await asyncio.wait_for(ends.get(), 3)
        assert session.broker is not None
        assert session.broker.is_closing()  # cut with the proxy, not two seconds later
        assert proxy.sessions == set()


@pytest.mark.asyncio
async def test_a_closing_client_stays_the_proxy_s_until_its_side_is_shut(
    mosquitto: Mosquitto,
) -> None:
    # a client's connection lingering in a slow close is still the proxy's to cut, even
    # once the broker's side has gone
    plan = [Fault(kind=FaultKind.SLOW_CLOSE, station="RUDE", delay=(1.0, 1.0))]
    async with FaultProxy(mosquitto.url, faults=plan, clients={"rude": ["RUDE"]}) as proxy:
        reader, writer, accepted = await raw_connect(proxy.port, "rude")
        assert accepted
        (session,) = proxy.sessions
        writer.write(connect("rude"))  # a second CONNECT: malformed, the session closes
        await asyncio.sleep(0.2)
        assert session.closed
        mosquitto.kill()  # the broker's side goes while the client's lingers
        await asyncio.sleep(0.3)
        assert proxy.sessions == {session}
        assert not session.client.is_closing()
        async with asyncio.timeout(3):
            assert await reader.read() == b""  # shut when the linger ends
        assert proxy.sessions == set()
