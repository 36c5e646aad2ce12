"""What a live post keeps across restarts, in SQLite (the embedded default).

* the highest sequence number each hosted station has used, so a restarted post never
  reuses one (receivers would refuse it as a sequence regression);
* the ids of messages it has taken, so a message the broker delivers again after a
  restart (QoS 1 is at-least-once) is not processed twice;
* its outbox: messages handed to the transport and not yet confirmed by the broker,
  published again when the connection comes back;
* its incidents, as records (`hotline.core.records`), so a restarted post carries on
  every open incident where it stopped: same deadlines, same answers awaited.

A post handles the inputs of one turn of its event loop — the messages one read from
the socket brought, a timer, a local decision — in one `transaction`: the messages
taken, the incidents they changed and the messages they cause are committed together or
not at all (WAL journal). The broker's deliveries are acknowledged only after that
commit, so a post killed at any instant either never took a message (the broker
delivers it again) or took it completely (the taken id refuses the copy the broker may
still deliver).

Nothing is read on that path. The ids taken before this start are read once, when the
store opens (ids taken since are the verifier's to remember); a message the broker
confirms leaves the outbox in the next transaction, not in one of its own (a post
killed in between publishes it once more at its next start: receivers refuse the copy
by its id).

The write-ahead log is checkpointed by a `Checkpointer` thread on a connection of its
own, never by the post's commits: a checkpoint writes the log back into the database
and waits for the disk, which on the event loop would stall every message behind it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgpack

from hotline.sqlite import connect, transaction

log = logging.getLogger("hotline.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS sequence (station TEXT PRIMARY KEY, highest INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS taken (id BLOB PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID;
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
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the `Checkpointer` does it
        # a log started over is cut back to this size (`Checkpointer`)
        self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        self._taken_before: dict[bytes, float] = {}  # ids taken before, with when
        self._keys: set[str] = set()  # of the incident records kept
        self.reread()
        self._confirmed: set[int] = set()  # confirmed, to leave the outbox at the next commit
        self._highest: dict[str, int] = {}  # sequence numbers used, to record at the next commit
        self.checkpointer = None if str(path) == ":memory:" else Checkpointer(Path(path))
        if self.checkpointer is not None:  # a store dropped unclosed leaves no thread behind
            weakref.finalize(self, self.checkpointer.halt)
        self.closed = False

    def close(self) -> None:
        """Commit what waits for the next transaction, and close the database."""
        self.commit_waiting()
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self._db.close()
        self.closed = True

    def reread(self) -> None:
        """Read into memory what it mirrors of the database: the ids taken so far, with
        when (`taken_before`), and the keys of the incident records kept, so that an id
        never seen costs no read. At the start, and after a transaction failed."""
        self._taken_before = {
            bytes(i): float(at) for i, at in self._db.execute("SELECT id, at FROM taken")
        }
        self._keys = {str(key) for (key,) in self._db.execute("SELECT key FROM incidents")}

    @property
    def connection(self) -> sqlite3.Connection:
        """The database (a live post keeps its journal in it too)."""
        return self._db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit every write inside the block together, or none if it raises; with them,
        the confirmations and sequence numbers that waited for a commit."""
        with transaction(self._db):
            yield
            self._write_waiting()
        # committed: until then they wait for the next transaction, should this one fail
        self._confirmed.clear()
        self._highest.clear()

    def _write_waiting(self) -> None:
        if self._confirmed:
            self._db.executemany(
                "DELETE FROM outbox WHERE number = ?", [(n,) for n in self._confirmed]
            )
        if self._highest:
            self._db.executemany(
                "INSERT INTO sequence (station, highest) VALUES (?, ?) ON CONFLICT (station) "
                "DO UPDATE SET highest = MAX(highest, excluded.highest)",
                list(self._highest.items()),
            )

    def commit_waiting(self) -> None:
        """Commit the confirmations and sequence numbers waiting for a transaction, if
        any (and the store is open): no message has come to take them along."""
        if self.waiting and not self.closed:
            with self.transaction():
                pass

    @property
    def waiting(self) -> bool:
        """Whether confirmations or sequence numbers wait for the next transaction."""
        return bool(self._confirmed or self._highest)

    # -- sequence numbers -----------------------------------------------------------

    def first_seq(self) -> int:
        """The first sequence number a (re)started post may use."""
        row = self._db.execute("SELECT MAX(highest) FROM sequence").fetchone()
        return 1 if row[0] is None else int(row[0]) + 1

    def used(self, station: str, seq: int) -> None:
        """Record that ``station`` used sequence number ``seq`` (written with the current
        transaction: the highest of each station's numbers, once)."""
        if seq > self._highest.get(station, 0):
            self._highest[station] = seq

    # -- messages taken ------------------------------------------------------------

    def taken(self, message_id: bytes) -> bool:
        """Whether a message with this id was already taken (reads the database)."""
        found = self._db.execute("SELECT 1 FROM taken WHERE id = ?", (message_id,)).fetchone()
        return found is not None

    def taken_before(self, message_id: bytes) -> bool:
        """Whether a message with this id was taken before this start, or before the
        last `reread` (reads memory: a post's verifier remembers the ids it takes
        itself)."""
        return message_id in self._taken_before

    def take(self, message_id: bytes, at: float) -> None:
        """Remember a message as taken."""
        self._db.execute("INSERT OR IGNORE INTO taken (id, at) VALUES (?, ?)", (message_id, at))

    def forget_before(self, at: float) -> int:
        """Forget ids taken before ``at`` (older messages fail the freshness check); a
        post does so as it runs (`hotline.live.station.Station`)."""
        if self._taken_before:
            self._taken_before = {i: t for i, t in self._taken_before.items() if t >= at}
        return self._db.execute("DELETE FROM taken WHERE at < ?", (at,)).rowcount

    # -- the outbox ----------------------------------------------------------------

    def queue(self, topic: str, data: bytes) -> int:
        """Put a message in the outbox; returns its number (call it in a transaction)."""
        cursor = self._db.execute("INSERT INTO outbox (topic, data) VALUES (?, ?)", (topic, data))
        number = cursor.lastrowid
        assert number is not None
        return number

    def confirmed(self, number: int) -> None:
        """The broker confirmed the message: it leaves the outbox with the next
        transaction (and `pending` leaves it out at once)."""
        self._confirmed.add(number)

    def pending(self) -> list[tuple[int, str, bytes]]:
        """Messages still to publish, oldest first."""
        rows = self._db.execute("SELECT number, topic, data FROM outbox ORDER BY number")
        gone = self._confirmed
        return [(int(n), str(t), bytes(d)) for n, t, d in rows if n not in gone]

    # -- incidents -----------------------------------------------------------------

    def save_incident(self, key: str, record: dict[str, Any], is_open: bool) -> None:
        """Keep the latest record of an incident under ``key`` (one per incident view)."""
        data = msgpack.packb(record, use_bin_type=True)
        self._keys.add(key)  # if the transaction fails, a read finds nothing: no harm
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
            parameters = [key for key in parameters if key in self._keys]
            if not parameters:
                return []
            query += f" WHERE key IN ({', '.join('?' * len(parameters))})"
        elif open_only:
            query += " WHERE open"
        rows = self._db.execute(query + " ORDER BY rowid", parameters)
        return [msgpack.unpackb(bytes(row[0]), raw=False) for row in rows]


