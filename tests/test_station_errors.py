"""What a `Station` tells its caller when things go wrong: a broker it cannot reach
(`ConnectionFailed` and its reason), answers the broker has not taken yet (`Posted`,
`UnsentMessages`), and the broker session it leaves behind (``forget_session``)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.core.events import NoticeReceived
from hotline.core.incident import Notice
from hotline.core.names import Channel, Precedence
from hotline.live import ConnectionFailed, Posted, Station, Unsent, UnsentMessages
from hotline.testing import Mosquitto, free_port
from tests.posts import post, session_present

pytestmark = pytest.mark.broker
NOTICE = Notice(activity="flight")
#: long enough that a test ends only if the post gives up by itself
PATIENT = 60.0


def _hotline_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("hotline-")]


async def _fails(station: Station) -> ConnectionFailed:
    """Enter ``station``, which must fail to connect; checks it cleaned up after itself."""

    async def enter() -> None:
        async with station:
            pass

    with pytest.raises(ConnectionFailed) as failed:
        await asyncio.wait_for(enter(), 10)  # bounds the test: connect_timeout may be longer
    assert _hotline_tasks() == []
    with pytest.raises(sqlite3.ProgrammingError):  # store and journal are closed
        station.store.connection.execute("SELECT 1")
    return failed.value


@pytest.mark.asyncio
async def test_a_broker_that_refuses_connections_is_named_with_what_to_try(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    error = await _fails(
        post("RU", f"mqtt://127.0.0.1:{port}", tmp_path / "ru.db", connect_timeout=0.5)
    )
    assert error.reason == "refused"
    assert error.broker == f"mqtt://127.0.0.1:{port}"
    assert str(error) == (
        f"cannot connect to mqtt://127.0.0.1:{port}: connection refused (tried for 0.5 s); "
        f"is a broker listening on 127.0.0.1:{port}? start one with brokers/dev/start.sh"
    )
    # the store was closed properly: it opens again
    await _fails(post("RU", f"mqtt://127.0.0.1:{port}", tmp_path / "ru.db", connect_timeout=0.1))


@pytest.mark.asyncio
async def test_a_host_name_that_does_not_resolve_fails_at_once() -> None:
    error = await _fails(post("RU", "mqtt://no-such-host.invalid:1883", connect_timeout=PATIENT))
    assert error.reason == "no-such-host"
    assert str(error).startswith(
        "cannot connect to mqtt://no-such-host.invalid:1883: no such host 'no-such-host.invalid'"
    )
    assert str(error).endswith("; check the host name")


@pytest.mark.asyncio
async def test_a_broker_that_never_answers_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # takes the CONNECT, never answers it
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        error = await _fails(post("RU", f"mqtt://127.0.0.1:{port}", connect_timeout=0.3))
    assert error.reason == "timeout"
    assert str(error) == (
        f"cannot connect to mqtt://127.0.0.1:{port}: no answer within 0.3 s; check the "
        "address, and that the broker is running and reachable from here"
    )


class ClosedMosquitto(Mosquitto):
    """A mosquitto that admits no anonymous client."""

    def config(self) -> Path:
        path = super().config()
        text = path.read_text().replace("allow_anonymous true", "allow_anonymous false")
        path.write_text(text)
        return path


@pytest.fixture
def closed_broker(tmp_path: Path) -> Iterator[ClosedMosquitto]:
    broker = ClosedMosquitto(tmp_path / "closed-broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.asyncio
async def test_a_broker_that_refuses_the_client_is_auth_and_fails_at_once(
    closed_broker: ClosedMosquitto,
) -> None:
    error = await _fails(post("RU", closed_broker, connect_timeout=PATIENT))
    assert error.reason == "auth"
    assert f"cannot connect to {closed_broker.url}: the broker refused this client: " in str(error)
    assert "(CONNACK code 5)" in str(error)
    assert "check the broker's allow_anonymous, password file and ACL" in str(error)


def test_durations_and_backoff_are_checked() -> None:
    for bad in (
        {"connect_timeout": 0},
        {"linger": -1},
        {"backoff": (0.0, 1.0)},
        {"backoff": (2.0, 1.0)},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            post("RU", "mqtt://127.0.0.1:1", **bad)


async def _notice_at(ru: Station, us: Station) -> str:
    """US notifies RU; the incident id once RU has it."""
    await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE)
    async with asyncio.timeout(10):
        async for event in ru.events():
            if isinstance(event, NoticeReceived):
                return event.incident.id
    raise AssertionError("events ended")


@pytest.mark.asyncio
async def test_an_answer_says_when_the_broker_has_it(mosquitto: Mosquitto) -> None:
    async with post("US", mosquitto) as us, post("RU", mosquitto) as ru:
        incident = await _notice_at(ru, us)
        posted = await ru.acknowledge(incident, channel=Channel.AIR)
        assert isinstance(posted, Posted)
        assert await posted.sent(timeout=10)
        assert posted.delivered_to_broker
        assert posted.queued == 0
        assert await ru.flushed(timeout=10)
        assert ru.unsent == 0


@pytest.mark.asyncio
async def test_an_answer_given_while_the_broker_is_down_is_queued_and_not_lost_silently(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with post("US", mosquitto, tmp_path / "us.db") as us:
        ru = post("RU", mosquitto, linger=0.2)
        await ru.__aenter__()
        incident = await _notice_at(ru, us)
        mosquitto.kill()
        posted = await ru.acknowledge(incident, channel=Channel.AIR)
        assert not posted.delivered_to_broker
        assert posted.queued == 1
        assert not await posted.sent(timeout=0.2)
        with pytest.raises(UnsentMessages) as unsent:
            await ru.__aexit__(None, None, None)
    assert Unsent("ack", "US-CAOC", "air", incident) in unsent.value.messages
    assert f"1 ack to US-CAOC on air (incident {incident})" in str(unsent.value)
    assert "lost with this post's in-memory store" in str(unsent.value)
    # the post is closed: no waiting for a broker it will never reach again
    assert not await asyncio.wait_for(posted.sent(), 10)


@pytest.mark.asyncio
async def test_drop_unsent_lets_a_closing_post_lose_its_outbox(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        post("US", mosquitto, tmp_path / "us.db") as us,
        post("RU", mosquitto, linger=0.2, drop_unsent=True) as ru,
    ):
        incident = await _notice_at(ru, us)
        mosquitto.kill()
        posted = await ru.acknowledge(incident, channel=Channel.AIR)
    assert posted.queued == 1
    assert f"1 ack to US-CAOC on air (incident {incident})" in caplog.text


@pytest.mark.asyncio
async def test_a_post_may_end_its_broker_session_when_it_closes(mosquitto: Mosquitto) -> None:
    async with post("RU", mosquitto, client_id="keeps"):
        pass
    async with post("RU", mosquitto, client_id="forgets", forget_session=True):
        pass
    assert await session_present(mosquitto, "keeps")
    assert not await session_present(mosquitto, "forgets")


@pytest.mark.asyncio
async def test_a_lost_broker_is_said_once_by_the_post_not_as_errors_from_paho(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    # an application that configured no logging sees WARNING and above printed: the
    # post reconnecting as it should must not look like a failure there
    with caplog.at_level(logging.DEBUG):
        async with post("RU", mosquitto, linger=0.1, drop_unsent=True) as ru:
            mosquitto.kill()
            async with asyncio.timeout(10):
                while ru.link.connected.is_set():
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # a reconnection attempt or two
    lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
    assert lost
    assert all(r.levelno == logging.INFO for r in lost)
    paho = [r for r in caplog.records if r.name == "hotline.mqtt.paho"]
    assert paho, "paho's lines are kept, at DEBUG"
    assert all(r.levelno == logging.DEBUG for r in paho)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
