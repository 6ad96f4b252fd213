"""Hot backups of SQLite databases (the store, the key store) while the service runs.

Copying a database file in WAL mode with `cp` can catch it between a commit and a
checkpoint: the copy may miss committed events or be corrupt. SQLite's online backup
API copies one consistent snapshot instead; writers are not blocked meanwhile (WAL).
The copy is created readable by its owner only, never over an existing file, and is
checked (`PRAGMA quick_check`) before it is reported as done.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from webapp.store.engine import SQLITE_BUSY_TIMEOUT_MS


class BackupError(Exception):
    """The backup could not be made; nothing is left behind at the destination."""


@dataclass(frozen=True)
class BackupCopy:
    path: Path
    size: int
    """Bytes."""


def backup_target(destination: Path, source: Path, stamp: datetime | None = None) -> Path:
    """The file to write: `destination` itself, or inside a `destination` folder a name
    made of the source's name and the UTC time (`eventscope-20261126T130501Z.db`)."""
    if destination.is_dir():
        when = (stamp or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return destination / f"{source.stem}-{when}{source.suffix or '.db'}"
    return destination


def back_up_sqlite(source: Path, target: Path) -> BackupCopy:
    """Copy the SQLite database `source` to the new file `target` as one consistent snapshot."""
    if not source.is_file():
        msg = f"there is no database file at {source}"
        raise BackupError(msg)
    if not target.parent.is_dir():
        msg = f"the folder {target.parent} does not exist"
        raise BackupError(msg)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        msg = f"{target} already exists; a backup never overwrites a file"
        raise BackupError(msg) from None
    os.close(descriptor)
    try:
        _copy(source, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return BackupCopy(target, target.stat().st_size)


def _copy(source: Path, target: Path) -> None:
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    src = sqlite3.connect(_read_only(source), uri=True, timeout=timeout)
    try:
        dst = sqlite3.connect(target, timeout=timeout)
        try:
            src.backup(dst)  # every page in one step: one read snapshot of the source
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            (verdict,) = dst.execute("PRAGMA quick_check").fetchone()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        msg = f"the copy of {source} failed: {exc}"
        raise BackupError(msg) from None
    finally:
        src.close()
    if verdict != "ok":
        msg = f"the copy of {source} does not pass SQLite's check: {verdict}"
        raise BackupError(msg)


def _read_only(database: Path) -> str:
    return f"{database.absolute().as_uri()}?mode=ro"


def event_summary(database: Path) -> tuple[int, int]:
    """How many events a store file holds, and its head position."""
    conn = sqlite3.connect(_read_only(database), uri=True)
    try:
        row = conn.execute("SELECT count(*), coalesce(max(position), 0) FROM events").fetchone()
    finally:
        conn.close()
    return row[0], row[1]
