"""Opening an `eventsourcing` SQLite file read-only (`immutable=1`) and querying it under a lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from webapp.sources.errors import ForeignStoreError


def open_read_only(path: str | Path) -> sqlite3.Connection:
    """A connection that never writes, locks or leaves `-wal`/`-shm` files (`immutable=1`)."""
    file = Path(path)
    if not file.is_file():
        msg = f"{file} is not a file"
        raise ForeignStoreError(msg)
    uri = f"file:{quote(str(file.resolve()))}?mode=ro&immutable=1"
    try:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        msg = f"{file} cannot be opened as SQLite ({exc})"
        raise ForeignStoreError(msg) from exc


def wal_pending(path: Path) -> bool:
    """A non-empty `-wal` file lies beside `path`: its commits are not read by an immutable open."""
    wal = path.with_name(f"{path.name}-wal")
    try:
        return wal.stat().st_size > 0
    except OSError:
        return False


class Database:
    """One read-only connection shared between threads: every query runs under its lock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row `sql` returns."""
        with self._lock:
            return self._conn.execute(sql, list(params)).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row `sql` returns, or None when it returns none."""
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def cursor(self, sql: str, params: Sequence[Any] = ()) -> Iterator[sqlite3.Cursor]:
        """A cursor over `sql` to fetch from in batches; the lock is held until the block ends."""
        with self._lock:
            cursor = self._conn.execute(sql, list(params))
            try:
                yield cursor
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
