"""Group commit keeps the durability promise: a post killed (SIGKILL) in the middle of a
batch, with part of the batch written and nothing of it committed, loses no message
and takes none twice once started again on the same store."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hotline.audit.evidence import verify_journal
from hotline.audit.journal import read_entries
from hotline.audit.recorder import REJECTION_LIMIT
from hotline.core.events import NoticeReceived, Rejected
from hotline.core.heads import INCIDENT_SUFFIX
from hotline.core.incident import Notice, State
from hotline.core.names import Channel, Precedence, inbox_topic
from hotline.live.store import PostStore
from hotline.testing import Mosquitto
from tests.conftest import REPO
from tests.posts import DOCTRINE, NOWHERE, post

pytestmark = pytest.mark.broker
NOTICES = 12


async def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    text = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
    assert text, f"RU's post ended: {process.stderr.read() if process.stderr else ''}"
    return text.strip()


@pytest.mark.asyncio
async def test_a_post_killed_in_the_middle_of_a_batch_loses_nothing_and_takes_nothing_twice(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    store = tmp_path / "ru.db"
    async with post("RU", mosquitto, store):
        pass  # RU's session at the broker: what is sent while RU is away waits for it
    async with post("US", mosquitto) as us:
        handles = [
            await us.notify(
                channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
            )
            for _ in range(NOTICES)
        ]
        assert await us.flushed(10), "the broker holds every notice for RU"
        # RU comes back: the broker hands it the twelve at once, and it dies in a batch
        ru = subprocess.Popen(
            [sys.executable, "-m", "tests.killed_mid_batch", mosquitto.url, str(store)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert await _line(ru) == "ready"
            batches = []  # the sizes of the batches RU began, the last the one it died in
            while (said := await _line(ru)) != "killing":
                batches.append(int(said.split()[1]))
            committed = sum(batches[:-1])
            assert ru.wait(timeout=10) == -9
        finally:
            if ru.poll() is None:
                ru.kill()
        # what the batches before it did is kept; nothing of the batch it died in
        kept = PostStore(store)
        try:
            assert len(kept.incident_records()) == committed < NOTICES
        finally:
            kept.close()
        verify_journal(store)  # the chain holds up to the last commit
        # started again, RU is handed every notice exactly once
        refused: list[Rejected] = []
        async with post("RU", mosquitto, store) as again:
            handed: Counter[str] = Counter()
            async with asyncio.timeout(20):
                async for event in again.events():
                    if isinstance(event, Rejected):
                        refused.append(event)  # a copy of a message taken before the kill
                    if isinstance(event, NoticeReceived):
                        handed[event.incident.id] += 1
                        await again.acknowledge(event.incident.id, channel=Channel.AIR)
                        if len(handed) == NOTICES:
                            break
            outcomes = [await h.outcome(timeout=10) for h in handles]
        assert handed == Counter({h.id: 1 for h in handles})
        assert outcomes == ["acknowledged"] * NOTICES
        assert all(h.incident.attempts == 1 for h in handles)
        assert all(r.reason == "replay" for r in refused)
    taken = Counter(
        e.incident
        for e in read_entries(store)
        if e.kind == "received" and e.incident and not e.incident.endswith(INCIDENT_SUFFIX)
    )  # the posts' journal heads, exchanged as they go, are not notices
    assert taken == Counter({h.id: 1 for h in handles}), "each notice taken once"
    views = PostStore(store)
    try:
        assert len(views.incident_records()) == NOTICES
    finally:
        views.close()
    assert DOCTRINE[Channel.AIR].stations["RU"] == "RU-HMEIMIM"


@pytest.mark.asyncio
async def test_a_batch_is_journaled_in_the_order_its_messages_happened(tmp_path: Path) -> None:
    # two messages about one incident in one batch: what the first did is journaled
    # before the second is taken, never mixed with what the second did
    us = post("US", NOWHERE, tmp_path / "us.db")
    ru = post("RU", NOWHERE, tmp_path / "ru.db")
    handle = await us.notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
    )
    await us.withdraw(handle.id)
    batch = [(topic, data) for _, topic, data in us.store.pending()]
    assert len(batch) == 2
    ru._on_messages(batch)
    ru.store.close()
    us.store.close()
    entries = [e for e in read_entries(tmp_path / "ru.db") if e.incident == handle.id]
    kinds = [e.kind for e in entries]
    second = [i for i, e in enumerate(entries) if e.kind == "received"][1]
    assert kinds.count("received") == 2
    assert [e.body["after"] for e in entries[:second] if e.kind == "transition"] == ["notified"]
    assert [e.body["after"] for e in entries[second:] if e.kind == "transition"] == ["withdrawn"]
    times = [e.at for e in entries]
    assert times == sorted(times), "the journal runs forward in time"


@pytest.mark.asyncio
async def test_a_commit_that_fails_raises_in_every_call_and_keeps_nothing_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    us = post("US", NOWHERE, tmp_path / "us.db")

    def full(topic: str, data: bytes) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(us.store, "queue", full)
    notice = Notice(activity="strike")
    results = await asyncio.gather(
        *(
            us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [sqlite3.OperationalError] * 3
    monkeypatch.undo()
    assert us.store.pending() == []  # nothing half kept
    us.store.close()


@pytest.mark.asyncio
async def test_after_a_failed_commit_the_post_starts_over_from_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the batch a failed commit dropped is taken when the broker hands it again, not
    # refused as replays; a notify that failed leaves no incident behind
    us = post("US", NOWHERE, tmp_path / "us.db")
    ru = post("RU", NOWHERE, tmp_path / "ru.db")
    notice = Notice(activity="strike")
    first = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    ru._on_messages([(topic, data) for _, topic, data in us.store.pending()])
    sent = len(us.store.pending())
    handles = [
        await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
        for _ in range(2)
    ]
    batch = [(topic, data) for _, topic, data in us.store.pending()[sent:]]
    assert len(batch) == 2
    events: list[object] = []
    ru.on_received = lambda topic, data, caused: events.extend(caused)

    def full(key: str, record: object, is_open: bool) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ru.store, "save_incident", full)
    with pytest.raises(sqlite3.OperationalError):
        ru._on_messages(batch)
    monkeypatch.undo()
    assert events == []
    ru._on_messages(batch)  # delivered again
    taken = [e.incident.id for e in events if isinstance(e, NoticeReceived)]
    assert taken == [h.id for h in handles]
    assert not [e for e in events if isinstance(e, Rejected)]
    # a message taken before the failure is still known for one
    ru._on_messages([(topic, data) for _, topic, data in us.store.pending()[:sent]])
    assert [e.reason for e in events if isinstance(e, Rejected)] == ["replay"]
    await ru.acknowledge(handles[0].id, channel=Channel.AIR)

    monkeypatch.setattr(us.store, "queue", lambda topic, data: full("", None, True))
    with pytest.raises(sqlite3.OperationalError):
        await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    monkeypatch.undo()
    assert sorted(i.id for i in us.endpoint.incidents()) == sorted(h.id for h in [first, *handles])
    later = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    # the handles given before still follow their incidents
    ru_out = [(topic, data) for _, topic, data in ru.store.pending()]
    us._on_messages(ru_out)
    assert handles[0].incident.state is State.ACKNOWLEDGED
    assert await handles[0].outcome(timeout=1) == "acknowledged"
    assert later.id in {i.id for i in us.endpoint.incidents()}
    for station in (us, ru):
        station.store.close()
        station.journal.close()
    for name in ("us.db", "ru.db"):
        verify_journal(tmp_path / name)
    received = Counter(e.incident for e in read_entries(tmp_path / "ru.db") if e.kind == "received")
    assert received == Counter({h.id: 1 for h in [first, *handles]})


def fail_once(monkeypatch: pytest.MonkeyPatch, store: PostStore) -> list[Exception]:
    """Make ``store``'s next incident write fail, as a failing disk's would; the list
    is empty once it has."""
    failures: list[Exception] = [sqlite3.OperationalError("disk I/O error")]
    save = store.save_incident

    def flaky(key: str, record: dict[str, Any], is_open: bool) -> None:
        if failures:
            raise failures.pop()
        save(key, record, is_open)

    monkeypatch.setattr(store, "save_incident", flaky)
    return failures


@pytest.mark.asyncio
async def test_a_batch_whose_commit_failed_is_delivered_again_and_taken(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a disk that fails once: the link drops the connection without acknowledging the
    # batch, the broker hands it over again, and the post, started over from its
    # store, takes it as new
    async with post("RU", mosquitto, tmp_path / "ru.db") as ru, post("US", mosquitto) as us:
        failures = fail_once(monkeypatch, ru.store)
        handle = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
        )
        async with asyncio.timeout(15):
            async for event in ru.events():
                if isinstance(event, NoticeReceived):
                    await ru.acknowledge(event.incident.id, channel=Channel.AIR)
                    break
        assert await handle.outcome(timeout=10) == "acknowledged"
        assert failures == [], "the first commit failed"
    received = [e.incident for e in read_entries(tmp_path / "ru.db") if e.kind == "received"]
    assert received.count(handle.id) == 1


@pytest.mark.asyncio
async def test_a_commit_that_fails_after_the_journal_wrote_keeps_the_chain_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the journal's entries are written, then the store's last writes or its COMMIT
    # fail: the rollback takes the entries too, and the chain goes on from the last kept
    us = post("US", NOWHERE, tmp_path / "us.db")
    notice = Notice(activity="strike")
    await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    us.store.confirmed(us.store.pending()[0][0])  # a confirmation waiting for a commit

    def failing() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(us.store, "_write_waiting", failing)
    with pytest.raises(sqlite3.OperationalError):
        await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    monkeypatch.undo()
    assert us.store.waiting, "the confirmation still waits for a commit"
    later = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    assert not us.store.waiting
    us.store.close()
    verify_journal(tmp_path / "us.db")  # no entry of the failed commit, no gap
    sent = [e.incident for e in read_entries(tmp_path / "us.db") if e.kind == "sent"]
    assert len(sent) == 2
    assert sent[-1] == later.id


@pytest.mark.asyncio
async def test_what_only_memory_holds_survives_a_failed_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # copies refused past the journal's limit are counted in memory until their window
    # closes; lines declared suspended are held in memory: a start-over keeps both
    us = post("US", NOWHERE, tmp_path / "us.db")
    ru = post("RU", NOWHERE, tmp_path / "ru.db")
    inbox = inbox_topic(Channel.AIR, DOCTRINE[Channel.AIR].stations["RU"])
    ru._on_messages([(inbox, b"not a hotline message %d" % n) for n in range(REJECTION_LIMIT + 5)])
    ru.endpoint.declared[("US", Channel.GROUND)] = "suspended"
    await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="x"))

    def full(key: str, record: object, is_open: bool) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ru.store, "save_incident", full)
    with pytest.raises(sqlite3.OperationalError):
        ru._on_messages([(topic, data) for _, topic, data in us.store.pending()])
    monkeypatch.undo()
    assert ru.endpoint.declared == {("US", Channel.GROUND): "suspended"}
    ru.recorder.flush(ru.clock())
    for station in (us, ru):
        station.store.close()
    entries = list(read_entries(tmp_path / "ru.db"))
    assert len([e for e in entries if e.kind == "rejected"]) == REJECTION_LIMIT
    counted = [e.body["count"] for e in entries if e.kind == "rejections"]
    assert counted == [5]
    verify_journal(tmp_path / "ru.db")


@pytest.mark.asyncio
async def test_the_timers_outlive_a_commit_that_failed(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a deadline falls due, its commit fails: the post starts over and the timers try
    # again a moment later, instead of stopping for the rest of the post's life
    offset = [0.0]
    started = time.time()
    async with post("US", mosquitto, tmp_path / "us.db", clock=lambda: started + offset[0]) as us:
        handle = await us.notify(
            channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
        )
        failures = fail_once(monkeypatch, us.store)
        deadline = us.endpoint.next_deadline()
        assert deadline is not None
        offset[0] = deadline - started + 1  # the answer is overdue
        us._wake.set()
        async with asyncio.timeout(10):
            while len(handle.incident.history) == 1:
                await asyncio.sleep(0.05)
        assert failures == [], "the first timer commit failed"
        steps = [step.input for step in handle.incident.history]
    assert len(steps) > 1, steps
    verify_journal(tmp_path / "us.db")


def failing_commit() -> None:
    """In place of `PostStore._write_waiting`: the store's last writes before COMMIT."""
    raise sqlite3.OperationalError("disk I/O error")


