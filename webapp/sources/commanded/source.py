"""Commanded's EventStore (Elixir, PostgreSQL) behind the source port, read-only.

    source = CommandedSource("postgresql+psycopg://reader@db/bank", schema="public")
    source.read_all_backward(None, limit=10)       # the ten newest events of `$all`

How its rows become the port's values:

* a stream's id is its `stream_uuid`; the global position of an event is its
  `stream_version` in `$all` (the `streams` row with `stream_id` 0), whose own version is
  the head;
* read from `$all`, an event carries the stream it was written to and its version there
  (`original_stream_id`, `original_stream_version`); read from one stream, it carries
  that stream and its version in it, and an event linked in from another stream has
  `metadata["linked_from"] = {"stream_id": <original stream_uuid>, "stream_version": N}`;
* the type is `event_type` without a leading `Elixir.` (`MyApp.Deposited`); the full
  one stays in `metadata["event_type"]`; `correlation_id` and `causation_id` (uuid
  columns) are put into the metadata as text; `recorded_at` is `created_at`;
* `data` and `metadata` are decoded by the column type (`payloads.decode_cell`): jsonb
  as it is, bytea holding an Erlang term or JSON text decoded, anything else marked
  `{"undecodable": ...}` while the rest reads;
* soft-deleted streams are listed and read like the others; `deleted_streams(ids)` says
  which are deleted and when.

Every read runs in a `READ ONLY` transaction with a statement timeout. Filters that no
index of the schema serves (types, stream prefix, correlation id, time range, payload
field) never scan the whole log: `read_all_page` / `read_all_backward_page` look at
most `scan_budget` positions per call and say where they stopped; a caller that got
fewer than `limit` events and `exhausted` False goes on from `resume_after` (or
`resume_before`). `read_all` and `read_all_backward` return such a page's events.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Unpack

import sqlalchemy as sa
from sqlalchemy.engine import URL

from webapp.database import create_store_engine, parse_store_url
from webapp.sources.commanded.payloads import decode_cell
from webapp.sources.errors import ForeignStoreError
from webapp.sources.port import Capabilities, Subscription
from webapp.store.filters import LogFilters, check_data_field_name, check_filter_names
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo

TABLES: Final = ("streams", "events", "stream_events", "snapshots", "subscriptions")
SCHEMA_VERSIONS: Final = ((1, 2, 0), (1, 4, 99))
"""The schema generations read (inclusive): `stream_events`, uuid ids, timestamptz and
`streams.deleted_at` are all there from 1.2.0 on; 1.3.2 is what `init` writes today."""
ALL_STREAM_ID: Final = 0
ELIXIR_PREFIX: Final = "Elixir."
DEFAULT_SCAN_BUDGET: Final = 10_000
DEFAULT_STATEMENT_TIMEOUT_MS: Final = 10_000
POLL_SECONDS: Final = 0.25

CAPABILITIES: Final = Capabilities(
    has_correlation_ids=True,
    has_causation_ids=True,
    has_snapshots=True,
    cheap_type_filter=False,
    notifies_live=True,
    has_actor=False,
    writable=False,
)


@dataclass(frozen=True, slots=True)
class LogPage:
    """A filtered read of `$all` within the scan budget: what it found and where it stopped.

    `exhausted` True: nothing more matches in that direction. Otherwise read on with
    `after=resume_after` (forward) or `before=resume_before` (backward)."""

    events: list[RecordedEvent]
    exhausted: bool
    resume_after: int | None = None
    resume_before: int | None = None


def display_type(event_type: str) -> str:
    """`Elixir.MyApp.Deposited` as Elixir names it, `MyApp.Deposited`."""
    return event_type.removeprefix(ELIXIR_PREFIX)


class CommandedSource:
    """An EventStore schema in PostgreSQL, read through the `EventSource` port, never written."""

    dialect = "postgresql"

    def __init__(
        self,
        url_or_engine: str | URL | sa.Engine,
        *,
        schema: str = "public",
        scan_budget: int = DEFAULT_SCAN_BUDGET,
        statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    ) -> None:
        if isinstance(url_or_engine, sa.Engine):
            self.engine, self._owns_engine = url_or_engine, False
        else:
            parsed = parse_store_url(url_or_engine)
            if parsed.get_backend_name() != "postgresql":
                msg = f"Commanded's EventStore lives in PostgreSQL, not {parsed.get_backend_name()}"
                raise ForeignStoreError(msg)
            self.engine, self._owns_engine = create_store_engine(parsed), True
        if self.engine.dialect.name != "postgresql":
            msg = f"Commanded's EventStore lives in PostgreSQL, not {self.engine.dialect.name}"
            raise ForeignStoreError(msg)
        if not schema or "\0" in schema:
            msg = f"not a schema name: {schema!r}"
            raise ValueError(msg)
        self.schema = schema
        self.scan_budget = max(1, int(scan_budget))
        self.statement_timeout_ms = max(1, int(statement_timeout_ms))
        quote = self.engine.dialect.identifier_preparer.quote_identifier
        self._t = {name: f"{quote(schema)}.{quote(name)}" for name in TABLES}
        self.channel = f"{schema}.events"
        try:
            self.column_type, self.schema_version = self._check_store()
        except Exception:
            self.close()
            raise

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    # --- the connection

    @contextmanager
    def read_transaction(self) -> Iterator[sa.Connection]:
        """A `READ ONLY` transaction with the statement timeout: the one every read runs in."""
        with self.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {self.statement_timeout_ms}")
            yield conn

    def _check_store(self) -> tuple[str, tuple[int, int, int]]:
        where = f"schema {self.schema!r}"
        with self.read_transaction() as conn:
            present = set(
                conn.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = :schema"
                    ),
                    {"schema": self.schema},
                ).scalars()
            )
            missing = [name for name in (*TABLES, "schema_migrations") if name not in present]
            if missing:
                msg = f"{where} is not a Commanded EventStore: no table {', '.join(missing)}"
                raise ForeignStoreError(msg)
            quote = self.engine.dialect.identifier_preparer.quote_identifier
            row = conn.execute(
                sa.text(
                    "SELECT major_version, minor_version, patch_version"
                    f" FROM {quote(self.schema)}.schema_migrations"
                    " ORDER BY major_version DESC, minor_version DESC, patch_version DESC LIMIT 1"
                )
            ).first()
            if row is None:
                msg = f"{where}: schema_migrations records no EventStore schema version"
                raise ForeignStoreError(msg)
            version = (int(row[0]), int(row[1]), int(row[2]))
            low, high = SCHEMA_VERSIONS
            if not low <= version <= high:
                shown = ".".join(map(str, version))
                msg = (
                    f"{where}: EventStore schema version {shown} is not one this reader knows"
                    f" ({'.'.join(map(str, low))} to 1.4.x)"
                )
                raise ForeignStoreError(msg)
            types = dict(
                conn.execute(
                    sa.text(
                        "SELECT table_name, data_type FROM information_schema.columns"
                        " WHERE table_schema = :schema AND column_name = 'data'"
                        " AND table_name IN ('events', 'snapshots')"
                    ),
                    {"schema": self.schema},
                ).all()
            )
            column_type = types.get("events")
            if column_type not in ("bytea", "jsonb"):
                msg = f"{where}: events.data is {column_type or 'missing'}, not bytea or jsonb"
                raise ForeignStoreError(msg)
        return column_type, version

    # --- events

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
            recorded_at=_utc(row.created_at),
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
            params["types"] = _stored_type_names(names)
        prefix = filters.get("stream_prefix")
        if prefix:
            where.append("starts_with(o.stream_uuid, :prefix)")
            params["prefix"] = prefix
        correlation_id = filters.get("correlation_id")
        if correlation_id is not None:
            parsed = _uuid(correlation_id)
            if parsed is None:
                where.append("false")  # the column holds uuids only
            else:
                where.append("e.correlation_id = :correlation_id")
                params["correlation_id"] = parsed
        since = filters.get("since")
        if since is not None:
            where.append("e.created_at >= :since")
            params["since"] = _aware(since)
        until = filters.get("until")
        if until is not None:
            where.append("e.created_at < :until")
            params["until"] = _aware(until)
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
                params["older_types"] = _stored_type_names(older)
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
        parsed = _uuid(event_id)
        if parsed is None:
            return None
        sql = self._select("se") + f" WHERE se.stream_id = {ALL_STREAM_ID} AND se.event_id = :id"
        with self.read_transaction() as conn:
            row = conn.execute(sa.text(sql), {"id": parsed}).first()
        return None if row is None else self._event(row)

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        """The events of one correlation, oldest first: one pass over `events` (no index
        serves it), bounded by the statement timeout."""
        parsed = _uuid(correlation_id)
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

    # --- streams

    def _stream_rows(self) -> str:
        """Streams (not `$all`) with their last event's time as `updated_at` (the stream's
        own `created_at` while it is empty)."""
        t = self._t
        return (
            "SELECT s.stream_uuid, s.stream_version, s.created_at, s.deleted_at,"
            " COALESCE((SELECT e.created_at"
            f" FROM {t['stream_events']} last JOIN {t['events']} e ON e.event_id = last.event_id"
            " WHERE last.stream_id = s.stream_id AND last.stream_version = s.stream_version),"
            " s.created_at) AS updated_at"
            f" FROM {t['streams']} s WHERE s.stream_id <> {ALL_STREAM_ID}"
        )

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by `stream_uuid` (bytewise order), soft-deleted ones included."""
        sql = self._stream_rows()
        params: dict[str, Any] = {"limit": max(0, int(limit))}
        if prefix:
            sql += " AND starts_with(s.stream_uuid, :prefix)"
            params["prefix"] = prefix
        if after is not None:
            sql += ' AND s.stream_uuid COLLATE "C" > :after'
            params["after"] = after
        sql += ' ORDER BY s.stream_uuid COLLATE "C" LIMIT :limit'
        with self.read_transaction() as conn:
            return [_info(row) for row in conn.execute(sa.text(sql), params)]

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by the time of their last event (the stream's `created_at` while empty),
        newest first; each page looks at every stream's last event."""
        sql = self._stream_rows()
        params: dict[str, Any] = {"limit": max(0, int(limit))}
        if prefix:
            sql += " AND starts_with(s.stream_uuid, :prefix)"
            params["prefix"] = prefix
        sql = f"SELECT * FROM ({sql}) streams"
        if before is not None:
            sql += ' WHERE (updated_at, stream_uuid COLLATE "C") < (:at, :uuid)'
            params.update(at=_aware(before[0]), uuid=before[1])
        sql += ' ORDER BY updated_at DESC, stream_uuid COLLATE "C" DESC LIMIT :limit'
        with self.read_transaction() as conn:
            return [_info(row) for row in conn.execute(sa.text(sql), params)]

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        sql = self._stream_rows() + " AND s.stream_uuid = :uuid"
        with self.read_transaction() as conn:
            row = conn.execute(sa.text(sql), {"uuid": stream_id}).first()
        return None if row is None else _info(row)

    def deleted_streams(self, stream_ids: Sequence[str]) -> dict[str, datetime]:
        """When each of these streams was soft-deleted, for those that were. Beyond the
        port: `StreamInfo` has no deletion time, and a deleted stream still lists and reads."""
        sql = (
            f"SELECT stream_uuid, deleted_at FROM {self._t['streams']}"
            " WHERE stream_uuid = ANY(:ids) AND deleted_at IS NOT NULL AND stream_id <> 0"
        )
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql), {"ids": list(stream_ids)}).all()
        return {row.stream_uuid: _utc(row.deleted_at) for row in rows}

    # --- counts and the head

    def _head(self, conn: sa.Connection) -> int:
        sql = f"SELECT stream_version FROM {self._t['streams']} WHERE stream_id = {ALL_STREAM_ID}"
        return int(conn.execute(sa.text(sql)).scalar() or 0)

    def head_position(self) -> int:
        """The `$all` row's version: the last global position."""
        with self.read_transaction() as conn:
            return self._head(conn)

    def count_events(self) -> int:
        """Events in `$all` (the head, less any hard-deleted)."""
        sql = f"SELECT count(*) FROM {self._t['stream_events']} WHERE stream_id = {ALL_STREAM_ID}"
        with self.read_transaction() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)

    def count_streams(self) -> int:
        """Streams, soft-deleted ones included, `$all` not."""
        sql = f"SELECT count(*) FROM {self._t['streams']} WHERE stream_id <> {ALL_STREAM_ID}"
        with self.read_transaction() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type (shown name, or the full `Elixir.` one): one scan of `events`."""
        names = list(type_names)
        sql = (
            f"SELECT event_type, count(*) AS n FROM {self._t['events']}"
            " WHERE event_type = ANY(:types) GROUP BY event_type"
        )
        with self.read_transaction() as conn:
            found = dict(conn.execute(sa.text(sql), {"types": _stored_type_names(names)}).all())
        return {
            name: int(found.get(name, 0))
            + (0 if name.startswith(ELIXIR_PREFIX) else int(found.get(ELIXIR_PREFIX + name, 0)))
            for name in names
        }

    def wait_for_events(self, after: int, timeout: float) -> int:
        """The head once it is above `after` or `timeout` seconds passed: LISTEN on
        `<schema>.events` (the store's notify trigger); polling where the driver has no
        LISTEN."""
        deadline = time.monotonic() + max(0.0, timeout)
        head = self.head_position()
        if head > after or timeout <= 0:
            return head
        raw = self.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            if not hasattr(driver, "notifies"):
                return self._poll(after, deadline)
            driver.autocommit = True
            quote = self.engine.dialect.identifier_preparer.quote_identifier
            driver.execute(f"LISTEN {quote(self.channel)}")
            try:
                head = self.head_position()
                while head <= after:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        waiting = driver.notifies(timeout=remaining, stop_after=1)
                    except TypeError:  # psycopg before 3.2 cannot wait with a timeout
                        return self._poll(after, deadline)
                    for _ in waiting:
                        pass
                    head = self.head_position()
            finally:
                driver.execute("UNLISTEN *")
                driver.autocommit = False
        finally:
            raw.close()
        return head

    def _poll(self, after: int, deadline: float) -> int:
        head = self.head_position()
        while head <= after and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            head = self.head_position()
        return head

    # --- snapshots: at most one per source, overwritten on each save

    def _snapshots(self, where: str, params: Mapping[str, Any]) -> list[Snapshot]:
        sql = (
            "SELECT source_uuid, source_version, source_type, data, created_at"
            f" FROM {self._t['snapshots']} WHERE {where}"
        )
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql), dict(params)).all()
        return [
            Snapshot(
                stream_id=row.source_uuid,
                version=int(row.source_version),
                snapshot_version=1,
                type=display_type(row.source_type),
                data=decode_cell(row.data, self.column_type),
                taken_at=_utc(row.created_at),
            )
            for row in rows
        ]

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        """The source's snapshot if it reflects `max_version` or less (None: any)."""
        where, params = "source_uuid = :uuid", {"uuid": stream_id}
        if max_version is not None:
            where += " AND source_version <= :max_version"
            params["max_version"] = int(max_version)
        found = self._snapshots(where, params)
        return found[0] if found else None

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        """The one snapshot the store keeps for a source, or none."""
        return self._snapshots("source_uuid = :uuid", {"uuid": stream_id})

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        found = self._snapshots("source_uuid = ANY(:ids)", {"ids": list(stream_ids)})
        return {snapshot.stream_id: snapshot for snapshot in found}

    # --- checkpoints

    def subscriptions(self) -> list[Subscription]:
        """Persistent subscriptions. One to `$all` is named as it is, its position global;
        one to a single stream is named `name @ stream_uuid` and its position is a version
        of that stream (lag: the stream's version less it)."""
        t = self._t
        sql = (
            "SELECT sub.subscription_name, sub.stream_uuid, sub.last_seen, s.stream_version"
            f" FROM {t['subscriptions']} sub"
            f" LEFT JOIN {t['streams']} s ON s.stream_uuid = sub.stream_uuid"
            " ORDER BY sub.stream_uuid <> '$all', sub.subscription_name, sub.stream_uuid"
        )
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql)).all()
        found = []
        for row in rows:
            seen = int(row.last_seen or 0)
            top = int(row.stream_version or 0)
            name = row.subscription_name
            if row.stream_uuid != "$all":
                name = f"{name} @ {row.stream_uuid}"
            found.append(Subscription(name, seen, max(0, top - seen)))
        return found

    def close(self) -> None:
        """Release the engine if this source made it (an engine passed in stays open)."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> CommandedSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"CommandedSource({url!r}, schema={self.schema!r})"


def _stored_type_names(names: Sequence[str]) -> list[str]:
    """The `event_type` values a shown type name matches: itself and its `Elixir.` form."""
    stored: list[str] = []
    for name in names:
        stored.append(name)
        if not name.startswith(ELIXIR_PREFIX):
            stored.append(ELIXIR_PREFIX + name)
    return stored


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    """Naive times are UTC, as the port says."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _utc(moment: datetime) -> datetime:
    return _aware(moment).astimezone(UTC)


def _info(row: Any) -> StreamInfo:
    return StreamInfo(
        stream_id=row.stream_uuid,
        version=int(row.stream_version),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )
