"""Finding the `eventsourcing` library's tables in a SQLite file by their columns."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from webapp.sources.errors import ForeignStoreError

RECORD_COLUMNS = frozenset({"originator_id", "originator_version", "topic", "state"})
TRACKING_COLUMNS = frozenset({"application_name", "notification_id"})


@dataclass(frozen=True, slots=True)
class Tables:
    """The names of the tables found: events (with a rowid), snapshots, tracking."""

    events: str
    snapshots: str | None
    tracking: str | None


def quoted(name: str) -> str:
    """An identifier quoted for SQL."""
    return '"' + name.replace('"', '""') + '"'


def _columns(conn: sqlite3.Connection, table: str) -> frozenset[str]:
    return frozenset(row[1] for row in conn.execute(f"PRAGMA table_info({quoted(table)})"))


def _has_rowid(conn: sqlite3.Connection, table: str) -> bool:
    try:
        conn.execute(f"SELECT rowid FROM {quoted(table)} LIMIT 0")
    except sqlite3.OperationalError:
        return False
    return True


def _preferred(names: list[str], wanted: str) -> str | None:
    if wanted in names:
        return wanted
    return names[0] if names else None


def discover(conn: sqlite3.Connection, path: str) -> Tables:
    """The library's tables in `conn`; ForeignStoreError when it has no events table."""
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        columns = {name: _columns(conn, name) for name in names}
        records = [name for name in names if columns[name] >= RECORD_COLUMNS]
        with_rowid = [name for name in records if _has_rowid(conn, name)]
    except sqlite3.DatabaseError as exc:
        msg = f"{path} is not a SQLite database ({exc})"
        raise ForeignStoreError(msg) from exc
    events = _preferred(with_rowid, "stored_events")
    if events is None:
        msg = (
            f"{path} holds no eventsourcing events table "
            "(originator_id, originator_version, topic, state with a rowid)"
        )
        raise ForeignStoreError(msg)
    others = [name for name in records if name != events]
    snapshots = _preferred([name for name in others if "snapshot" in name], "stored_snapshots")
    trackers = [name for name in names if columns[name] >= TRACKING_COLUMNS]
    return Tables(events, snapshots, _preferred(trackers, "tracking"))
