"""The SQL both backends run, with `?` placeholders: column lists, reads and snapshot writes."""

from __future__ import annotations

from typing import Any

from webapp.store.filters import prefix_clause
from webapp.store.validation import check_limit

EVENT_COLUMNS = (
    "position, stream_id, stream_version, event_id, type, schema_version, data, metadata, "
    "recorded_at"
)
INSERT_COLUMNS = (
    "stream_id, stream_version, event_id, type, schema_version, data, metadata, "
    "correlation_id, actor, occurred_at, recorded_at"
)
STREAM_COLUMNS = "stream_id, version, created_at, updated_at"
SNAPSHOT_COLUMNS = "stream_id, version, snapshot_version, type, data, taken_at"
ID_BATCH = 500
"""Ids asked for in one `IN (...)` query."""

EVENT_AT = f"SELECT {EVENT_COLUMNS} FROM events WHERE position = ?"
HEAD_POSITION = "SELECT COALESCE(MAX(position), 0) FROM events"
COUNT_EVENTS = "SELECT COUNT(*) FROM events"
COUNT_STREAMS = "SELECT COUNT(*) FROM streams"
STREAM_INFO = f"SELECT {STREAM_COLUMNS} FROM streams WHERE stream_id = ?"
STREAM_PAYLOADS = (
    "SELECT stream_version, type, schema_version, data FROM events "
    "WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version"
)
SAVE_SNAPSHOT = (
    f"INSERT INTO snapshots ({SNAPSHOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (stream_id, version) DO UPDATE SET "
    "snapshot_version = excluded.snapshot_version, type = excluded.type, "
    "data = excluded.data, taken_at = excluded.taken_at"
)
LIST_SNAPSHOTS = f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE stream_id = ? ORDER BY version"
DELETE_SNAPSHOTS = "DELETE FROM snapshots WHERE stream_id = ?"


def marks(count: int) -> str:
    """`count` placeholders for an `IN (...)` list."""
    return ", ".join("?" * count)


def events_by_ids(count: int) -> str:
    return f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id IN ({marks(count)})"


def latest_snapshots(count: int) -> str:
    """The newest snapshot of each of `count` streams."""
    return (
        f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots s WHERE s.stream_id IN ({marks(count)}) "
        "AND s.version = (SELECT max(m.version) FROM snapshots m "
        "WHERE m.stream_id = s.stream_id)"
    )


def snapshot_at_most(stream_id: str, max_version: int | None) -> tuple[str, list[Any]]:
    """The newest snapshot of the stream at or below `max_version` (None: any)."""
    params: list[Any] = [stream_id]
    sql = f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE stream_id = ?"
    if max_version is not None:
        sql += " AND version <= ?"
        params.append(max_version)
    return sql + " ORDER BY version DESC LIMIT 1", params


def stream_page(
    columns: str, stream_id: str, from_version: int | None, limit: int | None, backward: bool
) -> tuple[str, list[Any]]:
    """A stream's events from `from_version` on (backward: from it down; None = the last)."""
    params: list[Any] = [stream_id]
    if backward:
        where = "stream_id = ?"
        if from_version is not None:
            where += " AND stream_version <= ?"
            params.append(from_version)
        order = "DESC"
    else:
        where = "stream_id = ? AND stream_version >= ?"
        params.append(1 if from_version is None else from_version)
        order = "ASC"
    sql = f"SELECT {columns} FROM events WHERE {where} ORDER BY stream_version {order}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(check_limit(limit))
    return sql, params


def payload_page(
    stream_id: str, from_version: int | None, limit: int | None
) -> tuple[str, list[Any]]:
    """(stream_version, type, schema_version, data) of a stream's events, ascending."""
    sql = STREAM_PAYLOADS
    params: list[Any] = [stream_id, 1 if from_version is None else from_version]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(check_limit(limit))
    return sql, params


def log_page(
    bound: str | None,
    position: int | None,
    order: str,
    limit: int,
    where: list[str],
    params: list[Any],
) -> tuple[str, list[Any]]:
    """One keyset page of the global log: `bound` on the position, then the filters' `where`."""
    if bound is not None:
        where.insert(0, bound)
        params.insert(0, position)
    params.append(check_limit(limit))
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return f"SELECT {EVENT_COLUMNS} FROM events {clause}ORDER BY position {order} LIMIT ?", params


def streams_page(prefix: str, after: str | None, limit: int) -> tuple[str, list[Any]]:
    """Streams in id order within `prefix`, after the id `after`."""
    where, params = prefix_clause(prefix)
    if after is not None:
        where.append("stream_id > ?")
        params.append(after)
    params.append(check_limit(limit))
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return f"SELECT {STREAM_COLUMNS} FROM streams {clause}ORDER BY stream_id LIMIT ?", params


def streams_by_activity_page(
    prefix: str, before: tuple[Any, str] | None, limit: int
) -> tuple[str, list[Any]]:
    """Streams newest-updated first within `prefix`, below the cursor (time param, stream id)."""
    where, params = prefix_clause(prefix)
    if before is not None:
        where.append("(updated_at, stream_id) < (?, ?)")
        params += list(before)
    params.append(check_limit(limit))
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    sql = (
        f"SELECT {STREAM_COLUMNS} FROM streams {clause}"
        "ORDER BY updated_at DESC, stream_id DESC LIMIT ?"
    )
    return sql, params
