"""A post's write-ahead log stays bounded while it writes without pause, and is
checkpointed off the writer's thread (hotline/live/store.py)."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from hotline.live.store import Checkpointer, PostStore

WRITES = 8_000


def _largest_log(path: Path, limit: int) -> tuple[int, int]:
    """Write without pause beside a checkpointer with ``limit``; the largest the log
    file grew to, and how many times it was started over."""
    store = PostStore(path)
    assert store.checkpointer is not None
    store.checkpointer.stop()  # one with this limit instead, checking often
    checkpointer = Checkpointer(path, every=0.01, limit=limit)
    log = path.with_name(path.name + "-wal")
    largest = 0
    try:
        for _ in range(WRITES):  # a writer that never pauses for a checkpoint to end
            with store.transaction():
                store.queue("hotline/v2/air/inbox/RU-HMEIMIM", b"x" * 200)
            largest = max(largest, log.stat().st_size)
    finally:
        checkpointer.stop()
        store.close()
    reopened = PostStore(path)
    try:
        assert len(reopened.pending()) == WRITES, "nothing written was lost"
    finally:
        reopened.close()
    return largest, checkpointer.restarts


def test_a_log_written_without_pause_is_started_over_and_stays_bounded(tmp_path: Path) -> None:
    unbounded, never = _largest_log(tmp_path / "unbounded.db", limit=2**62)
    bounded, restarts = _largest_log(tmp_path / "bounded.db", limit=64 * 1024)
    assert never == 0
    assert restarts >= 3, "the log was started over"
    # passive checkpoints alone copy the log but never get it started over
    assert bounded < 0.6 * unbounded, (bounded, unbounded)


def test_a_store_dropped_without_closing_leaves_no_thread_behind(tmp_path: Path) -> None:
    # a thread left checkpointing is one a later fork (a sweep's workers) copies mid-call
    store = PostStore(tmp_path / "dropped.db")
    checkpointer = store.checkpointer
    assert checkpointer is not None
    assert checkpointer.running
    del store
    gc.collect()
    deadline = time.monotonic() + 10  # it ends after one last checkpoint
    while checkpointer.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not checkpointer.running


def test_an_in_memory_store_has_no_checkpointer() -> None:
    store = PostStore(":memory:")
    assert store.checkpointer is None
    store.close()
