"""The client library over a real, private mosquitto: exchanges, absences, broker kills."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from hotline.audit.journal import read_entries
from hotline.core.events import NoticeReceived, Received, Rejected
from hotline.core.incident import Notice
from hotline.core.names import Channel, Kind, Precedence
from hotline.core.verifier import VerifierPolicy
from hotline.live.mqtt import BrokerAddress, TransportError
from hotline.live.station import Station
from hotline.live.store import PostStore
from hotline.testing import Mosquitto
from tests.harness import signed
from tests.posts import answer_every_notice, post

pytestmark = pytest.mark.broker
NOTICE = Notice(activity="flight")


@pytest.mark.asyncio
async def test_notify_and_acknowledge_over_a_real_broker(mosquitto: Mosquitto) -> None:
    async with post("US", mosquitto) as us, post("RU", mosquitto) as ru:
        responder = asyncio.create_task(answer_every_notice(ru))
        incident = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE)
        assert incident.posted is not None
        assert await incident.posted.sent(timeout=10)  # the broker has the notice
        assert await incident.outcome(timeout=10) == "acknowledged"
        assert incident.incident.path == [Channel.AIR]
        responder.cancel()


@pytest.mark.asyncio
async def test_a_notice_waits_at_the_broker_for_a_post_that_is_away(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # RU connects once (so the broker keeps its session), then goes away
    async with post("RU", mosquitto, tmp_path / "ru.db"):
        pass
    async with post("US", mosquitto) as us:
        incident = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE)
        await asyncio.sleep(0.3)
        async with post("RU", mosquitto, tmp_path / "ru.db") as ru:
            responder = asyncio.create_task(answer_every_notice(ru))
            assert await incident.outcome(timeout=10) == "acknowledged"
            responder.cancel()


@pytest.mark.asyncio
async def test_a_notice_sent_while_the_broker_is_dead_goes_out_when_it_returns(
    mosquitto: Mosquitto,
) -> None:
    async with post("US", mosquitto) as us, post("RU", mosquitto) as ru:
        responder = asyncio.create_task(answer_every_notice(ru))
        # mosquitto writes its sessions to disk every autosave_interval: once it has, a
        # crash keeps RU's subscription, and what is sent meanwhile waits for it. (A
        # session younger than that dies with the broker; the protocol's retry at the
        # deadline then covers the notice.)
        await asyncio.to_thread(mosquitto.wait_for_save)
        mosquitto.kill()  # kill -9
        await asyncio.sleep(0.2)
        incident = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE)
        assert us.store.pending(), "the notice waits in the outbox"
        mosquitto.start()
        try:
            outcome = await incident.outcome(timeout=15)
        except TimeoutError:
            views = [(v.id, v.state) for v in ru.endpoint.incidents()]
            raise AssertionError(
                f"no outcome: US outbox {len(us.store.pending())}, connections US "
                f"{us.link.connections} RU {ru.link.connections}, RU views {views}, "
                f"US state {incident.incident.state}"
            ) from None
        assert outcome == "acknowledged"
        assert us.store.pending() == []
        assert us.link.connections >= 2
        responder.cancel()


@pytest.mark.asyncio
async def test_a_restarted_post_does_not_take_a_message_twice(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    received: list[tuple[str, bytes]] = []
    async with post("US", mosquitto) as us:
        async with post("RU", mosquitto, tmp_path / "ru.db") as ru:
            taking = ru.link.handler

            def recording(batch: Sequence[tuple[str, bytes]]) -> None:
                received.extend(batch)
                taking(batch)

            ru.link.handler = recording
            await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE)
            notice = await asyncio.wait_for(_next(ru, NoticeReceived), 10)
            assert notice.incident.channel is Channel.AIR
        # QoS 1 is at-least-once: the broker may deliver the same bytes after a restart
        async with post("RU", mosquitto, tmp_path / "ru.db") as restarted:
            topic, data = received[0]  # the notice (US countersigned RU's head after it)
            restarted._on_messages([(topic, data)])
            refusal = await asyncio.wait_for(_next(restarted, Rejected), 10)
            assert refusal.reason == "replay"
            assert "before this post restarted" in refusal.detail
            # the view came back from the store as it was, and the copy changed nothing
            (view,) = restarted.endpoint.incidents()
            assert view.history == notice.incident.history
            assert view.leg.calls == 1


def _notice_again(incident: str) -> bytes:
    """US's notice of ``incident`` once more, as a retry: a new message, validly signed."""
    return signed(
        "US-CAOC",
        "RU-HMEIMIM",
        incident,
        Kind.NOTIFY,
        at=time.time(),
        seq=10_000,
        body=NOTICE.to_body(),
    )


