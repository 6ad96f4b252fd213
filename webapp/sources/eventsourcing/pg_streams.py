"""Streams in PostgreSQL: listed by id or by activity, a stream's info and its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from webapp.sources.eventsourcing.pg_database import ReadOnlyDatabase, Session
from webapp.sources.eventsourcing.pg_log import EVENT_COLUMNS, event_of
from webapp.sources.eventsourcing.pg_tables import StreamKeys, stream_id_of
from webapp.sources.eventsourcing.rows import RowMapper, utc
from webapp.store.types import RecordedEvent, StreamInfo


class PgStreams:
    """The events table by `originator_id`, read over its primary key and `notification_id`."""

    def __init__(
        self, db: ReadOnlyDatabase, events: str, keys: StreamKeys, rows: RowMapper
    ) -> None:
        self._db = db
        self._events = events
        self._keys = keys
        self._rows = rows

    def _page(
        self,
        session: Session,
        where: list[str],
        params: list[Any],
        *,
        having: str = "",
        order: str = "originator_id",
        limit: int,
    ) -> list[StreamInfo]:
        """Streams grouped from the events `where` keeps, in `order` (a column of the
        grouping: `originator_id` or `newest DESC`)."""
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        grouped = (
            "SELECT originator_id, MIN(originator_version) AS first,"
            " MAX(originator_version) AS last, MAX(notification_id) AS newest"
            f" FROM {self._events} {clause} GROUP BY originator_id {having}"
            f" ORDER BY {order} LIMIT ?"
        )
        return self._infos(session, grouped, [*params, max(0, limit)], order)

    def _infos(
        self, session: Session, streams: str, params: list[Any], order: str
    ) -> list[StreamInfo]:
        """The streams the query `streams` selects (`originator_id`, `first` and `last`
        version, `newest` notification id), in `order`, each with the states of its first
        and last events fetched in the same statement over the primary key."""
        rows = session.rows(
            "SELECT g.originator_id, g.first, g.last, f.state, l.state"
            f" FROM ({streams}) g"
            f" JOIN {self._events} f"
            " ON f.originator_id = g.originator_id AND f.originator_version = g.first"
            f" JOIN {self._events} l"
            " ON l.originator_id = g.originator_id AND l.originator_version = g.last"
            f" ORDER BY g.{order}",
            params,
        )
        return [
            StreamInfo(
                stream_id=stream_id_of(key),
                version=int(last),
                created_at=self._rows.recorded_at(first_state),
                updated_at=self._rows.recorded_at(last_state),
            )
            for key, _first, last, first_state, last_state in rows
        ]

    def _newest_rows(
        self,
        session: Session,
        where: list[str],
        params: list[Any],
        below: int | None,
        limit: int,
        budget: int,
    ) -> list[StreamInfo] | None:
        """The streams whose newest rows come first below notification id `below` (None:
        the head), walking at most `budget` ids down the `notification_id` index.

        A stream's newest row is the one no higher version of the stream follows (its
        versions are appended in order), so each stream is met once. None when the walk
        ends short of `limit` streams above the lowest id: the caller groups the table.
        """
        low, high = session.rows(
            f"SELECT MIN(notification_id), MAX(notification_id) FROM {self._events}"
        )[0]
        if high is None:
            return []
        bound = int(high) + 1 if below is None else min(int(below), int(high) + 1)
        floor = bound - budget
        conditions = ["e.notification_id < ?", "e.notification_id >= ?", *where]
        newest = (
            "SELECT e.originator_id, (SELECT MIN(m.originator_version)"
            f" FROM {self._events} m WHERE m.originator_id = e.originator_id) AS first,"
            " e.originator_version AS last, e.notification_id AS newest"
            f" FROM {self._events} e WHERE {' AND '.join(conditions)}"
            f" AND NOT EXISTS (SELECT 1 FROM {self._events} n"
            " WHERE n.originator_id = e.originator_id"
            " AND n.originator_version > e.originator_version)"
            " ORDER BY e.notification_id DESC LIMIT ?"
        )
        found = self._infos(session, newest, [bound, floor, *params, limit], "newest DESC")
        if len(found) < limit and floor > int(low):
            return None
        return found

    def by_id(self, prefix: str, after: str | None, limit: int) -> list[StreamInfo]:
        """Streams in id order after `after`, in one statement; two payload decodes each."""
        where, params = self._keys.prefix_where(prefix)
        if after is not None:
            condition, after_params = self._keys.after_where(after)
            where.append(condition)
            params += after_params
        with self._db.read() as session:
            return self._page(session, where, params, limit=limit)

    def by_activity(
        self, prefix: str, before: tuple[datetime, str] | None, limit: int, *, budget: int
    ) -> list[StreamInfo]:
        """Streams by their newest notification id, descending, below the cursor `before`.

        The newest rows are walked down from the head (or from the cursor's stream) over
        at most `budget` ids; a walk that ends short of a page groups the whole table. A
        cursor naming a stream continues below that stream's newest notification id; one
        naming none is compared by (updated_at, stream_id), decoding up to `budget`
        streams."""
        where, params = self._keys.prefix_where(prefix)
        with self._db.read() as session:
            having, cursor, below = "", None, None
            if before is not None:
                key = self._keys.key(before[1])
                cursor_row = None
                if key is not None:
                    cursor_row = session.scalar(
                        f"SELECT MAX(notification_id) FROM {self._events} WHERE originator_id = ?",
                        [key],
                    )
                if cursor_row is None:
                    cursor = (utc(before[0]), before[1])
                else:
                    below = int(cursor_row)
            if cursor is None:
                recent = self._newest_rows(session, where, params, below, max(0, limit), budget)
                if recent is not None:
                    return recent
                if below is not None:
                    having = "HAVING MAX(notification_id) < ?"
                    params.append(below)
                return self._page(
                    session, where, params, having=having, order="newest DESC", limit=limit
                )
            found: list[StreamInfo] = []
            for info in self._page(session, where, params, order="newest DESC", limit=budget):
                if (info.updated_at, info.stream_id) < cursor:
                    found.append(info)
                    if len(found) >= limit:
                        break
            return found

    def info(self, stream_id: str) -> StreamInfo | None:
        """The stream's version and first and last times; None when it has no events."""
        key = self._keys.key(stream_id)
        if key is None:
            return None
        with self._db.read() as session:
            found = self._page(session, ["originator_id = ?"], [key], limit=1)
        return found[0] if found else None

    def read(
        self, stream_id: str, from_version: int | None, limit: int | None, backward: bool
    ) -> list[RecordedEvent]:
        """The stream's events from `from_version` (up to it when `backward`)."""
        key = self._keys.key(stream_id)
        if key is None:
            return []
        where = ["originator_id = ?"]
        params: list[Any] = [key]
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
        with self._db.read() as session:
            return [event_of(self._rows, row) for row in session.rows(sql, params)]

    def count(self) -> int:
        """The number of distinct stream ids."""
        with self._db.read() as session:
            return int(
                session.scalar(f"SELECT COUNT(DISTINCT originator_id) FROM {self._events}") or 0
            )
