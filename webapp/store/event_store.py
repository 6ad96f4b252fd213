"""EventStore: append, reads and snapshots over one engine, with hooks each backend fills in."""

from __future__ import annotations

import logging
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Self, Unpack

import sqlalchemy as sa

from webapp.store import indexer, sql
from webapp.store.filters import LogFilters, check_filter_names, log_where, uses_index
from webapp.store.types import (
    ANY,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    InvalidAppend,
    NewEvent,
    RecordedEvent,
    Snapshot,
    StoreError,
    StreamInfo,
    WrongExpectedVersion,
    recorded_event,
)
from webapp.store.validation import (
    EventRow,
    check_expected_version,
    check_stream_id,
    encode_events,
    encode_snapshot_data,
    version_matches,
)

log = logging.getLogger("eventscope.store")

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one statement (`?` placeholders) in a transaction and returns its rows."""


class Conflict(Exception):
    """Raised inside an append's transaction: the stream is at `actual`, not as expected,
    or (`ids_stored`) some of the batch's event ids are stored already."""

    def __init__(self, actual: int, *, ids_stored: bool = False) -> None:
        self.actual = actual
        self.ids_stored = ids_stored


def checks_event_ids(expected: ExpectedVersion) -> bool:
    """Whether an append must look its event ids up before writing: with an exact version
    (or NO_STREAM) a retried batch meets a version conflict, and the conflict path finds
    it; ANY and STREAM_EXISTS would append it again."""
    return expected is ANY or expected is STREAM_EXISTS


