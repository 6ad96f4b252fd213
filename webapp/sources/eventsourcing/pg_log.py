"""The global log by `notification_id`: pages filtered within a scan budget, single events,
the head and counts. Notification ids come from a sequence, so they may have gaps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from webapp.sources.eventsourcing.log import check_filters
from webapp.sources.eventsourcing.pg_database import ReadOnlyDatabase, Session
from webapp.sources.eventsourcing.pg_tables import StreamKeys, stream_id_of
from webapp.sources.eventsourcing.rows import (
    RowMapper,
    derived_event_id,
    in_time_range,
    type_name,
)
from webapp.store.filters import LogFilters
from webapp.store.reader import LogPage
from webapp.store.types import RecordedEvent

EVENT_COLUMNS: Final = "notification_id, originator_id, originator_version, topic, state"
"""The columns of an events row, in the order `RowMapper.event` takes them."""

BATCH: Final = 500


def event_of(rows: RowMapper, row: tuple[Any, ...]) -> RecordedEvent:
    """An events row (`EVENT_COLUMNS`) as the port's event."""
    position, originator_id, *rest = row
    return rows.event((position, stream_id_of(originator_id), *rest))


def types_where(types: Sequence[str] | str | None) -> tuple[list[str], list[Any]]:
    """Topics whose last segment (or the whole topic) is one of `types`."""
    if types is None:
        return [], []
    names = [types] if isinstance(types, str) else list(types)
    if not names:
        return ["1 = 0"], []
    tests, params = [], []
    for name in names:
        tests.append("(topic = ? OR right(topic, ?) IN (?, ?))")
        params += [name, len(name) + 1, f".{name}", f":{name}"]
    return [f"({' OR '.join(tests)})"], params


class PgLog:
    """The events table in notification-id order."""

    def __init__(
        self, db: ReadOnlyDatabase, events: str, keys: StreamKeys, rows: RowMapper
    ) -> None:
        self._db = db
        self._events = events
        self._keys = keys
        self._rows = rows

    def read(
        self,
        method: str,
        bound: int | None,
        limit: int,
        *,
        backward: bool,
        budget: int,
        filters: LogFilters,
    ) -> LogPage:
        """Events past `bound` (below it when `backward`; None: from the head), and where
        the read stopped. A filtered read looks only at notification ids within `budget` of
        the bound, so its page may be short, even empty, before the head: go on from
        `bound + budget` (or below `bound - budget`), as `resume_after` (`resume_before`)
        says."""
        check_filters(method, filters)
        where, params = self._keys.prefix_where(filters.get("stream_prefix") or "")
        type_where, type_params = types_where(filters.get("types"))
        where += type_where
        params += type_params
        since, until = filters.get("since"), filters.get("until")
        filtered = bool(where) or since is not None or until is not None
        with self._db.read() as session:
            head = self._head(session) if bound is None or (filtered and not backward) else 0
            if bound is None:
                bound = head + 1
            if limit <= 0:
                return LogPage([], exhausted=False, resume_after=bound, resume_before=bound)
            edge = bound - budget if backward else bound + budget
            if backward:
                where.insert(0, "notification_id < ?")
                params.insert(0, bound)
                if filtered:
                    where.append("notification_id >= ?")
                    params.append(edge)
            else:
                where.insert(0, "notification_id > ?")
                params.insert(0, bound)
                if filtered:
                    where.append("notification_id <= ?")
                    params.append(edge)
            sql = (
                f"SELECT {EVENT_COLUMNS} FROM {self._events} WHERE {' AND '.join(where)} "
                f"ORDER BY notification_id {'DESC' if backward else 'ASC'}"
            )
            if since is None and until is None:
                rows = session.rows(f"{sql} LIMIT ?", [*params, limit])
                events = [event_of(self._rows, row) for row in rows]
            else:
                events = self._timed(session, sql, params, limit, since, until)
        if len(events) >= limit:
            resume = events[-1].position
            return LogPage(
                events,
                exhausted=False,
                resume_after=None if backward else resume,
                resume_before=resume if backward else None,
            )
        if not filtered or (edge <= 1 if backward else edge >= head):
            return LogPage(events, exhausted=True)
        if backward:
            return LogPage(events, exhausted=False, resume_before=edge)
        return LogPage(events, exhausted=False, resume_after=edge)

    def _timed(
        self,
        session: Session,
        sql: str,
        params: list[Any],
        limit: int,
        since: datetime | None,
        until: datetime | None,
    ) -> list[RecordedEvent]:
        """Events in the window whose decoded time is in range (unknown times left out)."""
        found: list[RecordedEvent] = []
        for batch in session.batches(sql, params, BATCH):
            for row in batch:
                event = event_of(self._rows, row)
                if not in_time_range(event, since, until):
                    continue
                found.append(event)
                if len(found) >= limit:
                    return found
        return found

    def at(self, position: int) -> RecordedEvent | None:
        """The event with notification id `position`, if any."""
        with self._db.read() as session:
            rows = session.rows(
                f"SELECT {EVENT_COLUMNS} FROM {self._events} WHERE notification_id = ?",
                [int(position)],
            )
        return event_of(self._rows, rows[0]) if rows else None

    def by_id(self, event_id: uuid.UUID | str, *, budget: int) -> RecordedEvent | None:
        """The event whose derived id this is, among the first `budget` events by
        notification id (keys only; one payload read for the event found)."""
        try:
            wanted = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id))
        except ValueError:
            return None
        with self._db.read() as session:
            sql = (
                f"SELECT notification_id, originator_id, originator_version FROM {self._events} "
                "ORDER BY notification_id LIMIT ?"
            )
            for batch in session.batches(sql, [budget], BATCH * 10):
                for position, originator_id, version in batch:
                    if derived_event_id(stream_id_of(originator_id), int(version)) == wanted:
                        rows = session.rows(
                            f"SELECT {EVENT_COLUMNS} FROM {self._events} WHERE notification_id = ?",
                            [position],
                        )
                        return event_of(self._rows, rows[0]) if rows else None
        return None

    def _head(self, session: Session) -> int:
        return int(session.scalar(f"SELECT MAX(notification_id) FROM {self._events}") or 0)

    def head(self) -> int:
        """The highest notification id, 0 when the table is empty (ids may have gaps)."""
        with self._db.read() as session:
            return self._head(session)

    def count(self) -> int:
        """The number of events."""
        with self._db.read() as session:
            return int(session.scalar(f"SELECT COUNT(*) FROM {self._events}") or 0)

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type: one scan grouping by topic (no payload read)."""
        counts = dict.fromkeys(type_names, 0)
        with self._db.read() as session:
            grouped = session.rows(f"SELECT topic, COUNT(*) FROM {self._events} GROUP BY topic")
        for topic, count in grouped:
            name = type_name(str(topic))
            if name in counts:
                counts[name] += int(count)
        return counts
