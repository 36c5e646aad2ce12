"""What a live post keeps across restarts, in SQLite (the embedded default).

* the highest sequence number each hosted station has used, so a restarted post never
  reuses one (receivers would refuse it as a sequence regression);
* the ids of messages it has taken, so a message the broker delivers again after a
  restart (QoS 1 is at-least-once) is not processed twice;
* its outbox: messages handed to the transport and not yet confirmed by the broker,
  published again when the connection comes back;
* its incidents, as records (`hotline.core.records`), so a restarted post carries on
  every open incident where it stopped: same deadlines, same answers awaited.

A post handles each input — a message, a timer, a local decision — in one
`transaction`: the message taken, the incidents it changed and the messages it causes
are committed together or not at all (WAL journal). The broker's delivery is
acknowledged only after that commit, so a post killed at any instant either never took
the message (the broker delivers it again) or took it completely (the taken id refuses
the copy the broker may still deliver).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgpack

from hotline.sqlite import connect, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS sequence (station TEXT PRIMARY KEY, highest INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS taken (id BLOB PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    number INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS taken_at ON taken (at);
CREATE TABLE IF NOT EXISTS incidents (
    key TEXT PRIMARY KEY, open INTEGER NOT NULL, record BLOB NOT NULL
);
"""


class PostStore:
    """A post's durable state.

    Args:
        path: the SQLite file (created if missing), or ``":memory:"``.
    """

    def __init__(self, path: Path | str) -> None:
        self._db = connect(path)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The database (a live post keeps its journal in it too)."""
        return self._db

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Commit every write inside the block together, or none if it raises."""
        return transaction(self._db)

    # -- sequence numbers -----------------------------------------------------------

    def first_seq(self) -> int:
        """The first sequence number a (re)started post may use."""
        row = self._db.execute("SELECT MAX(highest) FROM sequence").fetchone()
        return 1 if row[0] is None else int(row[0]) + 1

    def used(self, station: str, seq: int) -> None:
        """Record that ``station`` used sequence number ``seq``."""
        self._db.execute(
            "INSERT INTO sequence (station, highest) VALUES (?, ?) "
            "ON CONFLICT (station) DO UPDATE SET highest = MAX(highest, excluded.highest)",
            (station, seq),
        )

    # -- messages taken ------------------------------------------------------------

    def taken(self, message_id: bytes) -> bool:
        """Whether a message with this id was already taken."""
        found = self._db.execute("SELECT 1 FROM taken WHERE id = ?", (message_id,)).fetchone()
        return found is not None

    def take(self, message_id: bytes, at: float) -> None:
        """Remember a message as taken."""
        self._db.execute("INSERT OR IGNORE INTO taken (id, at) VALUES (?, ?)", (message_id, at))

    def forget_before(self, at: float) -> int:
        """Forget ids taken before ``at`` (older messages fail the freshness check); a
        post does so as it runs (`hotline.live.station.Station`)."""
        return self._db.execute("DELETE FROM taken WHERE at < ?", (at,)).rowcount

    # -- the outbox ----------------------------------------------------------------

    def queue(self, topic: str, data: bytes) -> int:
        """Put a message in the outbox; returns its number."""
        cursor = self._db.execute("INSERT INTO outbox (topic, data) VALUES (?, ?)", (topic, data))
        number = cursor.lastrowid
        assert number is not None
        return number

    def confirmed(self, number: int) -> None:
        """The broker confirmed the message: it leaves the outbox."""
        self._db.execute("DELETE FROM outbox WHERE number = ?", (number,))

    def pending(self) -> list[tuple[int, str, bytes]]:
        """Messages still to publish, oldest first."""
        rows = self._db.execute("SELECT number, topic, data FROM outbox ORDER BY number")
        return [(int(n), str(t), bytes(d)) for n, t, d in rows]

    # -- incidents -----------------------------------------------------------------

    def save_incident(self, key: str, record: dict[str, Any], is_open: bool) -> None:
        """Keep the latest record of an incident under ``key`` (one per incident view)."""
        data = msgpack.packb(record, use_bin_type=True)
        self._db.execute(
            "INSERT INTO incidents (key, open, record) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET open = excluded.open, record = excluded.record",
            (key, int(is_open), data),
        )

    def incident_records(
        self, *, open_only: bool = False, keys: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The incident records kept (only the open ones, or those under ``keys``), in
        the order first saved."""
        query, parameters = "SELECT record FROM incidents", list(keys or ())
        if keys is not None:
            query += f" WHERE key IN ({', '.join('?' * len(parameters))})"
        elif open_only:
            query += " WHERE open"
        rows = self._db.execute(query + " ORDER BY rowid", parameters)
        return [msgpack.unpackb(bytes(row[0]), raw=False) for row in rows]