#: bytes of write-ahead log past which the `Checkpointer` has the writer start it over
WAL_LIMIT = 64 * 1024 * 1024


class Checkpointer:
    """Checkpoints a database's write-ahead log from a thread, off its writer's path.

    The writer's connection stops checkpointing by itself (``wal_autocheckpoint=0``);
    this thread opens a connection of its own and runs a PASSIVE checkpoint every
    ``every`` seconds (one that finds nothing new copies nothing): it copies what no
    reader needs any more into the database and never blocks the writer, which starts
    the log over once a checkpoint has copied all of it.

    Under writes that never pause for a checkpoint to finish, that moment never comes
    and the log would only grow (hundreds of megabytes in a minute at 500 round trips a
    second). So once it holds more than ``limit`` bytes, the thread follows the passive
    checkpoint with a RESTART one: it copies the little written meanwhile while the
    writer waits, and the writer's next transaction starts the log over, cut back to
    `WAL_LIMIT` (``journal_size_limit``).

    Args:
        path: the database file.
        every: seconds between checkpoints.
        limit: bytes of log past which it is started over.
    """

    def __init__(self, path: Path, every: float = 0.5, limit: int = WAL_LIMIT) -> None:
        self.path, self.every, self.limit = path, every, limit
        self.checkpoints = 0  # how many copied frames back into the database
        self.restarts = 0  # how many had the log started over
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"checkpoint {path.name}")
        self._thread.daemon = True  # a post killed without closing leaves a log: SQLite
        self._thread.start()  # reads it back at the next start

    def stop(self) -> None:
        """Stop the thread, after one last checkpoint."""
        self.halt()
        self._thread.join()

    def halt(self) -> None:
        """Have the thread stop after one last checkpoint, without waiting for it."""
        self._stopping.set()

    @property
    def running(self) -> bool:
        """Whether the thread is still there."""
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(str(self.path), isolation_level=None)
            page = int(db.execute("PRAGMA page_size").fetchone()[0])
        except sqlite3.Error as exc:  # the writer keeps working; its log grows
            log.warning("%s: cannot checkpoint its write-ahead log: %s", self.path, exc)
            return
        try:
            while True:
                stopping = self._stopping.wait(self.every)
                self._checkpoint(db, page)
                if stopping:
                    return
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection, page: int) -> None:
        try:
            _, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if copied > 0:
                self.checkpoints += 1
            if frames * page > self.limit:
                busy, _, _ = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                self.restarts += not busy
        except sqlite3.Error as exc:  # busy or locked: the next one will do
            log.debug("%s: checkpoint skipped: %s", self.path, exc)
