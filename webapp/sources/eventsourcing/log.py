"""The global log by rowid: reads filtered by type, stream prefix and time within a scan budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from webapp.sources.eventsourcing.files import Database
from webapp.sources.eventsourcing.rows import (
    EVENT_COLUMNS,
    RowMapper,
    derived_event_id,
    in_time_range,
    type_name,
)
from webapp.sources.eventsourcing.streams import prefix_where
from webapp.store.filters import LogFilters, check_filter_names
from webapp.store.reader import LogPage
from webapp.store.types import RecordedEvent

SCAN_BUDGET: Final = 100_000
"""Rows a filtered global-log read (or an event-id lookup) examines at most per call."""

_UNSERVED: Final = (
    "correlation_id",
    "correlation_prefix",
    "actor",
    "data_equals",
    "older_schemas",
)
_BATCH: Final = 500


def check_filters(method: str, filters: LogFilters) -> None:
    """ValueError for an unknown filter name or one the library's rows cannot serve."""
    check_filter_names(method, filters)
    for name in _UNSERVED:
        if filters.get(name) is not None:
            msg = (
                f"{name!r} cannot filter an eventsourcing store: "
                "the library records no correlation ids, actors or searchable data"
            )
            raise ValueError(msg)


def log_where(filters: LogFilters) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for the `stream_prefix` and `types` filters."""
    where, params = prefix_where(filters.get("stream_prefix") or "")
    types = filters.get("types")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not names:
            where.append("1 = 0")
        else:
            tests = []
            for name in names:
                tests.append("(topic = ? OR substr(topic, ?) IN (?, ?))")
                params += [name, -(len(name) + 1), f".{name}", f":{name}"]
            where.append(f"({' OR '.join(tests)})")
    return where, params


class Log:
    """The events table in rowid (notification id) order: pages, single events, counts."""

    def __init__(self, db: Database, events: str, rows: RowMapper) -> None:
        self._db = db
        self._events = events
        self._rows = rows

    def read(
        self,
        method: str,
        bound: int,
        limit: int,
        *,
        backward: bool,
        budget: int,
        filters: LogFilters,
    ) -> list[RecordedEvent]:
        """Events past `bound` (below it when `backward`); a filtered read examines at most
        `budget` rows, so its page may be short."""
        check_filters(method, filters)
        where, params = log_where(filters)
        since, until = filters.get("since"), filters.get("until")
        filtered = bool(where) or since is not None or until is not None
        if backward:
            where.insert(0, "rowid < ?")
            params.insert(0, bound)
            if filtered:
                where.append("rowid >= ?")
                params.append(bound - budget)
        else:
            where.insert(0, "rowid > ?")
            params.insert(0, bound)
            if filtered:
                where.append("rowid <= ?")
                params.append(bound + budget)
        sql = (
            f"SELECT {EVENT_COLUMNS} FROM {self._events} WHERE {' AND '.join(where)} "
            f"ORDER BY rowid {'DESC' if backward else 'ASC'}"
        )
        if since is None and until is None:
            rows = self._db.rows(f"{sql} LIMIT ?", [*params, limit])
            return [self._rows.event(row) for row in rows]
        return self._timed(sql, params, limit, since, until)

    def page(
        self,
        method: str,
        bound: int,
        limit: int,
        *,
        backward: bool,
        budget: int,
        filters: LogFilters,
        head: int,
    ) -> LogPage:
        """`read`, saying where it stopped: a filtered read examines the `budget` rowids past
        `bound`, and a short page before the end of the log goes on from there."""
        events = self.read(method, bound, limit, backward=backward, budget=budget, filters=filters)
        filtered = any(value is not None for value in filters.values())
        if events and len(events) >= limit:
            edge = events[-1].position
            if backward:
                return LogPage(events, exhausted=False, resume_before=edge)
            return LogPage(events, exhausted=False, resume_after=edge)
        if not filtered:
            return LogPage(events, exhausted=True)
        if backward:
            low = bound - budget
            return LogPage(events, exhausted=low <= 1, resume_before=max(low, 1))
        high = bound + budget
        return LogPage(events, exhausted=high >= head, resume_after=min(high, head))

    def _timed(
        self,
        sql: str,
        params: list[Any],
        limit: int,
        since: datetime | None,
        until: datetime | None,
    ) -> list[RecordedEvent]:
        """Events in the scan window whose decoded time is in range (unknown times left out),
        fetched in batches so the window is never held in memory at once."""
        found: list[RecordedEvent] = []
        if limit <= 0:
            return found
        with self._db.cursor(sql, params) as cursor:
            while batch := cursor.fetchmany(_BATCH):
                for row in batch:
                    event = self._rows.event(row)
                    if not in_time_range(event, since, until):
                        continue
                    found.append(event)
                    if len(found) >= limit:
                        return found
        return found

    def at(self, position: int) -> RecordedEvent | None:
        """The event at rowid `position`, if any."""
        rows = self._db.rows(
            f"SELECT {EVENT_COLUMNS} FROM {self._events} WHERE rowid = ?", [position]
        )
        return self._rows.event(rows[0]) if rows else None

    def by_id(self, event_id: uuid.UUID | str, *, budget: int) -> RecordedEvent | None:
        """The event whose derived id this is, among the first `budget` keys (no payload read)."""
        try:
            wanted = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id))
        except ValueError:
            return None
        keys = self._db.rows(
            f"SELECT originator_id, originator_version FROM {self._events} LIMIT ?", [budget]
        )
        for originator_id, version in keys:
            if derived_event_id(str(originator_id), int(version)) == wanted:
                rows = self._db.rows(
                    f"SELECT {EVENT_COLUMNS} FROM {self._events} "
                    "WHERE originator_id = ? AND originator_version = ?",
                    [originator_id, version],
                )
                return self._rows.event(rows[0]) if rows else None
        return None

    def head(self) -> int:
        """The highest rowid, 0 when the table is empty."""
        return int(self._db.scalar(f"SELECT MAX(rowid) FROM {self._events}") or 0)

    def count(self) -> int:
        """The number of events."""
        return int(self._db.scalar(f"SELECT COUNT(*) FROM {self._events}") or 0)

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type: one scan of the table grouping by topic (no payload read)."""
        counts = dict.fromkeys(type_names, 0)
        for topic, count in self._db.rows(
            f"SELECT topic, COUNT(*) FROM {self._events} GROUP BY topic"
        ):
            name = type_name(str(topic))
            if name in counts:
                counts[name] += int(count)
        return counts
