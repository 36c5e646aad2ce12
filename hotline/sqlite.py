"""SQLite as hotline's files use it: autocommit connections, explicit transactions."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (or create) a database in autocommit mode with a write-ahead log."""
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """Commit every write inside the block together, or none if it raises.

    Nested blocks are part of the enclosing transaction.
    """
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        # a COMMIT that failed may leave the transaction open (SQLITE_BUSY): what
        # follows must not nest inside it and never be committed
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