@pytest.mark.asyncio
async def test_a_journal_of_its_own_never_holds_a_commit_that_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a journal in a file of its own commits apart from the store: written only once
    # the store has committed, it never tells of a message that was never sent
    us = post("US", NOWHERE, tmp_path / "us.db", journal=tmp_path / "us-journal.db")
    notice = Notice(activity="strike")
    first = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    monkeypatch.setattr(us.store, "_write_waiting", failing_commit)
    with pytest.raises(sqlite3.OperationalError):
        await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    monkeypatch.undo()
    later = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    us.store.close()
    us.journal.close()
    verify_journal(tmp_path / "us-journal.db")
    sent = [e for e in read_entries(tmp_path / "us-journal.db") if e.kind == "sent"]
    assert [e.incident for e in sent] == [first.id, later.id]


@pytest.mark.asyncio
async def test_a_start_over_that_fails_is_tried_again_before_the_next_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    us = post("US", NOWHERE, tmp_path / "us.db")
    notice = Notice(activity="strike")
    first = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)

    def unreadable() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(us.store, "_write_waiting", failing_commit)
    monkeypatch.setattr(us.store, "reread", unreadable)
    with pytest.raises(sqlite3.OperationalError):
        await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    monkeypatch.undo()  # the disk is back
    later = await us.notify(channel=Channel.AIR, precedence=Precedence.FLASH, notice=notice)
    assert sorted(i.id for i in us.endpoint.incidents()) == sorted([first.id, later.id])
    us.store.close()
    verify_journal(tmp_path / "us.db")
    sent = [e.incident for e in read_entries(tmp_path / "us.db") if e.kind == "sent"]
    assert sent == [first.id, later.id]


@pytest.mark.asyncio
async def test_an_observer_that_fails_does_not_undo_what_the_post_did(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    us = post("US", NOWHERE, tmp_path / "us.db")

    def broken(message: object) -> None:
        raise RuntimeError("the application's bug")

    us.on_sent = broken
    handle = await us.notify(
        channel=Channel.AIR, precedence=Precedence.FLASH, notice=Notice(activity="strike")
    )
    assert handle.posted is not None
    assert handle.posted.queued == 1
    assert "an observer of the post failed" in caplog.text
    us.store.close()
