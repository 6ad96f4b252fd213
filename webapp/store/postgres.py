"""PostgresEventStore: PostgreSQL's locked, notifying append path, its SQL and LISTEN waits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from webapp.store import sql
from webapp.store.event_store import Conflict, EventStore, Execute, as_utc
from webapp.store.notify import PostgresListener, postgres_channel
from webapp.store.sql import INSERT_COLUMNS
from webapp.store.types import (
    NO_STREAM,
    ExpectedVersion,
    RecordedEvent,
    Snapshot,
    StreamInfo,
    recorded_event,
)
from webapp.store.validation import EventRow, version_matches

# Taken by every PostgreSQL append before it draws positions: positions are then handed
# out in commit order, so a follower never finds a new event below one it has seen.
# Two-key form: (eventscope's constant, the store's schema), so stores in different
# schemas of one database do not queue on each other.
APPEND_LOCK_KEY = 0x65760002

# The index builders of one schema take turns under this lock (webapp.store.indexer).
INDEX_LOCK_KEY = 0x65760003
_SCHEMA_KEY = "hashtext(current_schema())"
TAKE_APPEND_LOCK = f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY}, {_SCHEMA_KEY})"
TAKE_INDEX_LOCK = f"SELECT pg_advisory_xact_lock({INDEX_LOCK_KEY}, {_SCHEMA_KEY})"
TRY_INDEX_LOCK = f"SELECT pg_try_advisory_xact_lock({INDEX_LOCK_KEY}, {_SCHEMA_KEY})"
# Read after the lock, in a statement of its own: under READ COMMITTED it then sees every
# append that committed before this one took the lock.
STREAM_VERSION = sql.STREAM_VERSION.replace("?", "%s")

# Events are inserted, listeners notified and positions returned (in stream-version
# order) by one statement; the channel name is the first parameter. A batch travels
# as one array per column through unnest: one plan and thirteen parameters whatever
# its size, and rows come out of unnest (and draw positions) in array order.
_CHANNEL = "WITH channel AS (SELECT %s::text AS name), "
_INSERT_HEAD = _CHANNEL + f"inserted AS (INSERT INTO events ({INSERT_COLUMNS}) "
_ONE_ROW = "SELECT %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, COALESCE(%s, %s), %s "
_MANY_ROWS = (
    "SELECT %s, v, e, t, s, d::jsonb, m::jsonb, c, a, COALESCE(o, %s), %s FROM unnest("
    "%b::int[], %b::uuid[], %b::text[], %b::int[], %b::text[], %b::text[], %b::text[], "
    "%b::text[], %b::timestamptz[]) AS batch (v, e, t, s, d, m, c, a, o) "
)
# At an exact version (NO_STREAM: 0) the append checks the version in its insert, so the
# lock, the insert and the COMMIT go to the server together (`_append_at`): the lock is
# held for the server's work alone, never while this process waits for its replies (or,
# under load, for the GIL between them). No row inserted: the stream was not at it, and
# no listener is told.
_VERSION_CHECK = (
    "WHERE (SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = %s) = %s "
)
_INSERT_TAIL = (
    "RETURNING position, stream_version), "
    "told AS (SELECT pg_notify((SELECT name FROM channel), max(position)::text) FROM inserted "
    "HAVING count(*) > 0) "
    "SELECT position FROM inserted, told ORDER BY stream_version"
)
INSERT_ONE = _INSERT_HEAD + _ONE_ROW + _INSERT_TAIL
INSERT_MANY = _INSERT_HEAD + _MANY_ROWS + _INSERT_TAIL
INSERT_ONE_AT = _INSERT_HEAD + _ONE_ROW + _VERSION_CHECK + _INSERT_TAIL
INSERT_MANY_AT = _INSERT_HEAD + _MANY_ROWS + _VERSION_CHECK + _INSERT_TAIL


def _insert(
    stream_id: str, rows: list[EventRow], base: int, channel: str, now: datetime, *, checked: bool
) -> tuple[str, list[Any]]:
    """The statement inserting `rows` after version `base`, and its parameters; `checked`
    inserts nothing unless the stream is at `base` then."""
    if len(rows) == 1:
        (r,) = rows
        query = INSERT_ONE_AT if checked else INSERT_ONE
        params: list[Any] = [channel, stream_id, base + 1, *r, now, now]
    else:
        query = INSERT_MANY_AT if checked else INSERT_MANY
        columns = [list(column) for column in zip(*rows, strict=True)]
        versions = list(range(base + 1, base + len(rows) + 1))
        params = [channel, stream_id, now, now, versions, *columns]
    return query, params + [stream_id, base] if checked else params


FIELD_EQUALS = "e.data ->> ? = ?"
# occurred_at: the metadata's business time, else the recorded time (webapp.store.business_time)


def _any_stored(cur: Any, rows: list[EventRow]) -> bool:
    """Whether any of the rows' event ids is stored (through the index and beyond it)."""
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), sql.ID_BATCH):
        chunk = ids[start : start + sql.ID_BATCH]
        cur.execute(sql.events_by_ids(len(chunk)).replace("?", "%s"), chunk + chunk)
        if cur.fetchone():
            return True
    return False


