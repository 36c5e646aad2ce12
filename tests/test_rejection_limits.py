"""Rejected copies are journaled one by one up to a limit per channel and window, and
counted beyond it, so junk cannot fill a post's journal and no rejection goes uncounted;
and a run cannot write its journals where it is told to: exit 2 with one line."""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.audit.evidence import verify_journal
from hotline.audit.journal import KINDS, Entry, Journal, read_entries
from hotline.audit.recorder import REJECTION_LIMIT, REJECTION_WINDOW, Recorder
from hotline.cli import main
from hotline.core.endpoint import StationEndpoint
from hotline.core.events import Received, Rejected
from hotline.core.incident import Notice
from hotline.core.keyring import Keyring
from hotline.core.names import Channel, Precedence
from hotline.core.wire import MAX_MESSAGE_BYTES
from tests.conftest import REPO
from tests.harness import T0, endpoint, keyring_for, make_doctrine

#: a signed scenario that journals
SCENARIO = REPO / "examples" / "warnings-unheard-2015.toml"


class Post:
    """RU's endpoint and its recorder, journaling into ``path``; US sends it notices."""

    def __init__(
        self, path: Path, limit: int = REJECTION_LIMIT, window: float = REJECTION_WINDOW
    ) -> None:
        doctrine = make_doctrine()
        keyring: Keyring = keyring_for(doctrine)
        self.path = path
        self.ru = endpoint("RU", doctrine, keyring)
        self.us = endpoint("US", doctrine, keyring)
        self.journal = Journal(path)
        self.recorder = Recorder(
            self.journal, self.ru, T0, rejection_limit=limit, rejection_window=window
        )
        self.reasons: Counter[str] = Counter()  # of every copy rejected
        self.bytes = 0
        self._notices = 0

    def junk(self, data: bytes, at: float, channel: Channel | None = Channel.AIR) -> None:
        """A copy of ``data`` published to RU's inbox on ``channel`` (None: a topic no
        channel has), as a live post hands it to the endpoint and the recorder."""
        events = self.ru.receive(data, at, channel=channel)
        (rejected,) = [e for e in events if isinstance(e, Rejected)]
        self.reasons[rejected.reason.value] += 1
        self.bytes += len(data)
        self.recorder.received(data, channel, events, at)

    def notice(self, at: float) -> None:
        """A notice US signs and RU takes."""
        self._notices += 1
        self.us.notify(
            channel=Channel.AIR,
            precedence=Precedence.FLASH,
            notice=Notice(activity="strike"),
            now=at,
            incident_id=f"strike-{self._notices}",
        )
        (message,) = self.us.outbox()
        events = self.ru.receive(message.data, at, channel=Channel.AIR)
        assert any(isinstance(e, Received) for e in events)
        self.recorder.received(message.data, Channel.AIR, events, at)

    def entries(self, *kinds: str) -> list[Entry]:
        return [e for e in read_entries(self.path) if e.kind in kinds]


@pytest.fixture
def post(tmp_path: Path) -> Iterator[Post]:
    made = Post(tmp_path / "RU.journal")
    yield made
    made.journal.close()


def junk(number: int) -> bytes:
    """Assorted junk: every tenth copy larger than any message can be."""
    if number % 10 == 0:
        return b"\xff" * (MAX_MESSAGE_BYTES + number)
    return b"junk %d" % number


def counted(entries: list[Entry]) -> int:
    return sum(e.body["count"] for e in entries)


def test_the_defaults_are_twenty_copies_a_minute() -> None:
    assert (REJECTION_LIMIT, REJECTION_WINDOW) == (20, 60.0)


def test_a_thousand_junk_copies_in_a_minute_are_all_counted_and_few_journaled(
    post: Post,
) -> None:
    for number in range(1_000):
        post.junk(junk(number), T0 + number * 0.059)
    assert len(post.entries("rejected")) == REJECTION_LIMIT
    assert post.entries("rejections") == []  # the window has not ended
    post.recorder.flush(T0 + 60)
    post.journal.close()
    rejected, (summary,) = post.entries("rejected"), post.entries("rejections")
    assert len(rejected) + summary.body["count"] == 1_000
    sizes = [len(e.body["message"]) if "message" in e.body else e.body["size"] for e in rejected]
    assert sum(sizes) + summary.body["bytes"] == post.bytes
    reasons = Counter(e.body["reason"] for e in rejected) + Counter(summary.body["reasons"])
    assert reasons == post.reasons
    assert (summary.at, summary.incident, summary.body["channel"]) == (T0 + 60, None, "air")
    assert summary.body["from"] == T0 + REJECTION_LIMIT * 0.059
    assert summary.body["until"] == T0 + 999 * 0.059
    assert summary.body["digest"] == hashlib.sha256(junk(999)).digest()
    assert post.path.stat().st_size < 200_000


def test_the_next_call_after_the_window_writes_its_count_first(post: Post) -> None:
    for number in range(30):
        post.junk(junk(number), T0 + number)
    post.junk(b"late junk", T0 + 61)  # a new window: journaled by itself
    kinds = [e.kind for e in post.entries("rejected", "rejections")]
    assert kinds == ["rejected"] * 20 + ["rejections", "rejected"]
    (summary,) = post.entries("rejections")
    assert (summary.body["count"], summary.body["from"], summary.body["until"]) == (
        10,
        T0 + 20,
        T0 + 29,
    )
    assert summary.at == T0 + 61
    # a message taken, or nothing at all, also ends a window that is over
    for number in range(25):  # the window of T0 + 61 journals 19 more, counts 6
        post.junk(junk(number), T0 + 70)
    post.notice(T0 + 131)
    post.recorder.received(b"", None, [], T0 + 300)  # nothing to end: nothing written
    assert [e.body["count"] for e in post.entries("rejections")] == [10, 6]
    assert post.entries("received")[-1].at == T0 + 131


