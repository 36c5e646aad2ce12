"""The tamper-evident journal: every message a post sent, received and rejected, and
every state transition, in an append-only hash chain (SQLite).

Theory of operation. Entries are numbered 1, 2, 3... with no gap. Each holds the hash
of the one before (32 zero bytes for the first) and its own hash:

    hash = SHA-256(msgpack([number, at, kind, incident, SHA-256(body), prev]))

so changing, removing or reordering any entry breaks every hash after it. An entry's
hash covers its body through the body's digest, so a stretch of the chain can be shown
without the bodies in it (an evidence bundle shows only its incident's). Signed
messages are kept verbatim in the body (the bytes as they crossed the line), so their
signatures can be checked again at any later time; the journal also records the public
keys the post trusted (a ``keys`` entry whenever its keyring is set), which makes it
checkable without the post's key files. SQLite triggers refuse UPDATE and DELETE.

A journal in a file of its own carries a journal's application id, and each opening
stamps the SQLite library's version in ``user_version`` (`stamp`), so that every byte
of the file can be checked, not only its rows (`hotline.audit.filecheck`).

The chain proves the journal unchanged since its entries were written, relative to
its last hash: whoever can rewrite the file can rewrite the whole chain. What a third
party can rely on without trusting the post is signed words: the messages themselves,
and the journal heads the post signed over the line and the other parties
countersigned (`hotline.core.heads`), which each side journals as the messages they
are. A journal trimmed or rewritten after it signed a head no longer matches it; an
evidence bundle (`hotline.audit.evidence`) carries both kinds of signed word.

Entry kinds and their bodies (msgpack maps):

    keys        {"keys": [[public key, party, station, [channels]], ...]}
    sent        {"message": signed bytes, "channel": c, "to": [stations]}
    received    {"message": signed bytes, "channel": c}
    rejected    {"message": bytes as received, "channel": c or nil, "reason": r, "detail": d}
    transition  {"role": r, "before": s, "input": i, "after": s, "channel": c, "by": station}
    rejections  {"channel": c or nil, "count": n, "bytes": b, "reasons": {reason: n},
                 "from": t, "until": t, "digest": the last one's SHA-256}: rejected
                copies counted, not kept one by one
    judgement   {"lines": {...}, "zones": [...], "near": [...], "verdicts": [...]}: what
                the agreed map said of a notice the post sent (`hotline.geo.agreed`)
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from hotline.core.errors import HotlineError
from hotline.core.keyring import Keyring, TrustedKey
from hotline.core.names import Channel
from hotline.sqlite import connect, transaction
from hotline.timestamps import in_calendar

GENESIS = bytes(32)
KINDS = ("keys", "sent", "received", "rejected", "transition", "rejections", "judgement")
MESSAGE_KINDS = ("sent", "received", "rejected")
COLUMNS = ("number", "at", "kind", "incident", "body", "prev", "hash")
INSERT = f"INSERT INTO journal ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
SELECT = f"SELECT {', '.join(COLUMNS)} FROM journal ORDER BY number"
#: what decoding untrusted msgpack may raise
MSGPACK_ERRORS = (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError)
SQLITE_MAGIC = b"SQLite format 3\x00"
#: ``PRAGMA application_id`` of a journal in a file of its own: "HLJ1"
APPLICATION_ID = 0x484C4A31

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    number INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL, incident TEXT,
    body BLOB NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"""


class JournalError(HotlineError):
    """The journal cannot be read, or does not verify (``entry`` names the first bad one)."""

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry


class NotReadable(JournalError):
    """Not a journal or an evidence bundle at all: missing or unreadable, or by its first
    bytes neither (no SQLite header, no msgpack map). Bad input, where any other
    JournalError is a journal or bundle that does not verify: a damaged one still opens
    as its kind does.
    """