async def _next(station: Station, kind: type[Any]) -> Any:
    async for event in station.events():
        if isinstance(event, kind):
            return event
    raise AssertionError("events ended")


def test_broker_addresses_are_checked() -> None:
    assert BrokerAddress.parse("mqtt://127.0.0.1:1884") == BrokerAddress("127.0.0.1", 1884)
    assert BrokerAddress.parse("mqtt://localhost").port == 1883
    for bad in ("http://x", "mqtt://", "127.0.0.1:1883", "mqtt://h:notaport"):
        with pytest.raises(TransportError):
            BrokerAddress.parse(bad)


def test_the_store_keeps_sequence_taken_ids_and_outbox(tmp_path: Path) -> None:
    path = tmp_path / "post.db"
    store = PostStore(path)
    assert store.first_seq() == 1
    store.used("US-CAOC", 41)
    store.used("US-CAOC", 7)
    store.used("US-CJCS", 12)
    store.take(b"x" * 16, 100.0)
    number = store.queue("hotline/v2/air/RU-HMEIMIM", b"data")
    store.close()
    again = PostStore(path)
    assert again.first_seq() == 42
    assert again.taken(b"x" * 16)
    assert not again.taken(b"y" * 16)
    assert again.pending() == [(number, "hotline/v2/air/RU-HMEIMIM", b"data")]
    again.confirmed(number)
    assert again.pending() == []
    assert again.forget_before(200.0) == 1
    again.close()


@pytest.mark.asyncio
async def test_closed_incidents_leave_memory_and_come_back_when_named(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    stores = {"US": tmp_path / "us.db", "RU": tmp_path / "ru.db"}
    async with (
        post("US", mosquitto, stores["US"], keep_closed=0) as us,
        post("RU", mosquitto, stores["RU"], keep_closed=0) as ru,
    ):
        responder = asyncio.create_task(answer_every_notice(ru))
        handles = [
            await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE)
            for _ in range(3)
        ]
        for handle in handles:
            assert await handle.outcome(timeout=10) == "acknowledged"
        async with asyncio.timeout(5):  # the timer tasks set them aside within a second
            while list(us.endpoint.incidents()) or list(ru.endpoint.incidents()):
                await asyncio.sleep(0.05)
        first = handles[0].id
        assert us.handle(first).incident.outcome == "acknowledged"  # read back
        with pytest.raises(ValueError, match="already exists"):
            await us.notify(
                channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE, incident_id=first
            )
        # the notice again, as if a retry crossed the ack: RU reads its view back and
        # answers as before, journaling the new step only, not the view's history again
        journaled = len(ru.journal)
        ru._on_messages([("hotline/v2/air/RU-HMEIMIM", _notice_again(first))])
        responder.cancel()
        added = [e.kind for e in read_entries(stores["RU"])][journaled:]
        assert added == ["received", "transition", "sent"]
    # started again, a post holds no closed incident, and still knows each one
    async with post("US", mosquitto, stores["US"], keep_closed=0) as again:
        assert list(again.endpoint.incidents()) == []
        outcomes = [await again.handle(h.id).outcome(timeout=1) for h in handles]
        assert outcomes == ["acknowledged"] * 3
    async with post("US", mosquitto, stores["US"], keep_closed=None) as keeping:
        assert len(list(keeping.endpoint.incidents())) == 3


@pytest.mark.asyncio
async def test_a_post_forgets_taken_ids_once_they_could_no_longer_pass(
    mosquitto: Mosquitto,
) -> None:
    # a message older than max_age + max_skew fails the freshness check, so the id of
    # one taken before then need not be kept: the store does not grow for ever
    brief = VerifierPolicy(max_age=0.5, max_skew=0.0)
    async with post("US", mosquitto) as us, post("RU", mosquitto, policy=brief) as ru:
        await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=NOTICE)
        received = await asyncio.wait_for(_next(ru, Received), 10)
        assert ru.store.taken(received.envelope.id)
        async with asyncio.timeout(5):
            while ru.store.taken(received.envelope.id):
                await asyncio.sleep(0.05)
