"""A post keeps at most ``max_events`` events unread, and never lets a notice waiting
for its answer go (hotline/live/eventbuffer.py)."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from hotline.core.events import Closed, Event, NoticeReceived, Received
from hotline.core.incident import Notice, Role
from hotline.core.names import Channel, Precedence
from hotline.live.eventbuffer import EventBuffer
from tests.posts import NOWHERE, post


def closed(n: int) -> Closed:
    return Closed(f"US:{n}", Role.ORIGINATOR, Channel.AIR, "acknowledged", float(n))


@pytest.mark.asyncio
async def test_past_the_limit_the_oldest_go_and_are_counted_once_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer = EventBuffer(3, "US")
    with caplog.at_level(logging.WARNING, logger="hotline.station"):
        for n in range(6):
            buffer.put(closed(n))
    assert [await buffer.get() for _ in range(3)] == [closed(3), closed(4), closed(5)]
    assert buffer.dropped == 3
    assert len([r for r in caplog.records if "events unread" in r.message]) == 1


@pytest.mark.asyncio
async def test_a_reader_waits_for_the_next_event() -> None:
    buffer = EventBuffer(None, "US")
    reader = asyncio.ensure_future(buffer.get())
    await asyncio.sleep(0.01)
    assert not reader.done()
    buffer.put(closed(1))
    assert await asyncio.wait_for(reader, 1) == closed(1)
    assert buffer.take_all() == []


def test_a_limit_below_one_is_refused_before_the_post_opens_anything(tmp_path: Path) -> None:
    before = threading.active_count()
    with pytest.raises(ValueError, match="max_events"):
        post("RU", NOWHERE, tmp_path / "ru.db", max_events=0)
    assert threading.active_count() == before  # no checkpointer left behind
    assert not (tmp_path / "ru.db").exists()


@pytest.mark.asyncio
async def test_a_post_nobody_reads_keeps_its_notices_and_lets_the_rest_go(
    tmp_path: Path,
) -> None:
    us = post("US", NOWHERE, tmp_path / "us.db")
    ru = post("RU", NOWHERE, tmp_path / "ru.db", max_events=4)
    notice = Notice(activity="strike")
    handles = [
        await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
        for _ in range(8)
    ]
    ru._on_messages([(topic, data) for _, topic, data in us.store.pending()])
    waiting: list[Event] = ru.events_waiting()
    # each notice made a Received and a NoticeReceived: the notices all stayed
    assert [e.incident.id for e in waiting if isinstance(e, NoticeReceived)] == [
        h.id for h in handles
    ]
    assert not [e for e in waiting if isinstance(e, Received)]
    assert ru.events_dropped == 8
    assert ru.events_waiting() == []
    for station in (us, ru):
        station.store.close()


@pytest.mark.asyncio
async def test_notices_and_other_events_are_read_in_the_order_they_came(
    tmp_path: Path,
) -> None:
    us = post("US", NOWHERE, tmp_path / "us.db")
    handle = await us.notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
    )
    notice = NoticeReceived(handle.incident, 1.0)
    buffer = EventBuffer(3, "RU")
    for event in (closed(1), notice, closed(2), notice, closed(3), notice):
        buffer.put(event)
    # six events, three kept: the notices, each where it came
    assert buffer.dropped == 3
    assert [await buffer.get() for _ in range(3)] == [notice, notice, notice]
    for event in (closed(4), notice, closed(5)):
        buffer.put(event)
    assert buffer.take_all() == [closed(4), notice, closed(5)]
    us.store.close()