#: what a link of the chain shows of an entry: its fields with its body's digest
Link = tuple[int, float, str, str | None, bytes, bytes]


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal entry."""

    number: int
    at: float
    kind: str
    incident: str | None
    body: dict[str, Any]
    prev: bytes
    hash: bytes
    packed: bytes  # the body as stored: its digest is what the hash covers

    def link(self) -> Link:
        """The entry as a link of the chain: its fields, its body by digest."""
        body_digest = hashlib.sha256(self.packed).digest()
        return (self.number, self.at, self.kind, self.incident, body_digest, self.prev)


#: what an entry's hash covers: number, at, kind, incident, packed body, previous hash
Fields = tuple[int, float, str, str | None, bytes, bytes]


def entry_hash(fields: Fields) -> bytes:
    """The hash an entry must hold."""
    number, at, kind, incident, body, prev = fields
    return link_hash((number, at, kind, incident, hashlib.sha256(body).digest(), prev))


def link_hash(link: Link) -> bytes:
    """The hash of an entry shown as a link (its body by digest)."""
    packed = msgpack.packb(list(link), use_bin_type=True)
    return hashlib.sha256(packed).digest()


def pack_keys(keyring: Iterable[TrustedKey]) -> list[list[Any]]:
    """Public keys as a journal or a bundle stores them."""
    return [
        [key.public_key, key.party, key.station, sorted(c.value for c in key.channels)]
        for key in sorted(keyring, key=lambda k: k.station)
    ]


def unpack_keys(rows: Any) -> Keyring:
    """The keyring stored by `pack_keys`.

    Raises:
        ValueError: not a list of keys as `pack_keys` writes them.
    """
    if not isinstance(rows, list):
        raise ValueError("keys: not a list")
    keys = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[3], list)):
            raise ValueError("keys: an entry is not [public key, party, station, channels]")
        public, party, station, channels = row
        if not (isinstance(public, bytes) and isinstance(party, str) and isinstance(station, str)):
            raise ValueError("keys: a field has the wrong type")
        try:
            lines = frozenset(Channel(c) for c in channels)
            keys.append(TrustedKey(public_key=public, party=party, station=station, channels=lines))
        except ValueError as exc:
            raise ValueError(f"keys: {station!r}: {exc}") from None
    return Keyring(keys)


class Journal:
    """A post's journal, appended to in the database's current transaction.

    Args:
        path: the SQLite file (created if missing), or ``":memory:"``; or an open
            connection to share (a live post keeps its journal in its store, so an
            entry commits together with what it records).
    """

    def __init__(self, path: Path | str | sqlite3.Connection) -> None:
        if isinstance(path, sqlite3.Connection):
            self._db, self._owned = path, False
        else:
            self._db, self._owned = connect(path), True
            stamp(self._db)
        self._db.executescript(SCHEMA)
        self._number, self._head = 0, GENESIS
        self.reread()
        self._keys: list[list[Any]] | None = None
        #: the rows of the current `batch`, written when it ends
        self._rows: list[tuple[int, float, str, str | None, bytes, bytes, bytes]] | None = None

    def reread(self) -> None:
        """Take the chain's end from the database: at the start, and after a transaction
        that failed once the entries were written (a COMMIT that failed)."""
        row = self._db.execute("SELECT number, hash FROM journal ORDER BY number DESC LIMIT 1")
        last = row.fetchone()
        self._number, self._head = (0, GENESIS) if last is None else (int(last[0]), bytes(last[1]))

    def close(self) -> None:
        """Close the database, if this journal opened it."""
        if self._owned:
            self._db.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Commit every entry appended inside the block together (one file write)."""
        return transaction(self._db)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Write the entries appended inside the block with one statement at its end
        (inside the caller's transaction, if the journal shares its connection: call
        it inside that transaction). If the block raises, none of them is written and
        the chain's head goes back to where it was."""
        if self._rows is not None:
            yield  # part of the enclosing batch
            return
        rows: list[tuple[int, float, str, str | None, bytes, bytes, bytes]] = []
        number, head, keys = self._number, self._head, self._keys
        self._rows = rows
        try:
            yield
        except BaseException:
            self._number, self._head, self._keys = number, head, keys
            raise
        finally:
            self._rows = None
        if rows:
            with transaction(self._db):
                self._db.executemany(INSERT, rows)

    @property
    def head(self) -> bytes:
        """The last entry's hash (32 zero bytes while empty)."""
        return self._head

    def __len__(self) -> int:
        return self._number

    def append(self, at: float, kind: str, incident: str | None, body: dict[str, Any]) -> Entry:
        """Add an entry at the end of the chain."""
        packed = msgpack.packb(body, use_bin_type=True)
        number = self._number + 1
        digest = entry_hash((number, at, kind, incident, packed, self._head))
        row = (number, at, kind, incident, packed, self._head, digest)
        if self._rows is not None:
            self._rows.append(row)
        else:
            self._db.execute(INSERT, row)
        entry = Entry(number, at, kind, incident, body, self._head, digest, packed)
        self._number, self._head = number, digest
        return entry

    def keys(self, at: float, keyring: Iterable[TrustedKey]) -> None:
        """Record the trusted public keys, unless they are the ones last recorded."""
        packed = pack_keys(keyring)
        if packed != self._keys:
            self.append(at, "keys", None, {"keys": packed})
            self._keys = packed