def as_utc(dt: datetime) -> datetime:
    """`dt` in UTC (a naive time is taken as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


class EventStore(ABC):
    """An append-only event store over one SQLAlchemy engine; `open_store` picks the backend.

    Appends go straight to the DB-API connection with SQL built once (the hot path); reads
    are small keyset-paged queries, never OFFSET.

    >>> store = open_store("sqlite:///events.db")   # doctest: +SKIP
    >>> store.append("account-1", [NewEvent("MoneyDeposited", {"amount": 100})], NO_STREAM)
    """

    dialect: str
    """The engine's dialect name: "sqlite" or "postgresql"."""
    _stream_columns: str = sql.EVENT_COLUMNS
    """The columns a stream read selects."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_payload_bytes: int = 1_000_000,
        index_in_background: bool = True,
    ) -> None:
        if engine.dialect.name != self.dialect:
            msg = f"{type(self).__name__} serves {self.dialect}, not {engine.dialect.name!r}"
            raise StoreError(msg)
        self.engine = engine
        self.max_payload_bytes = max_payload_bytes
        self._write_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._indexer = indexer.BackgroundIndexer(self._catch_up_in_background)
        self._index_in_background = index_in_background
        self._appended = False
        self._closed = False

    # ------------------------------------------------------------------ append

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion = ANY,
        *,
        check_ids: bool = False,
    ) -> AppendResult:
        """Append `events` to the stream atomically if its version matches `expected_version`.

        Raises WrongExpectedVersion (nothing appended) on a version conflict and
        InvalidAppend for bad input. A retried batch (its event ids stored as this batch of
        this stream) returns the original result instead of writing twice: an exact version
        finds it on the conflict path; ANY and STREAM_EXISTS look the ids up first, and also
        refuse ids stored elsewhere. The index tables are left to the index builder.

        `check_ids=True` looks the ids up with an exact version too: for ids a caller may
        have sent before (a command's idempotency key), where the first append may have
        landed after the caller read the stream's version, so no conflict would find it.
        """
        check_stream_id(stream_id)
        check_expected_version(expected_version)
        rows = encode_events(events, self.max_payload_bytes)
        if not rows:
            current = self._stream_version(stream_id)
            if not version_matches(expected_version, current):
                raise WrongExpectedVersion(stream_id, expected_version, current)
            return AppendResult(stream_id, current, [])
        now = datetime.now(UTC)
        try:
            look_ids_up = check_ids or checks_event_ids(expected_version)
            base, positions = self._append_rows(stream_id, rows, expected_version, now, look_ids_up)
        except Conflict as conflict:
            earlier = self._earlier_append(stream_id, events)
            if earlier is not None:
                return earlier
            if conflict.ids_stored:  # seen in the transaction, gone since (deleted by hand)
                msg = f"append to {stream_id!r}: event ids of this batch are already stored"
                raise InvalidAppend(msg) from None
            raise WrongExpectedVersion(stream_id, expected_version, conflict.actual) from None
        except Exception as error:
            if self._is_integrity_error(error):
                earlier = self._earlier_append(stream_id, events)
                if earlier is not None:
                    return earlier
                msg = f"append to {stream_id!r} refused by the database: {error}"
                raise InvalidAppend(msg) from None
            raise
        self._appended = True
        if self._index_in_background:
            self._indexer.nudge()
        new = recorded_event
        recorded = [
            new(p, stream_id, v, e.event_id, e.type, e.schema_version, e.data, e.metadata, now)
            for v, (p, e) in enumerate(zip(positions, events, strict=True), base + 1)
        ]
        return AppendResult(stream_id, base + len(recorded), recorded)

    def _earlier_append(self, stream_id: str, events: Sequence[NewEvent]) -> AppendResult | None:
        """The result of an earlier append of this very batch, if its event ids are all stored.

        Raises InvalidAppend when only some of the ids are stored, or elsewhere.
        """
        ids = [event.event_id for event in events]
        found: dict[uuid.UUID, RecordedEvent] = {}
        for event in self._events_by_ids(ids):  # an id stored twice: its first occurrence
            found.setdefault(event.event_id, event)
        if not found:
            return None
        recorded = [found[i] for i in ids if i in found]
        first = recorded[0].stream_version
        if len(recorded) != len(ids) or [(e.stream_id, e.stream_version) for e in recorded] != [
            (stream_id, first + n) for n in range(len(ids))
        ]:
            msg = f"event ids of this batch are already stored, not as this batch of {stream_id!r}"
            raise InvalidAppend(msg)
        return AppendResult(stream_id, recorded[-1].stream_version, recorded)

    def _events_by_ids(self, ids: list[uuid.UUID]) -> list[RecordedEvent]:
        out: list[RecordedEvent] = []
        for start in range(0, len(ids), sql.ID_BATCH):
            chunk = self._event_id_params(ids[start : start + sql.ID_BATCH])
            out += self._query_events(sql.events_by_ids(len(chunk)), chunk + chunk)
        return sorted(out, key=lambda e: e.position)

    # ------------------------------------------------------------------ streams

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        """A stream's events from `from_version` on (backward: from it down; None = the last)."""
        query, params = sql.stream_page(
            self._stream_columns, stream_id, from_version, limit, backward
        )
        return self._stream_events(stream_id, query, params)

    def read_stream_payloads(
        self, stream_id: str, from_version: int | None = 1, *, limit: int | None = None
    ) -> list[tuple[int, str, int, dict[str, Any]]]:
        """(stream_version, type, schema_version, data) of a stream's events, ascending.

        The lean read for folding an aggregate: what `read_stream` returns without the
        event ids, metadata, positions and times (none of which a fold looks at).
        """
        query, params = sql.payload_page(stream_id, from_version, limit)
        return self._payload_rows(self._fetch(query, params))

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams in stream-id order, keyset-paged: pass the last id seen as `after`."""
        mark, tail = self._tail_streams()
        query, params = sql.streams_page(prefix, after, limit)
        rows = {s.stream_id: s for s in self._query_streams(query, params)}
        for info in tail.values():
            if info.stream_id.startswith(prefix) and (after is None or info.stream_id > after):
                rows[info.stream_id] = info
        return [rows[k] for k in sorted(rows, key=_id_order)][:limit]

    def list_streams_by_activity(
        self,
        *,
        prefix: str = "",
        before: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[StreamInfo]:
        """Streams newest-updated first; the cursor is (updated_at, stream_id) of the last row."""
        mark, tail = self._tail_streams()
        cursor = None if before is None else (self._time_param(before[0]), before[1])
        query, params = sql.streams_by_activity_page(prefix, cursor, limit + len(tail))
        rows = [s for s in self._query_streams(query, params) if s.stream_id not in tail]
        key = _activity_order
        rows += [
            info
            for info in tail.values()
            if info.stream_id.startswith(prefix)
            and (before is None or key(info) < (as_utc(before[0]), _id_order(before[1])))
        ]
        return sorted(rows, key=key, reverse=True)[:limit]

    def list_streams_at(
        self, position: int, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams in stream-id order as the log stood at global `position`: only those with
        an event at or before it, each with its version and last recorded time then."""
        query, params = sql.streams_at_page(position, prefix, after, limit)
        rows = self._query_streams(query, params)
        return sorted(rows, key=lambda info: _id_order(info.stream_id))

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        """The stream's version and times, read from the log itself (exact at once)."""
        found = self._query_streams(sql.STREAM_INFO, [stream_id])
        return found[0] if found else None

    def _stream_version(self, stream_id: str) -> int:
        return int(self._fetch(sql.STREAM_VERSION, [stream_id])[0][0] or 0)

    def count_streams(self) -> int:
        mark = self.index_position()
        indexed = int(self._scalar(sql.COUNT_STREAMS) or 0)
        return indexed + int(self._fetch(sql.NEW_TAIL_STREAMS, [mark])[0][0] or 0)

    def _tail_streams(self) -> tuple[int, dict[str, StreamInfo]]:
        """The index mark, and the streams as the log beyond it leaves them (usually few:
        the builder runs right behind the appends)."""
        mark = self.index_position()
        if mark >= self.head_position():
            return mark, {}
        tail = self._query_streams(sql.TAIL_STREAMS, [mark])
        return mark, {info.stream_id: info for info in tail}

    # ------------------------------------------------------------------ the global log

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """The global log ($all): events with position > `after`, ascending, kept by `filters`."""
        return self._read_log("read_all", "position > ?", after, "ASC", limit, filters)

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """The global log newest first: events with position < `before` (None: from the head)."""
        bound = None if before is None else "position < ?"
        return self._read_log("read_all_backward", bound, before, "DESC", limit, filters)

    def _read_log(
        self,
        method: str,
        bound: str | None,
        position: int | None,
        order: str,
        limit: int,
        filters: LogFilters,
    ) -> list[RecordedEvent]:
        """One keyset page of the global log: `bound` on the position, then the filters.

        Filters the index tables serve read them up to the index mark and the log itself
        beyond it (a short range when the builder keeps up), so a page is always complete
        up to the head it was read at."""
        if filters:
            check_filter_names(method, filters)
        bounds = [] if bound is None or position is None else [(bound, position)]
        if not uses_index(filters):
            where, params = log_where(filters, self._time_param, self._field_equals)
            return self._query_events(*sql.log_page(bounds, order, limit, where, params))
        mark = self.index_position()
        indexed = (True, [*bounds, ("position <= ?", mark)])
        tail = (False, [*bounds, ("position > ?", mark)])
        found: list[RecordedEvent] = []
        for through_index, part_bounds in (indexed, tail) if order == "ASC" else (tail, indexed):
            if len(found) >= limit:
                break
            where, params = log_where(
                filters, self._time_param, self._field_equals, "i" if through_index else "e"
            )
            query, params = sql.log_page(
                part_bounds, order, limit - len(found), where, params, indexed=through_index
            )
            found += self._query_events(query, params)
        return found

    def last_position_before(self, until: datetime, clock: str = "recorded") -> int:
        """The highest position of an event before `until` (exclusive, naive times are UTC)
        on `clock`: `recorded` (recorded_at) or `happened` (occurred_at); 0 if none.

        Exact whatever the order of the times in the log (a backdated event included), and
        bounded: the log beyond the index mark, then the clock blocks from the top down to
        the first holding an earlier time (`event_clock_blocks`), then that block alone."""
        column = {"recorded": "recorded_at", "happened": "occurred_at"}[clock]
        least = {"recorded": "recorded_min", "happened": "occurred_min"}[clock]
        at = self._time_param(until)
        mark = self.index_position()
        tail = self._fetch(
            f"SELECT MAX(position) FROM events WHERE position > ? AND {column} < ?", [mark, at]
        )
        if tail and tail[0][0] is not None:
            return int(tail[0][0])
        size = indexer.CLOCK_BLOCK
        below = mark // size + 1
        while True:
            block = self._fetch(
                f"SELECT block FROM event_clock_blocks WHERE block < ? AND {least} < ? "
                "ORDER BY block DESC LIMIT 1",
                [below, at],
            )
            if not block:
                return 0
            below = int(block[0][0])
            found = self._fetch(
                "SELECT MAX(position) FROM event_index "
                f"WHERE position >= ? AND position < ? AND position <= ? AND {column} < ?",
                [below * size, (below + 1) * size, mark, at],
            )
            if found and found[0][0] is not None:
                return int(found[0][0])

    def get_event(self, position: int) -> RecordedEvent | None:
        found = self._query_events(sql.EVENT_AT, [position])
        return found[0] if found else None

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        try:
            eid = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id))
        except ValueError:
            return None
        found = self._events_by_ids([eid])
        return found[0] if found else None

    def head_position(self) -> int:
        """The highest position in the global log (0 when empty)."""
        return int(self._scalar(sql.HEAD_POSITION) or 0)

    def count_events(self) -> int:
        return int(self._scalar(sql.COUNT_EVENTS) or 0)

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """How many events of each type the log holds (the index, then the log beyond it)."""
        mark = self.index_position()
        return {
            name: int(self._fetch(sql.COUNT_INDEXED_TYPE, [name, mark])[0][0] or 0)
            + int(self._fetch(sql.COUNT_TAIL_TYPE, [name, mark])[0][0] or 0)
            for name in type_names
        }

    # ------------------------------------------------------------------ the index builder

    def index_position(self) -> int:
        """The index mark: the index tables hold every event up to this position."""
        rows = self._fetch(sql.INDEX_MARK, ())
        return int(rows[0][0]) if rows else 0

    def catch_up_index(
        self,
        *,
        until: int | None = None,
        batch: int = indexer.BATCH,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Index the log up to `until` (None: the head) now, a batch per transaction, and
        return the mark; `progress(mark, head)` after each batch. Safe beside builders in
        other threads and processes."""
        with self._index_lock:
            while True:
                before = self.index_position()
                if until is not None and before >= until:
                    return before
                mark = self._index_batch(batch, wait=True)
                if mark is None or mark <= before:
                    return before if mark is None else mark
                if progress is not None:
                    progress(mark, self.head_position())

    def rebuild_index(
        self, *, batch: int = indexer.BATCH, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Empty the index tables and index the whole log again; return the mark. Readers
        stay right meanwhile (what is not indexed yet is read from the log itself)."""
        with self._index_lock, self._index_transaction(True) as execute:
            assert execute is not None
            execute(indexer.CLEAR_EVENT_INDEX, ())
            execute(indexer.CLEAR_STREAMS, ())
            execute(indexer.CLEAR_CLOCK_BLOCKS, ())
            execute(indexer.SET_MARK, (0, self._time_param(datetime.now(UTC))))
        return self.catch_up_index(batch=batch, progress=progress)

    def wait_until_indexed(self, position: int) -> int:
        """Return once the index mark is at `position` or beyond (indexing here if no
        builder has got there yet); return the mark."""
        mark = self.index_position()
        return mark if mark >= position else self.catch_up_index(until=position)

    def start_indexing(self) -> None:
        """Keep the index up with the log from a background thread of this process: at
        once, after each append here, and every few seconds for other processes' events.
        (A store that appends starts the thread by itself; workers call this.)"""
        self._check_open()
        self._indexer.start()

    def _catch_up_in_background(self, wait: bool) -> int:
        """Index up to the head as it is now (the appends that follow wait for the next
        round: a builder that chased every new event would hold the write lock all along)."""
        if not self._index_lock.acquire(blocking=False):
            return -1  # a reader of this process is catching up already
        try:
            head = self.head_position()
            start = mark = self.index_position()
            while mark < head:
                moved = self._index_batch(indexer.BATCH, wait=wait, until=head)
                if moved is None or moved <= mark:
                    break
                mark = moved
        finally:
            self._index_lock.release()
        if mark > start:
            self._after_index_round()
        return mark

    def _after_index_round(self) -> None:
        """Run by the background builder after a round that indexed events (SQLite moves
        the log's write-ahead pages into the file here, off the append path)."""
        return

    def _index_batch(self, batch: int, *, wait: bool, until: int | None = None) -> int | None:
        """Index up to `batch` events past the mark in one transaction; return the new mark
        (None: another process is indexing and `wait` is False)."""
        with self._index_transaction(wait) as execute:
            if execute is None:
                return None
            mark = int(execute(indexer.READ_MARK, ())[0][0])
            head = int(execute(sql.HEAD_POSITION, ())[0][0] or 0)
            upto = min(mark + batch, head if until is None else min(head, until))
            if upto <= mark:
                return mark
            execute(indexer.INDEX_EVENTS, (mark, upto))
            execute(indexer.INDEX_STREAMS, (mark, upto))
            first_block = (mark + 1) // indexer.CLOCK_BLOCK * indexer.CLOCK_BLOCK
            execute(indexer.INDEX_CLOCK_BLOCKS, (first_block, upto))
            execute(indexer.SET_MARK, (upto, self._time_param(datetime.now(UTC))))
            return upto

    @abstractmethod
    def wait_for_events(self, after: int, timeout: float) -> int:
        """Block until the head is above `after` or `timeout` seconds pass; return the head."""

    # ------------------------------------------------------------------ snapshots

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store `snapshot`, replacing one already taken at the same stream version."""
        if not isinstance(snapshot, Snapshot):
            msg = f"not a Snapshot: {snapshot!r}"
            raise InvalidAppend(msg)
        check_stream_id(snapshot.stream_id)
        if type(snapshot.version) is not int or snapshot.version < 1:
            msg = f"snapshot version must be a stream version >= 1, not {snapshot.version!r}"
            raise InvalidAppend(msg)
        data = encode_snapshot_data(snapshot.data)
        taken_at = snapshot.taken_at or datetime.now(UTC)
        params = [
            snapshot.stream_id,
            snapshot.version,
            snapshot.snapshot_version,
            snapshot.type,
            data,
            self._time_param(taken_at),
        ]
        self._execute_write(sql.SAVE_SNAPSHOT, params)

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot of the stream at or below `max_version` (None: any)."""
        found = self._query_snapshots(*sql.snapshot_at_most(stream_id, max_version))
        return found[0] if found else None

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        """The newest snapshot of each of `stream_ids` that has one, in one query per
        500 ids (a listing of many streams need not ask stream by stream)."""
        found: dict[str, Snapshot] = {}
        ids = list(dict.fromkeys(stream_ids))
        for start in range(0, len(ids), sql.ID_BATCH):
            chunk = ids[start : start + sql.ID_BATCH]
            latest = self._query_snapshots(sql.latest_snapshots(len(chunk)), chunk)
            found.update((snap.stream_id, snap) for snap in latest)
        return found

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        """Every snapshot of the stream, oldest first."""
        return self._query_snapshots(sql.LIST_SNAPSHOTS, [stream_id])

    def delete_snapshots(self, stream_id: str) -> int:
        """Delete every snapshot of the stream; return how many there were."""
        return self._execute_write(sql.DELETE_SNAPSHOTS, [stream_id])

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Release connections (and the PostgreSQL listener); the store is unusable afterwards."""
        self._indexer.stop()
        if self._appended and self._index_in_background and not self._closed:
            try:  # leave the index complete for whoever opens the store next
                self.catch_up_index()
            except Exception:
                log.warning("closing the store: the index is not caught up", exc_info=True)
        with self._write_lock:
            self._closed = True
            held = self._detach()
        if held is not None:
            held.close()
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string()!r})"

    def _check_open(self) -> None:
        if self._closed:
            msg = "the store is closed"
            raise StoreError(msg)

    _reads_in_autocommit = False
    """Whether `_fetch` runs its statement outside a transaction (PostgreSQL: one round
    trip instead of BEGIN, the query and the ROLLBACK the pool sends on return; a single
    statement sees one snapshot either way)."""

    def _sql(self, query: str) -> str:
        """`query`, written with `?` placeholders, in the driver's parameter style."""
        return query

    def _fetch(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of one read statement, on a connection of the pool."""
        fairy = self.engine.raw_connection()
        try:
            conn = fairy.driver_connection
            if self._reads_in_autocommit:
                conn.autocommit = True
            cur = conn.cursor()
            try:
                cur.execute(self._sql(query), params)
                return cur.fetchall()
            finally:
                cur.close()
                if self._reads_in_autocommit:
                    conn.autocommit = False  # as the pool lent it
        finally:
            fairy.close()

    def _scalar(self, query: str) -> Any:
        rows = self._fetch(query, ())
        return rows[0][0] if rows else None

    def _execute_write(self, query: str, params: Sequence[Any]) -> int:
        with self.engine.begin() as conn:
            return conn.exec_driver_sql(self._sql(query), tuple(params)).rowcount

    # ------------------------------------------------------------------ what a backend provides

    @abstractmethod
    def _append_rows(
        self,
        stream_id: str,
        rows: list[EventRow],
        expected: ExpectedVersion,
        now: datetime,
        check_ids: bool,
    ) -> tuple[int, list[int]]:
        """Write `rows` in one transaction: (the stream's version before, their positions).

        Raises Conflict, nothing written, when the stream's version does not match, or
        (`check_ids`) when some of the rows' event ids are stored already."""

    @abstractmethod
    def _index_transaction(self, wait: bool) -> AbstractContextManager[Execute | None]:
        """A write transaction for the index builder, serialised with every other builder
        of the store; None inside when `wait` is False and another builder holds it."""

    @abstractmethod
    def _is_integrity_error(self, error: Exception) -> bool:
        """Whether the driver refused a write for a constraint (a duplicate event id)."""

    @abstractmethod
    def _event_id_params(self, ids: list[uuid.UUID]) -> list[Any]: ...

    @abstractmethod
    def _time_param(self, dt: datetime) -> Any: ...

    @abstractmethod
    def _field_equals(self, name: str, value: str) -> tuple[str, list[Any]]:
        """SQL testing that the data's top-level field `name` reads as `value`, with params."""

    @abstractmethod
    def _query_events(self, query: str, params: Sequence[Any]) -> list[RecordedEvent]: ...

    @abstractmethod
    def _stream_events(
        self, stream_id: str, query: str, params: Sequence[Any]
    ) -> list[RecordedEvent]:
        """The events `query` selects in `_stream_columns` from one stream."""

    @abstractmethod
    def _payload_rows(
        self, rows: list[tuple[Any, ...]]
    ) -> list[tuple[int, str, int, dict[str, Any]]]: ...

    @abstractmethod
    def _query_streams(self, query: str, params: Sequence[Any]) -> list[StreamInfo]: ...

    @abstractmethod
    def _query_snapshots(self, query: str, params: Sequence[Any]) -> list[Snapshot]: ...

    @abstractmethod
    def _detach(self) -> Any:
        """Take the backend's held connection or listener off the store (None if none)."""


def _id_order(stream_id: str) -> bytes:
    """Stream ids compare byte-wise in both databases (UTF-8 order)."""
    return stream_id.encode("utf-8", "surrogatepass")


def _activity_order(info: StreamInfo) -> tuple[datetime, bytes]:
    return as_utc(info.updated_at), _id_order(info.stream_id)
