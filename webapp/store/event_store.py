"""EventStore: append, reads and snapshots over one engine, with hooks each backend fills in."""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Self, Unpack

import sqlalchemy as sa

from webapp.store import sql
from webapp.store.filters import LogFilters, check_filter_names, log_where
from webapp.store.types import (
    ANY,
    AppendResult,
    ExpectedVersion,
    InvalidAppend,
    NewEvent,
    RecordedEvent,
    Snapshot,
    StoreError,
    StreamInfo,
    WrongExpectedVersion,
)
from webapp.store.validation import (
    EventRow,
    check_expected_version,
    check_stream_id,
    encode_events,
    encode_snapshot_data,
    version_matches,
)


class Conflict(Exception):
    """Raised inside an append's transaction: the stream is at `actual`, not as expected."""

    def __init__(self, actual: int) -> None:
        self.actual = actual


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

    def __init__(self, engine: sa.Engine, *, max_payload_bytes: int = 1_000_000) -> None:
        if engine.dialect.name != self.dialect:
            msg = f"{type(self).__name__} serves {self.dialect}, not {engine.dialect.name!r}"
            raise StoreError(msg)
        self.engine = engine
        self.max_payload_bytes = max_payload_bytes
        self._write_lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ append

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion = ANY,
    ) -> AppendResult:
        """Append `events` to the stream atomically if its version matches `expected_version`.

        Raises WrongExpectedVersion (nothing appended) on a version conflict and
        InvalidAppend for bad input. Appending a batch whose event ids are already stored
        in this stream returns the original result instead of writing twice.
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
            base, positions = self._append_rows(stream_id, rows, expected_version, now)
        except Conflict as conflict:
            earlier = self._earlier_append(stream_id, events)
            if earlier is not None:
                return earlier
            raise WrongExpectedVersion(stream_id, expected_version, conflict.actual) from None
        except Exception as error:
            if self._is_integrity_error(error):
                earlier = self._earlier_append(stream_id, events)
                if earlier is not None:
                    return earlier
                msg = f"append to {stream_id!r} refused by the database: {error}"
                raise InvalidAppend(msg) from None
            raise
        recorded = [
            RecordedEvent(
                position,
                stream_id,
                base + i,
                event.event_id,
                event.type,
                event.schema_version,
                event.data,
                event.metadata,
                now,
            )
            for i, (event, position) in enumerate(zip(events, positions, strict=True), 1)
        ]
        return AppendResult(stream_id, base + len(recorded), recorded)

    def _earlier_append(self, stream_id: str, events: Sequence[NewEvent]) -> AppendResult | None:
        """The result of an earlier append of this very batch, if its event ids are all stored.

        Raises InvalidAppend when only some of the ids are stored, or elsewhere.
        """
        ids = [event.event_id for event in events]
        found = {e.event_id: e for e in self._events_by_ids(ids)}
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
            chunk = ids[start : start + sql.ID_BATCH]
            out += self._query_events(sql.events_by_ids(len(chunk)), self._event_id_params(chunk))
        return out

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
        return self._query_streams(*sql.streams_page(prefix, after, limit))

    def list_streams_by_activity(
        self,
        *,
        prefix: str = "",
        before: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[StreamInfo]:
        """Streams newest-updated first; the cursor is (updated_at, stream_id) of the last row."""
        cursor = None if before is None else (self._time_param(before[0]), before[1])
        return self._query_streams(*sql.streams_by_activity_page(prefix, cursor, limit))

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        found = self._query_streams(sql.STREAM_INFO, [stream_id])
        return found[0] if found else None

    def _stream_version(self, stream_id: str) -> int:
        info = self.stream_info(stream_id)
        return 0 if info is None else info.version

    def count_streams(self) -> int:
        return int(self._scalar(sql.COUNT_STREAMS) or 0)

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
        """One keyset page of the global log: `bound` on the position, then the filters."""
        if filters:
            check_filter_names(method, filters)
        where, params = log_where(filters, self._time_param, self._field_equals)
        return self._query_events(*sql.log_page(bound, position, order, limit, where, params))

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

    def _sql(self, query: str) -> str:
        """`query`, written with `?` placeholders, in the driver's parameter style."""
        return query

    def _fetch(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        fairy = self.engine.raw_connection()
        try:
            cur = fairy.driver_connection.cursor()
            try:
                cur.execute(self._sql(query), params)
                return cur.fetchall()
            finally:
                cur.close()
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
        self, stream_id: str, rows: list[EventRow], expected: ExpectedVersion, now: datetime
    ) -> tuple[int, list[int]]:
        """Write `rows` in one transaction: (the stream's version before, their positions).

        Raises Conflict, nothing written, when the stream's version does not match."""

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
