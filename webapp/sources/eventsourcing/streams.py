"""Streams: listed by id or by activity (with its cursor), a stream's info and its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.sources.eventsourcing.files import Database
from webapp.sources.eventsourcing.rows import EVENT_COLUMNS, RowMapper, utc
from webapp.store.filters import prefix_clause
from webapp.store.types import RecordedEvent, StreamInfo


def prefix_where(prefix: str) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) keeping the stream ids that start with `prefix`."""
    return prefix_clause(prefix, "originator_id")


class Streams:
    """The events table grouped by `originator_id`, read over its primary-key index."""

    def __init__(self, db: Database, events: str, rows: RowMapper) -> None:
        self._db = db
        self._events = events
        self._rows = rows

    def _time_of(self, originator_id: str, version: int) -> datetime:
        blob = self._db.scalar(
            f"SELECT state FROM {self._events} WHERE originator_id = ? AND originator_version = ?",
            [originator_id, version],
        )
        return self._rows.recorded_at(blob)

    def _info(self, originator_id: str, first: int, last: int) -> StreamInfo:
        return StreamInfo(
            stream_id=originator_id,
            version=last,
            created_at=self._time_of(originator_id, first),
            updated_at=self._time_of(originator_id, last),
        )

    def by_id(self, prefix: str, after: str | None, limit: int) -> list[StreamInfo]:
        """Streams in id order after `after`; two payload decodes per stream listed."""
        where, params = prefix_where(prefix)
        if after is not None:
            where.append("originator_id > ?")
            params.append(after)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.rows(
            f"SELECT originator_id, MIN(originator_version), MAX(originator_version) "
            f"FROM {self._events} {clause} GROUP BY originator_id ORDER BY originator_id LIMIT ?",
            [*params, max(0, limit)],
        )
        return [self._info(str(oid), first, last) for oid, first, last in rows]

    def by_activity(
        self, prefix: str, before: tuple[datetime, str] | None, limit: int, *, budget: int
    ) -> list[StreamInfo]:
        """Streams by their newest rowid, descending, below the cursor `before`.

        A cursor naming a stream continues below that stream's newest rowid; one naming
        none is compared by (updated_at, stream_id), decoding up to `budget` streams.
        """
        where, params = prefix_where(prefix)
        having, having_params, cursor, below = "", [], None, None
        if before is not None:
            cursor_row = self._db.scalar(
                f"SELECT MAX(rowid) FROM {self._events} WHERE originator_id = ?", [before[1]]
            )
            if cursor_row is None:
                cursor = (utc(before[0]), before[1])
            else:
                having, having_params, below = "HAVING MAX(rowid) < ?", [cursor_row], cursor_row
        if cursor is None:
            recent = self._newest_rows(where, params, below, max(0, limit), budget)
            if recent is not None:
                return [self._info(str(oid), first, last) for oid, first, last in recent]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.rows(
            f"SELECT originator_id, MIN(originator_version), MAX(originator_version) "
            f"FROM {self._events} {clause} GROUP BY originator_id {having} "
            "ORDER BY MAX(rowid) DESC LIMIT ?",
            [*params, *having_params, max(0, limit) if cursor is None else budget],
        )
        if cursor is None:
            return [self._info(str(oid), first, last) for oid, first, last in rows]
        found: list[StreamInfo] = []
        for oid, first, last in rows:
            info = self._info(str(oid), first, last)
            if (info.updated_at, info.stream_id) < cursor:
                found.append(info)
                if len(found) >= limit:
                    break
        return found

    def _newest_rows(
        self, where: list[str], params: list[Any], below: int | None, limit: int, budget: int
    ) -> list[tuple[Any, int, int]] | None:
        """(id, first version, last version) of the streams whose newest rows come first
        below rowid `below` (None: the head), walking at most `budget` rowids down.

        A stream's newest row is the one holding its highest version (its versions are
        appended in order), so each stream is met once. None when the walk ends short of
        `limit` streams before reaching the first row: the caller groups the whole table.
        """
        top = int(self._db.scalar(f"SELECT MAX(rowid) FROM {self._events}") or 0) + 1
        bound = top if below is None else min(below, top)
        floor = bound - budget
        conditions = ["e.rowid < ?", "e.rowid >= ?", *where]
        versions = f"originator_version) FROM {self._events} WHERE originator_id = e.originator_id"
        rows = self._db.rows(
            f"SELECT e.originator_id, (SELECT MIN({versions}), e.originator_version"
            f" FROM {self._events} e WHERE {' AND '.join(conditions)}"
            f" AND e.originator_version = (SELECT MAX({versions})"
            " ORDER BY e.rowid DESC LIMIT ?",
            [bound, floor, *params, limit],
        )
        if len(rows) < limit and floor > 1:
            return None
        return rows

    def info(self, stream_id: str) -> StreamInfo | None:
        """The stream's version and first and last times; None when it has no events."""
        rows = self._db.rows(
            f"SELECT MIN(originator_version), MAX(originator_version) FROM {self._events} "
            "WHERE originator_id = ?",
            [stream_id],
        )
        if not rows or rows[0][1] is None:
            return None
        return self._info(stream_id, rows[0][0], rows[0][1])

    def read(
        self, stream_id: str, from_version: int | None, limit: int | None, backward: bool
    ) -> list[RecordedEvent]:
        """The stream's events from `from_version` (up to it when `backward`)."""
        where = ["originator_id = ?"]
        params: list[Any] = [stream_id]
        if from_version is not None:
            where.append("originator_version <= ?" if backward else "originator_version >= ?")
            params.append(from_version)
        order = "DESC" if backward else "ASC"
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM {self._events} WHERE {' AND '.join(where)} "
            f"ORDER BY originator_version {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        return [self._rows.event(row) for row in self._db.rows(sql, params)]

    def count(self) -> int:
        """The number of distinct stream ids."""
        return int(
            self._db.scalar(f"SELECT COUNT(DISTINCT originator_id) FROM {self._events}") or 0
        )