class PostgresEventStore(EventStore):
    """The event store in a PostgreSQL schema: appends serialised by an advisory lock, each
    one notifying listeners; waits for new events on LISTEN."""

    dialect = "postgresql"

    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_payload_bytes: int = 1_000_000,
        index_in_background: bool = True,
    ) -> None:
        super().__init__(
            engine, max_payload_bytes=max_payload_bytes, index_in_background=index_in_background
        )
        self._listener: PostgresListener | None = None
        self._channel: str | None = None

    def _append_rows(
        self,
        stream_id: str,
        rows: list[EventRow],
        expected: ExpectedVersion,
        now: datetime,
        check_ids: bool,
    ) -> tuple[int, list[int]]:
        channel = self._notify_channel()
        exact = 0 if expected is NO_STREAM else expected
        if not check_ids and type(exact) is int:
            return exact, self._append_at(stream_id, rows, exact, channel, now)
        fairy = self.engine.raw_connection()
        try:
            conn = fairy.driver_connection
            try:
                with conn.cursor() as cur:
                    cur.execute(TAKE_APPEND_LOCK)
                    cur.execute(STREAM_VERSION, (stream_id,))
                    (base,) = cur.fetchone()
                    if not version_matches(expected, base):
                        raise Conflict(base)
                    if check_ids and _any_stored(cur, rows):
                        raise Conflict(base, ids_stored=True)
                    cur.execute(*_insert(stream_id, rows, base, channel, now, checked=False))
                    positions = [p for (p,) in cur.fetchall()]
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        finally:
            fairy.close()
        return base, positions

    def _append_at(
        self, stream_id: str, rows: list[EventRow], expected: int, channel: str, now: datetime
    ) -> list[int]:
        """Append `rows` if the stream is at `expected`: their positions. BEGIN, the lock, the
        insert and the COMMIT travel in one pipeline, one round trip; Conflict when nothing
        was inserted (the transaction committed nothing)."""
        query, params = _insert(stream_id, rows, expected, channel, now, checked=True)
        fairy = self.engine.raw_connection()
        try:
            conn = fairy.driver_connection
            try:
                with conn.cursor() as cur:
                    with conn.pipeline():
                        cur.execute(TAKE_APPEND_LOCK)
                        cur.execute(query, params)
                        conn.commit()
                    positions = [p for (p,) in cur.fetchall()]
            except BaseException:
                conn.rollback()
                raise
            if len(positions) != len(rows):
                with conn.cursor() as cur:
                    cur.execute(STREAM_VERSION, (stream_id,))
                    (actual,) = cur.fetchone()
                conn.rollback()  # the read's own transaction
                raise Conflict(actual)
        finally:
            fairy.close()
        return positions

    @contextmanager
    def _index_transaction(self, wait: bool) -> Iterator[Execute | None]:
        fairy = self.engine.raw_connection()
        try:
            conn = fairy.driver_connection
            try:
                with conn.cursor() as cur:
                    cur.execute(TAKE_INDEX_LOCK if wait else TRY_INDEX_LOCK)
                    taken = cur.fetchone()
                    if not wait and not (taken and taken[0]):
                        yield None
                    else:

                        def execute(query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                            cur.execute(self._sql(query), params)
                            return cur.fetchall() if cur.description else []

                        yield execute
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        finally:
            fairy.close()

    def wait_for_events(self, after: int, timeout: float) -> int:
        """Block until the head is above `after` or `timeout` seconds pass; return the head.

        Every append notifies the store's channel; one listener per store hears it."""
        return self._postgres_listener().wait(after, timeout)

    def _notify_channel(self) -> str:
        if self._channel is None:
            with self.engine.connect() as conn:
                database, schema = conn.exec_driver_sql(
                    "SELECT current_database(), current_schema()"
                ).one()
            self._channel = postgres_channel(database, schema or "public")
        return self._channel

    def _postgres_listener(self) -> PostgresListener:
        with self._write_lock:
            if self._listener is None:
                self._check_open()
                self._listener = PostgresListener(
                    self.engine, self._notify_channel(), self.head_position
                )
            return self._listener

    def _detach(self) -> Any:
        listener, self._listener = self._listener, None
        return listener

    def _is_integrity_error(self, error: Exception) -> bool:
        import psycopg

        return isinstance(error, psycopg.errors.IntegrityError)

    _reads_in_autocommit = True

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def _event_id_params(self, ids: list[uuid.UUID]) -> list[Any]:
        return ids

    def _time_param(self, dt: datetime) -> Any:
        return as_utc(dt)

    def _field_equals(self, name: str, value: str) -> tuple[str, list[Any]]:
        return FIELD_EQUALS, [name, value]

    def _query_events(self, query: str, params: Sequence[Any]) -> list[RecordedEvent]:
        return [recorded_event(*row) for row in self._fetch(query, params)]

    def _stream_events(
        self, stream_id: str, query: str, params: Sequence[Any]
    ) -> list[RecordedEvent]:
        return [recorded_event(*row) for row in self._fetch(query, params)]

    def _payload_rows(
        self, rows: list[tuple[Any, ...]]
    ) -> list[tuple[int, str, int, dict[str, Any]]]:
        return rows

    def _query_streams(self, query: str, params: Sequence[Any]) -> list[StreamInfo]:
        return [StreamInfo(*row) for row in self._fetch(query, params)]

    def _query_snapshots(self, query: str, params: Sequence[Any]) -> list[Snapshot]:
        return [Snapshot(*row) for row in self._fetch(query, params)]
