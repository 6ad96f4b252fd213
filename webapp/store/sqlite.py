"""SQLiteEventStore: SQLite's append path over one kept connection, its SQL and row decoding."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import repeat
from typing import Any

import sqlalchemy as sa

from webapp.database.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    WRITER_TURN,
    hold_write_guard,
    release_write_guard,
    sqlite_database_key,
    sqlite_write_guard,
)
from webapp.database.json_loads import load_json, load_json_texts
from webapp.database.writer_turns import WriterTurn
from webapp.store import sql
from webapp.store.event_store import Conflict, EventStore, Execute, as_utc
from webapp.store.json_codec import load_object, uuid_from_hex
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

log = logging.getLogger("eventscope.store.sqlite")

POLL_INTERVAL = 0.05
"""Seconds between looks at the head while waiting for events (SQLite cannot notify)."""

# A stream read knows its stream id: one text column fewer to fetch per row.
STREAM_EVENT_COLUMNS = (
    "position, stream_version, event_id, type, schema_version, data, metadata, recorded_at"
)
INSERT_EVENT = f"INSERT INTO events ({INSERT_COLUMNS}) VALUES ({', '.join('?' * 11)})"
# One event at an exact version (`expected`): inserted only if the stream is at it.
APPEND_ONE = (
    f"INSERT INTO events ({INSERT_COLUMNS}) SELECT {', '.join('?' * 11)} "
    "WHERE (SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?) = ?"
)
FIELD_EQUALS = "CAST(json_extract(e.data, ?) AS TEXT) = ?"


def page_as_json(query: str, scalars: str) -> str:
    """`query`'s rows as one JSON text built by SQLite, each row `[scalars..., data, metadata,
    recorded_at]` (EVENT_COLUMNS' order when `scalars` are the columns before `data`).

    The driver gives up the GIL at every row it steps through and waits for it again; with
    a server's request threads all reading, those hand-overs cost more than the rows do
    (a page of 50 read by 4 threads took 3-4 times the CPU it takes one thread). One row
    holding the page is one step, and SQLite builds it in C without the GIL. The stored
    data and metadata are JSON texts (checked on append), joined in as they are.
    """
    return (
        f"SELECT '[' || group_concat(rtrim(json_array({scalars}), ']') || ',' || data || ',' "
        f"|| metadata || ',' || json_quote(recorded_at) || ']', ',') || ']' FROM ({query})"
    )


LOG_SCALARS = "position, stream_id, stream_version, event_id, type, schema_version"
STREAM_SCALARS = "position, stream_version, event_id, type, schema_version"


def _in_order(positions: Sequence[int]) -> bool:
    """Whether `positions` run one way (the page's ORDER BY, kept by the aggregate)."""
    if len(positions) < 2:
        return True
    step = 1 if positions[1] > positions[0] else -1
    return all((b - a) * step > 0 for a, b in zip(positions, positions[1:], strict=False))


_from_iso = datetime.fromisoformat


def _decoded_events(
    positions: Iterable[int],
    stream_ids: Iterable[str],
    versions: Iterable[int],
    event_ids: Iterable[str],
    types: Iterable[str],
    schema_versions: Iterable[int],
    data: Iterable[dict[str, Any]],
    metadata: Iterable[dict[str, Any]],
    recorded_at: Iterable[str],
) -> list[RecordedEvent]:
    """A page of events from its columns (data and metadata decoded): each conversion runs
    over a whole column at C speed."""
    return list(
        map(
            recorded_event,
            positions,
            stream_ids,
            versions,
            map(uuid_from_hex, event_ids),
            types,
            schema_versions,
            data,
            metadata,
            map(_from_iso, recorded_at),
        )
    )


def _any_stored(conn: sqlite3.Connection, rows: list[EventRow]) -> bool:
    """Whether any of the rows' event ids is stored (through the index and beyond it)."""
    ids = [row[0].hex for row in rows]
    for start in range(0, len(ids), sql.ID_BATCH):
        chunk = ids[start : start + sql.ID_BATCH]
        if conn.execute(sql.events_by_ids(len(chunk)), chunk + chunk).fetchone():
            return True
    return False


def sqlite_time(dt: datetime) -> str:
    """SQLite keeps times as fixed-width UTC text, so text order is time order."""
    return as_utc(dt).isoformat(" ", "microseconds")


class SQLiteEventStore(EventStore):
    """The event store in a SQLite file: appends through one connection kept for writing,
    serialised by a process-wide guard; times as UTC text, ids as hex, JSON as text."""

    dialect = "sqlite"
    _stream_columns = STREAM_EVENT_COLUMNS

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
        self._sqlite_key = sqlite_database_key(engine.url)
        self._writer: Any = None  # one pooled connection kept for appends
        self._writer_pid = 0
        self._writer_parts: tuple[sqlite3.Connection, WriterTurn | None]

    def _append_rows(
        self,
        stream_id: str,
        rows: list[EventRow],
        expected: ExpectedVersion,
        now: datetime,
        check_ids: bool,
    ) -> tuple[int, list[int]]:
        count = len(rows)
        stamp = now.isoformat(" ", "microseconds")
        key = self._sqlite_key
        with self._write_lock:
            conn, turn = self._writer_and_turn()
            held = hold_write_guard(key)
            try:
                if turn is not None:
                    turn.take(SQLITE_BUSY_TIMEOUT_MS / 1000)
                try:
                    exact = 0 if expected is NO_STREAM else expected
                    if count == 1 and not check_ids and type(exact) is int:
                        return self._append_one(conn, stream_id, rows[0], exact, stamp)
                    return self._append_batch(conn, stream_id, rows, expected, stamp, check_ids)
                finally:
                    if turn is not None:
                        turn.give_back()
            finally:
                release_write_guard(key, held)

    @staticmethod
    def _append_one(
        conn: sqlite3.Connection, stream_id: str, row: EventRow, expected: int, stamp: str
    ) -> tuple[int, list[int]]:
        """One event at an exact version: one statement, which SQLite runs as a write
        transaction of its own (it takes the write lock before it reads the version)."""
        eid, etype, sv, data, meta, corr, actor, occurred = row
        happened = stamp if occurred is None else sqlite_time(occurred)
        cursor = conn.execute(
            APPEND_ONE,
            (stream_id, expected + 1, eid.hex, etype, sv, data, meta, corr, actor, happened)
            + (stamp, stream_id, expected),
        )
        if cursor.rowcount != 1:
            (actual,) = conn.execute(sql.STREAM_VERSION, (stream_id,)).fetchone()
            raise Conflict(actual)
        return expected, [cursor.lastrowid]

    @staticmethod
    def _append_batch(
        conn: sqlite3.Connection,
        stream_id: str,
        rows: list[EventRow],
        expected: ExpectedVersion,
        stamp: str,
        check_ids: bool,
    ) -> tuple[int, list[int]]:
        count = len(rows)
        conn.execute("BEGIN IMMEDIATE")
        try:
            (base,) = conn.execute(sql.STREAM_VERSION, (stream_id,)).fetchone()
            if not version_matches(expected, base):
                raise Conflict(base)
            if check_ids and _any_stored(conn, rows):
                raise Conflict(base, ids_stored=True)
            conn.executemany(
                INSERT_EVENT,
                [
                    (stream_id, base + i, eid.hex, *rest)
                    + (stamp if occurred is None else sqlite_time(occurred), stamp)
                    for i, (eid, *rest, occurred) in enumerate(rows, 1)
                ],
            )
            (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return base, list(range(last - count + 1, last + 1))

    @contextmanager
    def _index_transaction(self, wait: bool) -> Iterator[Execute | None]:
        """On the append connection, under the append lock: SQLite has one writer anyway."""
        with self._write_lock, sqlite_write_guard(self._sqlite_key), self._writer_turn():
            conn = self._sqlite_writer()

            def execute(query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                return conn.execute(query, params).fetchall()

            conn.execute("BEGIN IMMEDIATE")
            try:
                yield execute
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """The file's write turn for the append connection (see database.writer_turns),
        given back after its COMMIT or ROLLBACK."""
        _conn, turn = self._writer_and_turn()
        if turn is None:
            yield
            return
        turn.take(SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            yield
        finally:
            turn.give_back()

    def _sqlite_writer(self) -> Any:
        return self._writer_and_turn()[0]

    def _writer_and_turn(self) -> tuple[sqlite3.Connection, WriterTurn | None]:
        """The append connection (one pooled connection kept, made again after a fork) and
        its write turn."""
        if self._writer is None or self._writer_pid != os.getpid():
            self._check_open()
            if self._writer is not None:  # inherited across fork: leave the parent's alone
                self.engine.dispose(close=False)
            self._writer = self.engine.raw_connection()
            self._writer_pid = os.getpid()
            writer = self._writer
            if self._index_in_background:
                # the builder's rounds checkpoint instead (`_after_index_round`)
                writer.driver_connection.execute("PRAGMA wal_autocheckpoint = 0")
            self._writer_parts = (writer.driver_connection, writer.info.get(WRITER_TURN))
        return self._writer_parts

    def _after_index_round(self) -> None:
        """Move the write-ahead log's pages into the database file (a PASSIVE checkpoint:
        it waits for no reader or writer) on a connection of its own.

        The append connection does not checkpoint when its builder runs in the background:
        SQLite would otherwise run a checkpoint inside the commit that finds the log over
        1,000 pages, and with the index tables' pages in the log too, appends paid for
        most of them (1 event per transaction: 0.79-0.89x the `eventsourcing` recorder
        with checkpoints in the appends, 1.17-1.24x without; bench/append.py). Here the
        builder's thread pays, without the GIL, beside the appends."""
        fairy = self.engine.raw_connection()
        try:
            fairy.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.OperationalError:  # busy: the next round checkpoints
            log.debug("checkpoint after an index round did not run", exc_info=True)
        finally:
            fairy.close()

    def _detach(self) -> Any:
        writer, self._writer = self._writer, None
        return writer

    def wait_for_events(self, after: int, timeout: float) -> int:
        """Block until the head is above `after` or `timeout` seconds pass; return the head.

        SQLite has no notifications: the head is read every `POLL_INTERVAL` seconds."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            head = self.head_position()
            remaining = deadline - time.monotonic()
            if head > after or remaining <= 0:
                return head
            time.sleep(min(POLL_INTERVAL, remaining))

    def _is_integrity_error(self, error: Exception) -> bool:
        return isinstance(error, sqlite3.IntegrityError)

    def _event_id_params(self, ids: list[uuid.UUID]) -> list[Any]:
        return [i.hex for i in ids]

    def _time_param(self, dt: datetime) -> Any:
        return sqlite_time(dt)

    def _field_equals(self, name: str, value: str) -> tuple[str, list[Any]]:
        return FIELD_EQUALS, [f'$."{name}"', value]

    def _query_events(self, query: str, params: Sequence[Any]) -> list[RecordedEvent]:
        columns = self._page_columns(query, params, LOG_SCALARS)
        return _decoded_events(*columns) if columns else []

    def _stream_events(
        self, stream_id: str, query: str, params: Sequence[Any]
    ) -> list[RecordedEvent]:
        columns = self._page_columns(query, params, STREAM_SCALARS)
        if not columns:
            return []
        positions, *rest = columns
        return _decoded_events(positions, repeat(stream_id), *rest)

    def _page_columns(
        self, query: str, params: Sequence[Any], scalars: str
    ) -> tuple[tuple[Any, ...], ...]:
        """The columns of `query`'s rows (data and metadata decoded; none for no rows): read
        as one text (`page_as_json`), or row by row when that text did not come back in the
        query's order or would be longer than SQLite allows."""
        try:
            ((text,),) = self._fetch(page_as_json(query, scalars), params)
        except sqlite3.DataError:  # "string or blob too big": a page of very large events
            text = ""  # read row by row below
        if text is None:
            return ()
        if text:
            page: list[list[Any]] = load_json(text)
            if _in_order([row[0] for row in page]):
                return tuple(zip(*page, strict=True))
        rows = self._fetch(query, params)
        if not rows:
            return ()
        *scalar_columns, data, metadata, recorded_at = zip(*rows, strict=True)
        loaded = load_json_texts(data + metadata)
        return (*scalar_columns, loaded[: len(data)], loaded[len(data) :], recorded_at)

    def _payload_rows(
        self, rows: list[tuple[Any, ...]]
    ) -> list[tuple[int, str, int, dict[str, Any]]]:
        if not rows:
            return []
        v, t, sv, d = zip(*rows, strict=True)
        return list(zip(v, t, sv, load_json_texts(d), strict=True))

    def _query_streams(self, query: str, params: Sequence[Any]) -> list[StreamInfo]:
        rows = self._fetch(query, params)
        return [StreamInfo(s, v, _from_iso(c), _from_iso(u)) for s, v, c, u in rows]

    def _query_snapshots(self, query: str, params: Sequence[Any]) -> list[Snapshot]:
        rows = self._fetch(query, params)
        return [Snapshot(s, v, sv, t, load_object(d), _from_iso(at)) for s, v, sv, t, d, at in rows]