def version_number(version: tuple[int, int, int]) -> int:
    """SQLITE_VERSION_NUMBER of a version tuple (3.40.1 is 3040001)."""
    major, minor, patch = version
    return major * 1_000_000 + minor * 1_000 + patch


def stamp(db: sqlite3.Connection) -> None:
    """Mark a journal's own file: a journal's application id, and this library's version
    (`hotline.audit.filecheck` compares it with the writer's version in the header)."""
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {version_number(sqlite3.sqlite_version_info)}")


@contextlib.contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """The journal file at ``path``, opened read-only; SQLite's errors as JournalError."""
    if not path.is_file():
        raise NotReadable(f"{path}: no such file")
    with path.open("rb") as stream:
        start = stream.read(len(SQLITE_MAGIC))
    if not start:
        raise NotReadable(f"{path}: not a journal: the file is empty")
    if start != SQLITE_MAGIC:
        raise NotReadable(f"{path}: not a journal (no SQLite header)")
    try:
        db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            yield db
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: not a readable journal ({exc})") from None
    except UnicodeDecodeError:
        raise JournalError(f"{path}: not a readable journal (text that is not UTF-8)") from None


def keep_earlier(path: Path) -> Path | None:
    """Move a journal an earlier run left at ``path`` (with its write-ahead files) aside
    to the first free ``path.1``, ``path.2``...: a new run starts afresh and loses
    nothing, even a journal a killed post left behind. Returns where it went (None: there
    was none)."""
    if not path.exists():
        return None
    number = 1
    while any(_with(path, f".{number}{suffix}").exists() for suffix in _JOURNAL_FILES):
        number += 1
    kept = _with(path, f".{number}")
    for suffix in _JOURNAL_FILES:
        source = _with(path, suffix)
        if source.exists():
            source.rename(_with(kept, suffix))
    return kept


_JOURNAL_FILES = ("", "-wal", "-shm")


def _with(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def read_entries(path: Path) -> Iterator[Entry]:
    """Every entry of the journal at ``path``, in order, as stored (nothing checked).

    Raises:
        NotReadable: not a journal (no such file, or no SQLite header).
        JournalError: the file is damaged.
    """
    with reading(path) as db:
        rows = db.execute(SELECT)
        for row in rows:
            yield _entry(row)


def _entry(row: tuple[Any, ...]) -> Entry:
    number, at, kind, incident, body, prev, digest = row
    if not (
        isinstance(number, int)
        and isinstance(at, float)
        and isinstance(kind, str)
        and (incident is None or isinstance(incident, str))
        and isinstance(body, bytes)
        and isinstance(prev, bytes)
        and isinstance(digest, bytes)
    ):
        raise JournalError(f"entry {number}: a column has the wrong type", number)
    if not in_calendar(at):
        raise JournalError(f"entry {number}: its time {at!r} is no time (1970 to 9999)", number)
    if digest != entry_hash((number, at, kind, incident, body, prev)):
        raise JournalError(f"entry {number}: its hash does not match its content", number)
    try:
        decoded = msgpack.unpackb(body, raw=False)
    except MSGPACK_ERRORS:
        raise JournalError(f"entry {number}: the body is not msgpack", number) from None
    if not isinstance(decoded, dict):
        raise JournalError(f"entry {number}: the body is not a map", number)
    return Entry(number, at, kind, incident, decoded, prev, digest, body)
