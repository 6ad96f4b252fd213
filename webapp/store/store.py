"""The event store: append with optimistic concurrency, read streams and the global log.

Writes go straight to the DB-API connection with precomputed SQL (the hot path);
everything else goes through small keyset-paged queries. No OFFSET anywhere.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from webapp.database.engine import create_store_engine, sqlite_database_key, sqlite_write_guard
from webapp.store.notify import PostgresListener, postgres_channel
from webapp.store.types import (
    ANY,
    NO_STREAM,
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
    _ExpectedVersionForm,
)

# Taken by every PostgreSQL append before it draws positions: positions are then handed
# out in commit order, so a follower never finds a new event below one it has seen.
# Two-key form: (eventscope's constant, the store's schema), so stores in different
# schemas of one database do not queue on each other.
APPEND_LOCK_KEY = 0x65760002
MAX_STREAM_ID_LENGTH = 512
MAX_TYPE_LENGTH = 255
SQLITE_POLL_INTERVAL = 0.05


def _not_json(value: object) -> object:
    msg = f"{type(value).__name__} is not JSON-serialisable"
    raise TypeError(msg)


def _make_dumps() -> Callable[[Any], str]:
    """Compact, ASCII-only JSON without NaN, built once (json.dumps rebuilds its encoder
    on every call). Cycles end in RecursionError, which append reports as bad input."""
    try:
        from json.encoder import c_make_encoder, encode_basestring_ascii
    except ImportError:  # pragma: no cover - CPython always has the C encoder
        c_make_encoder = None
    if c_make_encoder is None:  # pragma: no cover
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    encode = c_make_encoder(
        None, _not_json, encode_basestring_ascii, None, ":", ",", False, False, False
    )
    join = "".join

    def dumps(value: Any) -> str:
        return join(encode(value, 0))

    return dumps


_dumps = _make_dumps()
_loads = json.loads
_scan_json = json.JSONDecoder().scan_once  # the C scanner, without decode()'s whitespace checks
_from_iso = datetime.fromisoformat
_UUID = uuid.UUID
_new_object = object.__new__
_set_attribute = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def _uuid_from_hex(text: str) -> uuid.UUID:
    """uuid.UUID(hex=text) for the store's own 32-digit hex, without __init__'s parsing."""
    value = _new_object(_UUID)
    _set_attribute(value, "int", int(text, 16))
    _set_attribute(value, "is_safe", _UNKNOWN_SAFETY)
    return value


def _load_object(text: str) -> Any:
    """json.loads for the compact JSON objects the store writes ("{}" is the common metadata)."""
    if text == "{}":
        return {}
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:  # not starting with a JSON value (e.g. whitespace): the full parser
        return _loads(text)
    return value if end == len(text) else _loads(text)


_EVENT_COLUMNS = (
    "position, stream_id, stream_version, event_id, type, schema_version, data, metadata, "
    "recorded_at"
)
# A stream read knows its stream id: one text column fewer to fetch per row.
_STREAM_EVENT_COLUMNS = (
    "position, stream_version, event_id, type, schema_version, data, metadata, recorded_at"
)
_STREAM_COLUMNS = "stream_id, version, created_at, updated_at"
_SNAPSHOT_COLUMNS = "stream_id, version, snapshot_version, type, data, taken_at"
_SNAPSHOT_BATCH = 500
_INSERT_COLUMNS = (
    "stream_id, stream_version, event_id, type, schema_version, data, metadata, "
    "correlation_id, actor, recorded_at"
)

_SQLITE_UPSERT_STREAM = (
    "INSERT INTO streams (stream_id, version, created_at, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (stream_id) DO UPDATE SET version = streams.version + excluded.version, "
    "updated_at = excluded.updated_at RETURNING version"
)
_SQLITE_INSERT_EVENT = (
    f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_PG_LOCK_UPSERT_STREAM = (
    "WITH appending AS "
    f"(SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY}, hashtext(current_schema()))) "
    "INSERT INTO streams (stream_id, version, created_at, updated_at) "
    "SELECT %s, %s, %s, %s FROM appending "
    "ON CONFLICT (stream_id) DO UPDATE SET version = streams.version + excluded.version, "
    "updated_at = excluded.updated_at RETURNING version"
)
# Events are inserted, listeners notified and positions returned (in stream-version
# order) by one statement; the channel name is the first parameter. A batch travels
# as one array per column through unnest: one plan and eleven parameters whatever
# its size, and rows come out of unnest (and draw positions) in array order.
_PG_INSERT_TAIL = (
    "RETURNING position, stream_version), "
    "told AS (SELECT pg_notify((SELECT name FROM channel), max(position)::text) FROM inserted) "
    "SELECT position FROM inserted, told ORDER BY stream_version"
)
_PG_INSERT_ONE = (
    "WITH channel AS (SELECT %s::text AS name), "
    f"inserted AS (INSERT INTO events ({_INSERT_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) " + _PG_INSERT_TAIL
)
_PG_INSERT_MANY = (
    "WITH channel AS (SELECT %s::text AS name), "
    f"inserted AS (INSERT INTO events ({_INSERT_COLUMNS}) "
    "SELECT %s, v, e, t, s, d::jsonb, m::jsonb, c, a, %s FROM unnest("
    "%b::int[], %b::uuid[], %b::text[], %b::int[], %b::text[], %b::text[], %b::text[], "
    "%b::text[]) AS batch (v, e, t, s, d, m, c, a) " + _PG_INSERT_TAIL
)


class _Conflict(Exception):
    def __init__(self, actual: int) -> None:
        self.actual = actual


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _sqlite_time(dt: datetime) -> str:
    """SQLite keeps times as fixed-width UTC text, so text order is time order."""
    return _utc(dt).isoformat(" ", "microseconds")


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string starting with `prefix` (None: unbounded)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def check_expected_version(expected: object) -> None:
    """Refuse an expected version that is none of ANY, NO_STREAM, STREAM_EXISTS or an int >= 0."""
    if isinstance(expected, _ExpectedVersionForm):
        if expected in (ANY, NO_STREAM, STREAM_EXISTS):
            return
    elif type(expected) is int and expected >= 0:
        return
    msg = f"unknown expected version {expected!r}: use ANY, NO_STREAM, STREAM_EXISTS or an int >= 0"
    raise InvalidAppend(msg)


def _version_matches(expected: ExpectedVersion, current: int) -> bool:
    if expected is ANY:
        return True
    if expected is NO_STREAM:
        return current == 0
    if expected is STREAM_EXISTS:
        return current > 0
    return current == expected


DATA_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


LOG_FILTERS = (
    "types",
    "stream_prefix",
    "correlation_id",
    "actor",
    "since",
    "until",
    "data_equals",
    "older_schemas",
)


def _log_filters(arguments: dict[str, Any]) -> dict[str, Any]:
    """The global-log filters among a read method's arguments."""
    return {name: arguments[name] for name in LOG_FILTERS}