def test_a_clock_set_back_ends_the_window(post: Post) -> None:
    for number in range(21):
        post.junk(junk(number), T0 + 100)
    post.junk(b"junk", T0 + 50)
    assert [e.kind for e in post.entries("rejected", "rejections")][-2:] == [
        "rejections",
        "rejected",
    ]


def test_flush_writes_what_was_counted_once_and_the_window_goes_on(post: Post) -> None:
    post.recorder.flush(T0)  # nothing counted: nothing written
    for number in range(22):
        post.junk(junk(number), T0 + number)
    post.recorder.flush(T0 + 22)
    post.recorder.flush(T0 + 23)
    assert [e.body["count"] for e in post.entries("rejections")] == [2]
    post.junk(b"more junk", T0 + 24)  # the same window: counted, not journaled
    assert len(post.entries("rejected")) == 20
    post.recorder.flush(T0 + 25)
    (_, last) = post.entries("rejections")
    assert (last.body["count"], last.body["from"], last.body["until"]) == (1, T0 + 24, T0 + 24)


def test_each_channel_and_unknown_topics_have_their_own_budget(post: Post) -> None:
    lines: list[Channel | None] = [Channel.AIR, Channel.GROUND, None]
    for number in range(25):
        for line in lines:
            post.junk(junk(number), T0 + number, line)
    post.recorder.flush(T0 + 30)
    rejected = Counter(e.body["channel"] for e in post.entries("rejected"))
    assert rejected == {"air": 20, "ground": 20, None: 20}
    summaries = {e.body["channel"]: e.body["count"] for e in post.entries("rejections")}
    assert summaries == {"air": 5, "ground": 5, None: 5}


def test_messages_taken_are_never_held_back_nor_spend_the_budget(post: Post) -> None:
    for number in range(19):
        post.junk(junk(number), T0 + number * 0.1)
    for number in range(30):
        post.notice(T0 + 2 + number * 0.1)
    post.junk(b"the twentieth", T0 + 10)
    assert len(post.entries("received")) == 30
    assert len(post.entries("rejected")) == 20
    for number in range(500):
        post.junk(junk(number), T0 + 11)
    post.notice(T0 + 12)
    assert len(post.entries("received")) == 31


def test_the_limits_are_the_recorders_to_set(tmp_path: Path) -> None:
    tight = Post(tmp_path / "tight.journal", limit=2, window=10.0)
    for number in range(5):
        tight.junk(junk(number), T0 + number)
    tight.junk(b"junk", T0 + 10)
    tight.journal.close()
    assert len(tight.entries("rejected")) == 3
    assert [e.body["count"] for e in tight.entries("rejections")] == [3]
    none_kept = Post(tmp_path / "none.journal", limit=0)
    none_kept.junk(b"junk", T0)
    none_kept.recorder.flush(T0)
    none_kept.journal.close()
    assert [e.kind for e in none_kept.entries("rejected", "rejections")] == ["rejections"]


@pytest.mark.parametrize(
    ("limit", "window", "message"),
    [(-1, 60.0, "rejection_limit"), (20, 0.0, "rejection_window"), (20, math.nan, "window")],
)
def test_limits_that_mean_nothing_are_refused(
    tmp_path: Path, limit: int, window: float, message: str
) -> None:
    ru: StationEndpoint = endpoint("RU", make_doctrine())
    journal = Journal(tmp_path / "RU.journal")
    with pytest.raises(ValueError, match=message):
        Recorder(journal, ru, T0, rejection_limit=limit, rejection_window=window)
    journal.close()


@pytest.mark.skipif("rejections" not in KINDS, reason="the journal does not know the kind yet")
def test_a_journal_with_counts_verifies_and_shows_them(
    post: Post, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(50):
        post.junk(junk(number), T0 + number)
    post.recorder.flush(T0 + 50)
    post.journal.close()
    assert verify_journal(post.path).entries == 1 + 20 + 1
    assert main(["audit", "show", str(post.path)]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "rejections" in line]
    assert "30 more refused on air" in line
    assert "invalid-field" in line or "malformed" in line or "too-large" in line


# -- a run told to journal where it cannot --------------------------------------------


def assert_one_line_exit_2(code: int, capsys: pytest.CaptureFixture[str], path: Path) -> None:
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert str(path) in line, line


def test_a_journal_directory_under_a_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("")
    where = tmp_path / "a-file" / "journals"
    code = main(["exercise", "run", str(SCENARIO), "-q", "--journal", str(where)])
    assert_one_line_exit_2(code, capsys, where)


def test_a_journal_sqlite_cannot_write_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr("hotline.sqlite.sqlite3.connect", refuse)
    code = main(["exercise", "run", str(SCENARIO), "-q", "--journal", str(tmp_path)])
    assert_one_line_exit_2(code, capsys, tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_journal_directory_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "read-only"
    where.mkdir()
    where.chmod(0o555)
    try:
        code = main(["exercise", "run", str(SCENARIO), "-q", "--journal", str(where)])
    finally:
        where.chmod(0o755)
    assert_one_line_exit_2(code, capsys, where)
