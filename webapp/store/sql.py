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

LOG_COLUMNS = ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(","))
"""EVENT_COLUMNS of the log aliased `e`."""
INDEXED_LOG = "events e JOIN event_index i ON e.position = i.position"
"""The log joined to the index table (rows up to the index mark)."""

EVENT_AT = f"SELECT {EVENT_COLUMNS} FROM events WHERE position = ?"
HEAD_POSITION = "SELECT COALESCE(MAX(position), 0) FROM events"
COUNT_EVENTS = "SELECT COUNT(*) FROM events"
INDEX_MARK = "SELECT position FROM index_progress WHERE name = 'events'"
COUNT_STREAMS = "SELECT COUNT(*) FROM streams"
INDEXED_STREAMS_AT = f"SELECT {STREAM_COLUMNS} FROM streams WHERE stream_id IN "
# A stream's version and times straight from the log (its unique index): exact at once.
STREAM_INFO = (
    "SELECT l.stream_id, l.stream_version, f.recorded_at, l.recorded_at FROM events l "
    "JOIN events f ON f.stream_id = l.stream_id AND f.stream_version = 1 "
    "WHERE l.stream_id = ? ORDER BY l.stream_version DESC LIMIT 1"
)
STREAM_VERSION = "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?"
# The streams the log holds beyond the index mark: what the streams table lacks so far.
TAIL_STREAMS = (
    "SELECT g.stream_id, g.version, f.recorded_at, l.recorded_at "
    "FROM (SELECT stream_id, MAX(stream_version) AS version FROM events "
    "WHERE position > ? GROUP BY stream_id) g "
    "JOIN events l ON l.stream_id = g.stream_id AND l.stream_version = g.version "
    "JOIN events f ON f.stream_id = g.stream_id AND f.stream_version = 1"
)
NEW_TAIL_STREAMS = (
    "SELECT COUNT(DISTINCT t.stream_id) FROM events t WHERE t.position > ? "
    "AND NOT EXISTS (SELECT 1 FROM streams s WHERE s.stream_id = t.stream_id)"
)
COUNT_INDEXED_TYPE = "SELECT COUNT(*) FROM event_index WHERE type = ? AND position <= ?"
COUNT_TAIL_TYPE = "SELECT COUNT(*) FROM events WHERE type = ? AND position > ?"
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
    """Events by id (the `count` ids given twice): found through the index up to its mark,
    and in the log itself beyond it, in one statement (one snapshot)."""
    ids = marks(count)
    return (
        f"SELECT {LOG_COLUMNS} FROM {INDEXED_LOG} WHERE i.event_id IN ({ids}) "
        f"AND i.position <= ({INDEX_MARK}) UNION ALL SELECT {LOG_COLUMNS} FROM events e "
        f"WHERE e.position > ({INDEX_MARK}) AND e.event_id IN ({ids})"
    )


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
    bounds: list[tuple[str, int]],
    order: str,
    limit: int,
    where: list[str],
    params: list[Any],
    *,
    indexed: bool = False,
) -> tuple[str, list[Any]]:
    """One keyset page of the global log: `bounds` on the position (conditions written on
    `position`), then the filters' `where`; `indexed` reads through the index table."""
    alias = "i" if indexed else "e"
    where = [f"{alias}.{condition}" for condition, _ in bounds] + where
    params = [value for _, value in bounds] + params + [check_limit(limit)]
    source = INDEXED_LOG if indexed else "events e"
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    query = f"SELECT {LOG_COLUMNS} FROM {source} {clause}ORDER BY {alias}.position {order} LIMIT ?"
    return query, params


def streams_page(prefix: str, after: str | None, limit: int) -> tuple[str, list[Any]]:
    """Streams in id order within `prefix`, after the id `after`."""
    where, params = prefix_clause(prefix)
    if after is not None:
        where.append("stream_id > ?")
        params.append(after)
    params.append(check_limit(limit))
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return f"SELECT {STREAM_COLUMNS} FROM streams {clause}ORDER BY stream_id LIMIT ?", params


def streams_at_page(
    position: int, prefix: str, after: str | None, limit: int
) -> tuple[str, list[Any]]:
    """Streams in id order within `prefix`, after the id `after`, as the log stood at
    `position`: each stream with an event at or before it, its version and its first and
    last recorded times then (read from the log itself, not the `streams` table)."""
    where, params = prefix_clause(prefix)
    where.append("position <= ?")
    params.append(position)
    if after is not None:
        where.append("stream_id > ?")
        params.append(after)
    params.append(check_limit(limit))
    query = (
        "SELECT g.stream_id, g.version, f.recorded_at, l.recorded_at "
        "FROM (SELECT stream_id, MAX(stream_version) AS version FROM events "
        f"WHERE {' AND '.join(where)} GROUP BY stream_id ORDER BY stream_id LIMIT ?) g "
        "JOIN events l ON l.stream_id = g.stream_id AND l.stream_version = g.version "
        "JOIN events f ON f.stream_id = g.stream_id AND f.stream_version = 1 "
        "ORDER BY g.stream_id"
    )
    return query, params


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