def check_data_field_name(name: object) -> None:
    """A payload field to filter on: a top-level name of letters, digits and `_`."""
    if not isinstance(name, str) or not DATA_FIELD_NAME.fullmatch(name):
        msg = f"a data field name is letters, digits and '_' (at most 64), not {name!r}"
        raise ValueError(msg)


def _check_stream_id(stream_id: object) -> None:
    if not isinstance(stream_id, str) or not stream_id:
        msg = f"stream id must be a non-empty string, not {stream_id!r}"
        raise InvalidAppend(msg)
    if len(stream_id) > MAX_STREAM_ID_LENGTH or "\x00" in stream_id or stream_id == "$all":
        msg = f"invalid stream id {stream_id[:80]!r}"
        raise InvalidAppend(msg)


class EventStore:
    """An append-only event store over one SQLAlchemy engine (SQLite or PostgreSQL).

    >>> store = open_store("sqlite:///events.db")   # doctest: +SKIP
    >>> store.append("account-1", [NewEvent("MoneyDeposited", {"amount": 100})], NO_STREAM)
    """

    def __init__(self, engine: sa.Engine, *, max_payload_bytes: int = 1_000_000) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            msg = f"unsupported dialect {self.dialect!r}"
            raise StoreError(msg)
        self.max_payload_bytes = max_payload_bytes
        self._sqlite = self.dialect == "sqlite"
        self._sqlite_key = sqlite_database_key(engine.url) if self._sqlite else ""
        self._write_lock = threading.Lock()
        self._writer: Any = None  # SQLite: one pooled connection kept for appends
        self._writer_pid = 0
        self._listener: PostgresListener | None = None
        self._channel: str | None = None
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
        _check_stream_id(stream_id)
        check_expected_version(expected_version)
        rows = self._encode(events)
        if not rows:
            current = self._stream_version(stream_id)
            if not _version_matches(expected_version, current):
                raise WrongExpectedVersion(stream_id, expected_version, current)
            return AppendResult(stream_id, current, [])
        now = datetime.now(UTC)
        try:
            if self._sqlite:
                base, positions = self._append_sqlite(stream_id, rows, expected_version, now)
            else:
                base, positions = self._append_postgresql(stream_id, rows, expected_version, now)
        except _Conflict as conflict:
            earlier = self._earlier_append(stream_id, events)
            if earlier is not None:
                return earlier
            raise WrongExpectedVersion(stream_id, expected_version, conflict.actual) from None
        except Exception as error:
            if _is_integrity_error(error):
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

    def _encode(self, events: Sequence[NewEvent]) -> list[tuple[Any, ...]]:
        """Validate and serialise a batch: (event_id, type, schema_version, data, metadata,
        correlation_id, actor) per event."""
        if isinstance(events, NewEvent) or not isinstance(events, Sequence | Iterable):
            msg = "events must be a sequence of NewEvent"
            raise InvalidAppend(msg)
        limit = self.max_payload_bytes
        rows = []
        seen: set[int] = set()
        for event in events:
            if type(event) is not NewEvent:
                msg = f"not a NewEvent: {event!r}"
                raise InvalidAppend(msg)
            event_type = event.type
            if (
                not isinstance(event_type, str)
                or not event_type
                or len(event_type) > MAX_TYPE_LENGTH
                or "\x00" in event_type
            ):
                msg = f"invalid event type {event_type!r}"
                raise InvalidAppend(msg)
            event_id = event.event_id
            if not isinstance(event_id, _UUID) or event_id.int in seen:
                msg = f"event id must be a UUID unique in the batch: {event_id!r}"
                raise InvalidAppend(msg)
            seen.add(event_id.int)
            if type(event.schema_version) is not int or not 1 <= event.schema_version < 2**31:
                msg = f"schema version must be a positive int, not {event.schema_version!r}"
                raise InvalidAppend(msg)
            metadata = event.metadata
            if not isinstance(event.data, dict) or not isinstance(metadata, dict):
                msg = f"{event_type}: data and metadata must be JSON objects (dicts)"
                raise InvalidAppend(msg)
            try:
                data = _dumps(event.data)
                meta = _dumps(metadata)
            except (TypeError, ValueError, RecursionError) as error:
                msg = f"{event_type}: data is not JSON-serialisable: {error}"
                raise InvalidAppend(msg) from None
            size = len(data) + len(meta)  # ASCII-only JSON: characters == bytes
            if size > limit:
                msg = f"{event_type}: payload of {size} bytes exceeds the limit of {limit}"
                raise InvalidAppend(msg)
            if _has_nul(data) or _has_nul(meta):
                msg = f"{event_type}: strings with NUL characters cannot be stored"
                raise InvalidAppend(msg)
            correlation_id = metadata.get("correlation_id")
            actor = metadata.get("actor")
            rows.append(
                (
                    event.event_id,
                    event_type,
                    event.schema_version,
                    data,
                    meta,
                    None if correlation_id is None else str(correlation_id),
                    None if actor is None else str(actor),
                )
            )
        return rows

    def _append_sqlite(
        self, stream_id: str, rows: list[tuple[Any, ...]], expected: ExpectedVersion, now: datetime
    ) -> tuple[int, list[int]]:
        count = len(rows)
        stamp = now.isoformat(" ", "microseconds")
        with self._write_lock, sqlite_write_guard(self._sqlite_key):
            conn = self._sqlite_writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                (version,) = conn.execute(
                    _SQLITE_UPSERT_STREAM, (stream_id, count, stamp, stamp)
                ).fetchone()
                base = version - count
                if not _version_matches(expected, base):
                    raise _Conflict(base)
                if count == 1:
                    eid, etype, sv, data, meta, corr, actor = rows[0]
                    last = conn.execute(
                        _SQLITE_INSERT_EVENT,
                        (stream_id, base + 1, eid.hex, etype, sv, data, meta, corr, actor, stamp),
                    ).lastrowid
                else:
                    conn.executemany(
                        _SQLITE_INSERT_EVENT,
                        [
                            (stream_id, base + i, eid.hex, *rest, stamp)
                            for i, (eid, *rest) in enumerate(rows, 1)
                        ],
                    )
                    (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return base, list(range(last - count + 1, last + 1))

    def _sqlite_writer(self) -> Any:
        if self._writer is None or self._writer_pid != os.getpid():
            if self._closed:
                msg = "the store is closed"
                raise StoreError(msg)
            if self._writer is not None:  # inherited across fork: leave the parent's alone
                self.engine.dispose(close=False)
            self._writer = self.engine.raw_connection()
            self._writer_pid = os.getpid()
        return self._writer.driver_connection

    def _append_postgresql(
        self, stream_id: str, rows: list[tuple[Any, ...]], expected: ExpectedVersion, now: datetime
    ) -> tuple[int, list[int]]:
        count = len(rows)
        channel = self._notify_channel()
        fairy = self.engine.raw_connection()
        try:
            conn = fairy.driver_connection
            try:
                with conn.cursor() as cur:
                    cur.execute(_PG_LOCK_UPSERT_STREAM, (stream_id, count, now, now))
                    (version,) = cur.fetchone()
                    base = version - count
                    if not _version_matches(expected, base):
                        raise _Conflict(base)
                    if count == 1:
                        (r,) = rows
                        params: list[Any] = [channel, stream_id, base + 1, *r, now]
                        cur.execute(_PG_INSERT_ONE, params)
                    else:
                        columns = [list(column) for column in zip(*rows, strict=True)]
                        versions = list(range(base + 1, base + count + 1))
                        cur.execute(_PG_INSERT_MANY, [channel, stream_id, now, versions, *columns])
                    positions = [p for (p,) in cur.fetchall()]
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        finally:
            fairy.close()
        return base, positions

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
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            params = [i.hex for i in chunk] if self._sqlite else chunk
            out += self._query_events(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_id IN ({marks})", params
            )
        return out

    # ------------------------------------------------------------------ reads

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        """A stream's events from `from_version` on (backward: from it down; None = the last)."""
        params: list[Any] = [stream_id]
        if backward:
            where = "stream_id = ?"
            if from_version is not None:
                where += " AND stream_version <= ?"
                params.append(from_version)
            order = "DESC"
        else:
            where = "stream_id = ? AND stream_version >= ?"
            params.append(1 if from_version is None else from_version)
            order = "ASC"
        columns = _STREAM_EVENT_COLUMNS if self._sqlite else _EVENT_COLUMNS
        sql = f"SELECT {columns} FROM events WHERE {where} ORDER BY stream_version {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(_check_limit(limit))
        if not self._sqlite:
            return self._query_events(sql, params)
        new, uuid_from_hex, load, from_iso = RecordedEvent, _uuid_from_hex, _load_object, _from_iso
        return [
            new(p, stream_id, v, uuid_from_hex(e), t, sv, load(d), load(m), from_iso(r))
            for p, v, e, t, sv, d, m, r in self._fetch(sql, params)
        ]

    def read_stream_payloads(
        self, stream_id: str, from_version: int | None = 1, *, limit: int | None = None
    ) -> list[tuple[int, str, int, dict[str, Any]]]:
        """(stream_version, type, schema_version, data) of a stream's events, ascending.

        The lean read for folding an aggregate: what `read_stream` returns without the
        event ids, metadata, positions and times (none of which a fold looks at).
        """
        sql = (
            "SELECT stream_version, type, schema_version, data FROM events "
            "WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version"
        )
        params: list[Any] = [stream_id, 1 if from_version is None else from_version]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(_check_limit(limit))
        rows = self._fetch(sql, params)
        if not self._sqlite:
            return rows
        load = _load_object
        return [(v, t, sv, load(d)) for v, t, sv, d in rows]

    def read_all(
        self,
        after: int = 0,
        *,
        limit: int = 1000,
        types: Sequence[str] | str | None = None,
        stream_prefix: str | None = None,
        correlation_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        data_equals: tuple[str, str] | None = None,
        older_schemas: Mapping[str, int] | None = None,
    ) -> list[RecordedEvent]:
        """The global log ($all): events with position > `after`, ascending, filtered.

        `data_equals=(field, text)` keeps events whose stored data has that top-level field
        with that value written as text (`10023` matches the number and the string). No
        index serves it: a rare value scans the log, narrowed by the other filters.
        `older_schemas={type: version}` also keeps, whatever their data, events of those
        types stored under a schema below `version`: the caller upcasts and matches them."""
        filters = _log_filters(locals())
        return self._read_log("position > ?", after, "ASC", limit, filters)

    def read_all_backward(
        self,
        before: int | None = None,
        *,
        limit: int = 1000,
        types: Sequence[str] | str | None = None,
        stream_prefix: str | None = None,
        correlation_id: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        data_equals: tuple[str, str] | None = None,
        older_schemas: Mapping[str, int] | None = None,
    ) -> list[RecordedEvent]:
        """The global log newest first: events with position < `before` (None: from the head)."""
        filters = _log_filters(locals())
        bound = None if before is None else "position < ?"
        return self._read_log(bound, before, "DESC", limit, filters)

    def _read_log(
        self,
        bound: str | None,
        position: int | None,
        order: str,
        limit: int,
        filters: dict[str, Any],
    ) -> list[RecordedEvent]:
        """One keyset page of the global log: `bound` on the position, then the filters."""
        where, params = self._filters(**filters)
        if bound is not None:
            where.insert(0, bound)
            params.insert(0, position)
        params.append(_check_limit(limit))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        sql = f"SELECT {_EVENT_COLUMNS} FROM events {clause}ORDER BY position {order} LIMIT ?"
        return self._query_events(sql, params)

    def _filters(
        self,
        *,
        types: Sequence[str] | str | None,
        stream_prefix: str | None,
        correlation_id: str | None,
        actor: str | None,
        since: datetime | None,
        until: datetime | None,
        data_equals: tuple[str, str] | None = None,
        older_schemas: Mapping[str, int] | None = None,
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if types is not None:
            type_list = [types] if isinstance(types, str) else list(types)
            if not type_list:
                where.append("1 = 0")
            else:
                where.append(f"type IN ({', '.join('?' * len(type_list))})")
                params += type_list
        if stream_prefix:
            where.append("stream_id >= ?")
            params.append(stream_prefix)
            upper = _prefix_upper_bound(stream_prefix)
            if upper is not None:
                where.append("stream_id < ?")
                params.append(upper)
        if correlation_id is not None:
            where.append("correlation_id = ?")
            params.append(str(correlation_id))
        if actor is not None:
            where.append("actor = ?")
            params.append(str(actor))
        if since is not None:
            where.append("recorded_at >= ?")
            params.append(self._time_param(since))
        if until is not None:
            where.append("recorded_at < ?")
            params.append(self._time_param(until))
        if data_equals is not None:
            name, value = data_equals
            check_data_field_name(name)
            if self._sqlite:
                match = "CAST(json_extract(data, ?) AS TEXT) = ?"
                params += [f'$."{name}"', str(value)]
            else:
                match = "data ->> ? = ?"
                params += [name, str(value)]
            for type_name, version in sorted((older_schemas or {}).items()):
                match += " OR (type = ? AND schema_version < ?)"
                params += [type_name, int(version)]
            where.append(f"({match})")
        return where, params

    def get_event(self, position: int) -> RecordedEvent | None:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE position = ?"
        found = self._query_events(sql, [position])
        return found[0] if found else None

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        try:
            eid = event_id if isinstance(event_id, _UUID) else _UUID(str(event_id))
        except ValueError:
            return None
        found = self._events_by_ids([eid])
        return found[0] if found else None

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams in stream-id order, keyset-paged: pass the last id seen as `after`."""
        where, params = self._prefix_clause(prefix)
        if after is not None:
            where.append("stream_id > ?")
            params.append(after)
        params.append(_check_limit(limit))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        sql = f"SELECT {_STREAM_COLUMNS} FROM streams {clause}ORDER BY stream_id LIMIT ?"
        return self._query_streams(sql, params)

    def list_streams_by_activity(
        self,
        *,
        prefix: str = "",
        before: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[StreamInfo]:
        """Streams newest-updated first; the cursor is (updated_at, stream_id) of the last row."""
        where, params = self._prefix_clause(prefix)
        if before is not None:
            updated_at, stream_id = before
            stamp = self._time_param(updated_at)
            where.append("(updated_at, stream_id) < (?, ?)")
            params += [stamp, stream_id]
        params.append(_check_limit(limit))
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        sql = (
            f"SELECT {_STREAM_COLUMNS} FROM streams {clause}"
            "ORDER BY updated_at DESC, stream_id DESC LIMIT ?"
        )
        return self._query_streams(sql, params)

    def _prefix_clause(self, prefix: str) -> tuple[list[str], list[Any]]:
        if not prefix:
            return [], []
        where, params = ["stream_id >= ?"], [prefix]
        upper = _prefix_upper_bound(prefix)
        if upper is not None:
            where.append("stream_id < ?")
            params.append(upper)
        return where, params

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        found = self._query_streams(
            f"SELECT {_STREAM_COLUMNS} FROM streams WHERE stream_id = ?", [stream_id]
        )
        return found[0] if found else None

    def _stream_version(self, stream_id: str) -> int:
        info = self.stream_info(stream_id)
        return 0 if info is None else info.version

    def head_position(self) -> int:
        """The highest position in the global log (0 when empty)."""
        return int(self._scalar("SELECT COALESCE(MAX(position), 0) FROM events") or 0)

    def count_events(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM events") or 0)

    def count_streams(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM streams") or 0)

    # ------------------------------------------------------------------ waiting

    def wait_for_events(self, after: int, timeout: float) -> int:
        """Block until the head is above `after` or `timeout` seconds pass; return the head."""
        if self._sqlite:
            deadline = time.monotonic() + max(timeout, 0.0)
            while True:
                head = self.head_position()
                remaining = deadline - time.monotonic()
                if head > after or remaining <= 0:
                    return head
                time.sleep(min(SQLITE_POLL_INTERVAL, remaining))
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
                if self._closed:
                    msg = "the store is closed"
                    raise StoreError(msg)
                self._listener = PostgresListener(
                    self.engine, self._notify_channel(), self.head_position
                )
            return self._listener

    # ------------------------------------------------------------------ snapshots

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store `snapshot`, replacing one already taken at the same stream version."""
        if not isinstance(snapshot, Snapshot):
            msg = f"not a Snapshot: {snapshot!r}"
            raise InvalidAppend(msg)
        _check_stream_id(snapshot.stream_id)
        if type(snapshot.version) is not int or snapshot.version < 1:
            msg = f"snapshot version must be a stream version >= 1, not {snapshot.version!r}"
            raise InvalidAppend(msg)
        try:
            data = _dumps(snapshot.data)
        except (TypeError, ValueError, RecursionError) as error:
            msg = f"snapshot data is not JSON-serialisable: {error}"
            raise InvalidAppend(msg) from None
        if _has_nul(data):
            msg = "snapshot strings with NUL characters cannot be stored"
            raise InvalidAppend(msg)
        taken_at = snapshot.taken_at or datetime.now(UTC)
        sql = (
            f"INSERT INTO snapshots ({_SNAPSHOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (stream_id, version) DO UPDATE SET "
            "snapshot_version = excluded.snapshot_version, type = excluded.type, "
            "data = excluded.data, taken_at = excluded.taken_at"
        )
        params = [
            snapshot.stream_id,
            snapshot.version,
            snapshot.snapshot_version,
            snapshot.type,
            data,
            self._time_param(taken_at),
        ]
        self._execute_write(sql, params)

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot of the stream at or below `max_version` (None: any)."""
        params: list[Any] = [stream_id]
        sql = f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE stream_id = ?"
        if max_version is not None:
            sql += " AND version <= ?"
            params.append(max_version)
        sql += " ORDER BY version DESC LIMIT 1"
        found = self._query_snapshots(sql, params)
        return found[0] if found else None

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        """The newest snapshot of each of `stream_ids` that has one, in one query per
        500 ids (a listing of many streams need not ask stream by stream)."""
        found: dict[str, Snapshot] = {}
        ids = list(dict.fromkeys(stream_ids))
        for start in range(0, len(ids), _SNAPSHOT_BATCH):
            chunk = ids[start : start + _SNAPSHOT_BATCH]
            marks = ", ".join("?" * len(chunk))
            sql = (
                f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots s WHERE s.stream_id IN ({marks}) "
                "AND s.version = (SELECT max(m.version) FROM snapshots m "
                "WHERE m.stream_id = s.stream_id)"
            )
            found.update((snap.stream_id, snap) for snap in self._query_snapshots(sql, chunk))
        return found

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        """Every snapshot of the stream, oldest first."""
        return self._query_snapshots(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE stream_id = ? ORDER BY version",
            [stream_id],
        )

    def delete_snapshots(self, stream_id: str) -> int:
        """Delete every snapshot of the stream; return how many there were."""
        return self._execute_write("DELETE FROM snapshots WHERE stream_id = ?", [stream_id])

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Release connections (and the PostgreSQL listener); the store is unusable afterwards."""
        with self._write_lock:
            self._closed = True
            listener, self._listener = self._listener, None
            writer, self._writer = self._writer, None
        if listener is not None:
            listener.close()
        if writer is not None:
            writer.close()
        self.engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventStore({self.engine.url.render_as_string()!r})"

    def _sql(self, sql: str) -> str:
        return sql if self._sqlite else sql.replace("?", "%s")

    def _time_param(self, dt: datetime) -> Any:
        return _sqlite_time(dt) if self._sqlite else _utc(dt)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        fairy = self.engine.raw_connection()
        try:
            cur = fairy.driver_connection.cursor()
            try:
                cur.execute(self._sql(sql), params)
                return cur.fetchall()
            finally:
                cur.close()
        finally:
            fairy.close()

    def _scalar(self, sql: str) -> Any:
        rows = self._fetch(sql, ())
        return rows[0][0] if rows else None

    def _execute_write(self, sql: str, params: Sequence[Any]) -> int:
        with self.engine.begin() as conn:
            return conn.exec_driver_sql(self._sql(sql), tuple(params)).rowcount

    def _query_events(self, sql: str, params: Sequence[Any]) -> list[RecordedEvent]:
        rows = self._fetch(sql, params)
        if self._sqlite:
            new, uuid_from_hex, load, from_iso = (
                RecordedEvent,
                _uuid_from_hex,
                _load_object,
                _from_iso,
            )
            return [
                new(p, s, v, uuid_from_hex(e), t, sv, load(d), load(m), from_iso(r))
                for p, s, v, e, t, sv, d, m, r in rows
            ]
        return [RecordedEvent(*row) for row in rows]

    def _query_streams(self, sql: str, params: Sequence[Any]) -> list[StreamInfo]:
        rows = self._fetch(sql, params)
        if self._sqlite:
            return [StreamInfo(s, v, _from_iso(c), _from_iso(u)) for s, v, c, u in rows]
        return [StreamInfo(*row) for row in rows]

    def _query_snapshots(self, sql: str, params: Sequence[Any]) -> list[Snapshot]:
        rows = self._fetch(sql, params)
        if self._sqlite:
            return [
                Snapshot(s, v, sv, t, _load_object(d), _from_iso(at)) for s, v, sv, t, d, at in rows
            ]
        return [Snapshot(*row) for row in rows]


_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _has_nul(text: str) -> bool:
    """Whether JSON text holds a NUL character (PostgreSQL's jsonb refuses those)."""
    return "\\u0000" in text and _NUL_ESCAPE.search(text) is not None


def _check_limit(limit: int) -> int:
    if type(limit) is not int or limit < 0:
        msg = f"limit must be an int >= 0, not {limit!r}"
        raise ValueError(msg)
    return limit


def _is_integrity_error(error: Exception) -> bool:
    import sqlite3

    if isinstance(error, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.errors.IntegrityError)


def open_store(url: str | sa.Engine, *, max_payload_bytes: int = 1_000_000) -> EventStore:
    """Open the event store at `url` (sqlite:///file.db or postgresql+psycopg://...), or over
    an engine made by `webapp.database.create_store_engine`.

    The schema must exist: migrations run from the composition root
    (`webapp.bootstrap.open_migrated_store`, `eventscope db upgrade`).
    """
    engine = url if isinstance(url, sa.Engine) else create_store_engine(url)
    return EventStore(engine, max_payload_bytes=max_payload_bytes)
