"""Every byte of a journal file accounted for, not only its rows.

An SQLite file holds more than its rows: a 100-byte header, page headers, cell
pointers, b-tree dividers, and space SQLite allocated but does not read. A byte changed
there leaves every row as it was, so the hash chain cannot see it. But SQLite lays out
a table deterministically: the same library, given the same rows in the same order,
writes the same pages, byte for byte, whatever the transactions were. So `check_file`
builds the journal again in memory from the rows it read, with the settings every
journal file is written with (`hotline.audit.journal.stamp`), and compares the two
images. The header fields that differ between the two by nature are checked
against their own copies instead: the write-ahead-log flags (both 1 or both 2), the
change counter (its two copies agree), and the version of the library that last wrote
the file (equal to the one the journal stamped in ``user_version`` when opened).

The comparison needs the library that wrote the file: a file last written by another
SQLite version has its rows checked, and the report says why its bytes were not. A
journal kept in a post's store shares its file with the store's tables (the outbox
changes as the broker confirms), so there too only its rows are checked.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hotline.audit.journal import (
    APPLICATION_ID,
    INSERT,
    SCHEMA,
    SELECT,
    JournalError,
    reading,
    stamp,
    version_number,
)

#: the schema objects of a journal (a post's store holds these and its own tables)
OBJECTS = [("table", "journal"), ("trigger", "journal_no_update"), ("trigger", "journal_no_delete")]


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")


def check_file(path: Path) -> str | None:
    """Compare the journal file at ``path`` with the file its rows make (module doc).

    Returns:
        None when every byte was checked, or why the bytes were not compared (the
        rows of the journal are checked in any case, by the chain).

    Raises:
        JournalError: naming the first byte out of place.
    """
    wal = path.with_name(path.name + "-wal")
    if wal.is_file() and wal.stat().st_size:
        return "a write-ahead log beside it holds changes not yet in the file (a post writing?)"
    with reading(path) as db:
        data = path.read_bytes()
        if _u32(data, 68) == 0:  # not stamped: a post's store holding its journal?
            objects = db.execute("SELECT type, name FROM sqlite_master").fetchall()
            if set(OBJECTS) < set(objects):
                return "the file holds a post's store too"
        _check_header(path, data)
        ours = version_number(sqlite3.sqlite_version_info)
        if _u32(data, 60) != ours:
            return f"last written by SQLite {_version(_u32(data, 60))}, this is {_version(ours)}"
        image = _rebuild(db, int.from_bytes(data[16:18], "big"))
    expected = bytearray(image)
    for start, end in ((18, 20), (24, 28), (92, 100)):  # checked by _check_header
        expected[start:end] = data[start:end]
    if data != expected:
        offset = _first_difference(data, bytes(expected))
        page_size = len(image) // _u32(image, 28)
        raise JournalError(
            f"{path}: byte {offset} (page {offset // page_size + 1}) is not what SQLite "
            "writes for the journal's entries"
        )
    return None


def _first_difference(a: bytes, b: bytes, block: int = 4096) -> int:
    """The first offset where ``a`` and ``b`` differ (they do)."""
    start = 0
    while a[start : start + block] == b[start : start + block]:
        start += block
    end = min(start + block, len(a), len(b))
    return next((i for i in range(start, end) if a[i] != b[i]), end)


def _check_header(path: Path, data: bytes) -> None:
    """The fields that differ between a file and its image by nature agree with their
    own copies."""
    problems = (
        (18, data[18] not in (1, 2) or data[19] != data[18], "read and write versions differ"),
        (24, data[24:28] != data[92:96], "the two copies of the change counter differ"),
        (60, data[60:64] != data[96:100], "the writer's version differs from its stamp"),
        (68, _u32(data, 68) != APPLICATION_ID, "not a journal file's application id"),
    )
    for offset, wrong, reason in problems:
        if wrong:
            raise JournalError(f"{path}: byte {offset} (the header): {reason}")


def _rebuild(db: sqlite3.Connection, page_size: int) -> bytes:
    """The image of a journal file holding the rows of ``db``, written afresh."""
    image = sqlite3.connect(":memory:", isolation_level=None)
    try:
        image.execute(f"PRAGMA page_size = {65536 if page_size == 1 else page_size}")
        stamp(image)
        image.executescript(SCHEMA)
        image.execute("BEGIN")
        image.executemany(INSERT, db.execute(SELECT))
        image.execute("COMMIT")
        return image.serialize()
    finally:
        image.close()


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"
