"""Events of Commanded's EventStore: one stream, `$all` with budgeted filters, lookups."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Unpack

import sqlalchemy as sa

from webapp.sources.commanded.payloads import decode_cell
from webapp.sources.commanded.schema import (
    ALL_STREAM_ID,
    ELIXIR_PREFIX,
    EventStoreTables,
    as_uuid,
    aware,
    display_type,
    stored_type_names,
    utc,
)
from webapp.sources.port import LogPage
from webapp.store.filters import (
    LogFilters,
    check_data_field_name,
    check_filter_names,
    check_id_prefix,
)
from webapp.store.types import RecordedEvent


class EventReads(EventStoreTables):
    """Reads of events: a stream's, the global log's (filtered within the scan budget), one
    by position or by id, a correlation's."""

    def _select(self, number_from: str) -> str:
        """Events with the columns `_event` reads; `number_from` names the alias whose
        stream_version is the global position (`se` in `$all`, `a` elsewhere)."""
        t = self._t
        return (
            "SELECT se.stream_version AS number, se.stream_id, se.original_stream_id,"
            " se.original_stream_version, o.stream_uuid AS original_uuid,"
            f" {number_from}.stream_version AS position,"
            " e.event_id, e.event_type, e.causation_id, e.correlation_id, e.data,"
            " e.metadata, e.created_at"
            f" FROM {t['stream_events']} se"
            f" JOIN {t['events']} e ON e.event_id = se.event_id"
            f" JOIN {t['streams']} o ON o.stream_id = se.original_stream_id"
        )

    def _event(self, row: Any, stream_uuid: str | None = None) -> RecordedEvent:
        metadata = decode_cell(row.metadata, self.column_type)
        metadata["event_type"] = row.event_type
        if row.correlation_id is not None:
            metadata["correlation_id"] = str(row.correlation_id)
        if row.causation_id is not None:
            metadata["causation_id"] = str(row.causation_id)
        if stream_uuid is None:  # read from $all: the original stream
            stream_id, version = row.original_uuid, int(row.original_stream_version)
        else:
            stream_id, version = stream_uuid, int(row.number)
            if row.stream_id != row.original_stream_id:
                metadata["linked_from"] = {
                    "stream_id": row.original_uuid,
                    "stream_version": int(row.original_stream_version),
                }
        return RecordedEvent(
            position=int(row.position or 0),
            stream_id=stream_id,
            stream_version=version,
            event_id=row.event_id,
            type=display_type(row.event_type),
            schema_version=1,
            data=decode_cell(row.data, self.column_type),
            metadata=metadata,
            recorded_at=utc(row.created_at),
        )

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        """A stream's events, linked ones included (marked `linked_from`), by its version."""
        t = self._t
        sql = (
            self._select("a")
            + f" LEFT JOIN {t['stream_events']} a"
            + f" ON a.event_id = se.event_id AND a.stream_id = {ALL_STREAM_ID}"
            + f" WHERE se.stream_id = (SELECT stream_id FROM {t['streams']}"
            + " WHERE stream_uuid = :uuid AND stream_id <> 0)"
        )
        params: dict[str, Any] = {"uuid": stream_id}
        if from_version is not None:
            sql += " AND se.stream_version " + ("<= :version" if backward else ">= :version")
            params["version"] = int(from_version)
        sql += " ORDER BY se.stream_version " + ("DESC" if backward else "ASC")
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = max(0, int(limit))
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql), params).all()
        return [self._event(row, stream_id) for row in rows]

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """`$all` after `after`, ascending; filtered reads look at most `scan_budget`
        positions (see `read_all_page`)."""
        check_filter_names("read_all", filters)
        return self.read_all_page(after, limit=limit, **filters).events

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        check_filter_names("read_all_backward", filters)
        return self.read_all_backward_page(before, limit=limit, **filters).events

    def read_all_page(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage:
        """`$all` events after `after`, ascending, and where a filtered scan stopped."""
        check_filter_names("read_all_page", filters)
        where, params = self._filter_where(filters)
        limit = max(0, int(limit))
        with self.read_transaction() as conn:
            head = self._head(conn)
            low = max(0, int(after))
            high = head if not where else min(head, low + self.scan_budget)
            rows = self._log_rows(conn, where, params, low, high + 1, limit, backward=False)
        events = [self._event(row) for row in rows]
        if len(events) == limit and events:
            return LogPage(events, exhausted=False, resume_after=events[-1].position)
        return LogPage(events, exhausted=high >= head, resume_after=high)

    def read_all_backward_page(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage:
        """`$all` events before `before` (None: from the head), descending, and where a
        filtered scan stopped."""
        check_filter_names("read_all_backward_page", filters)
        where, params = self._filter_where(filters)
        limit = max(0, int(limit))
        with self.read_transaction() as conn:
            head = self._head(conn)
            high = head + 1 if before is None else min(int(before), head + 1)
            low = 0 if not where else max(0, high - 1 - self.scan_budget)
            rows = self._log_rows(conn, where, params, low, high, limit, backward=True)
        events = [self._event(row) for row in rows]
        if len(events) == limit and events:
            return LogPage(events, exhausted=False, resume_before=events[-1].position)
        return LogPage(events, exhausted=low <= 0, resume_before=low + 1)

    def _log_rows(
        self,
        conn: sa.Connection,
        where: list[str],
        params: dict[str, Any],
        low: int,
        high: int,
        limit: int,
        *,
        backward: bool,
    ) -> list[Any]:
        """`$all` rows with low < position < high that match `where`."""
        sql = (
            self._select("se")
            + f" WHERE se.stream_id = {ALL_STREAM_ID}"
            + " AND se.stream_version > :low AND se.stream_version < :high"
        )
        for condition in where:
            sql += f" AND {condition}"
        sql += " ORDER BY se.stream_version " + ("DESC" if backward else "ASC") + " LIMIT :limit"
        return conn.execute(
            sa.text(sql), {**params, "low": low, "high": high, "limit": limit}
        ).all()

    def _filter_where(self, filters: LogFilters) -> tuple[list[str], dict[str, Any]]:
        where: list[str] = []
        params: dict[str, Any] = {}
        if filters.get("actor") is not None:
            msg = "Commanded's EventStore records no actor: the actor filter cannot be served"
            raise ValueError(msg)
        types = filters.get("types")
        if types is not None:
            names = [types] if isinstance(types, str) else list(types)
            where.append("e.event_type = ANY(:types)")
            params["types"] = stored_type_names(names)
        prefix = filters.get("stream_prefix")
        if prefix:
            where.append("starts_with(o.stream_uuid, :prefix)")
            params["prefix"] = prefix
        correlation_id = filters.get("correlation_id")
        if correlation_id is not None:
            parsed = as_uuid(correlation_id)
            if parsed is None:
                where.append("false")  # the column holds uuids only
            else:
                where.append("e.correlation_id = :correlation_id")
                params["correlation_id"] = parsed
        correlation_prefix = filters.get("correlation_prefix")
        if correlation_prefix is not None:
            # uuids as canonical lowercase text; no index on the column either way
            where.append("starts_with(e.correlation_id::text, :correlation_prefix)")
            params["correlation_prefix"] = check_id_prefix(correlation_prefix).lower()
        since = filters.get("since")
        if since is not None:
            where.append("e.created_at >= :since")
            params["since"] = aware(since)
        until = filters.get("until")
        if until is not None:
            where.append("e.created_at < :until")
            params["until"] = aware(until)
        data_equals = filters.get("data_equals")
        if data_equals is not None:
            if self.column_type != "jsonb":
                msg = (
                    "a payload filter needs the jsonb column type; this store keeps"
                    f" {self.column_type} payloads, which SQL cannot look into"
                )
                raise ValueError(msg)
            name, value = data_equals
            check_data_field_name(name)
            match = "(e.data ->> :field) = :field_text"
            params.update(field=name, field_text=str(value))
            older_schemas = filters.get("older_schemas") or {}
            older = [name for name, version in older_schemas.items() if version > 1]
            if older:  # every event here is schema version 1
                match += " OR e.event_type = ANY(:older_types)"
                params["older_types"] = stored_type_names(older)
            where.append(f"({match})")
        return where, params

    def get_event(self, position: int) -> RecordedEvent | None:
        sql = (
            self._select("se")
            + f" WHERE se.stream_id = {ALL_STREAM_ID} AND se.stream_version = :position"
        )
        with self.read_transaction() as conn:
            row = conn.execute(sa.text(sql), {"position": int(position)}).first()
        return None if row is None else self._event(row)

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        parsed = as_uuid(event_id)
        if parsed is None:
            return None
        sql = self._select("se") + f" WHERE se.stream_id = {ALL_STREAM_ID} AND se.event_id = :id"
        with self.read_transaction() as conn:
            row = conn.execute(sa.text(sql), {"id": parsed}).first()
        return None if row is None else self._event(row)

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        """The events of one correlation, oldest first: one pass over `events` (no index
        serves it), bounded by the statement timeout."""
        parsed = as_uuid(correlation_id)
        if parsed is None:
            return []
        sql = (
            self._select("se")
            + f" WHERE se.stream_id = {ALL_STREAM_ID} AND se.event_id IN"
            + f" (SELECT event_id FROM {self._t['events']} WHERE correlation_id = :id)"
            + " ORDER BY se.stream_version LIMIT :limit"
        )
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql), {"id": parsed, "limit": max(0, int(limit))}).all()
        return [self._event(row) for row in rows]

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type (shown name, or the full `Elixir.` one): one scan of `events`."""
        names = list(type_names)
        sql = (
            f"SELECT event_type, count(*) AS n FROM {self._t['events']}"
            " WHERE event_type = ANY(:types) GROUP BY event_type"
        )
        with self.read_transaction() as conn:
            found = dict(conn.execute(sa.text(sql), {"types": stored_type_names(names)}).all())
        return {
            name: int(found.get(name, 0))
            + (0 if name.startswith(ELIXIR_PREFIX) else int(found.get(ELIXIR_PREFIX + name, 0)))
            for name in names
        }
