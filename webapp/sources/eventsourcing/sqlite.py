"""A SQLite file written by the Python `eventsourcing` library, read through the source port."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Unpack
from urllib.parse import quote

from webapp.sources.eventsourcing.payloads import PayloadDecoder
from webapp.sources.eventsourcing.tables import ForeignStoreError, Tables, discover, quoted
from webapp.sources.port import Capabilities, Subscription
from webapp.store.filters import LogFilters, check_filter_names, prefix_upper_bound
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo

SCAN_BUDGET: Final = 100_000
"""Rows a filtered global-log read (or an event-id lookup) examines at most per call."""

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""The time shown for an event whose payload (and so its timestamp) cannot be decoded."""

EVENT_ID_NAMESPACE: Final = uuid.UUID("6b1f8a52-3c0e-5d6f-9a41-7e2b0c9d4f13")
"""Event ids are uuid5(namespace, "<originator_id>/<originator_version>"): the library
stores none, so the adapter derives a stable one."""

HOUSEKEEPING: Final = ("timestamp", "class_version", "originator_topic")
_UNSERVED: Final = ("correlation_id", "actor", "data_equals", "older_schemas")
_BATCH: Final = 500
_COLUMNS: Final = "rowid, originator_id, originator_version, topic, state"


def derived_event_id(originator_id: str, version: int) -> uuid.UUID:
    """The derived, stable id of the event at `version` of `originator_id`."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator_id}/{version}")


def type_name(topic: str) -> str:
    """The last segment of a topic (`bank.domain:Account.Opened` -> `Opened`)."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def open_read_only(path: str | Path) -> sqlite3.Connection:
    """A connection that never writes, locks or leaves `-wal`/`-shm` files (`immutable=1`)."""
    file = Path(path)
    if not file.is_file():
        msg = f"{file} is not a file"
        raise ForeignStoreError(msg)
    uri = f"file:{quote(str(file.resolve()))}?immutable=1"
    try:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        msg = f"{file} cannot be opened as SQLite ({exc})"
        raise ForeignStoreError(msg) from exc


class EventsourcingSQLiteSource:
    """The stored events, snapshots and tracking of an `eventsourcing` SQLite store.

    Stream id = `originator_id`; stream version = `originator_version`; position = the
    events table's implicit rowid (the library's notification id); type = the topic's
    last segment (the full topic in `metadata["topic"]`). Payloads are decoded by
    `PayloadDecoder`; one that cannot be shows a marker as its data, time = `EPOCH` and
    `metadata["time_unknown"] = True`.

    The file is opened with `immutable=1`: nothing is written beside it and nothing locked,
    so it reads from a read-only folder and a copy stays byte-identical. SQLite then
    assumes the file never changes: do not use it while the library (a writer) is live on
    the file, since the WAL is ignored and pages may be read torn. What it shows is the file
    as it was when closed by its writer; reopen the source to see later writes. A non-empty
    `-wal` file beside it (`wal_pending`) means a writer is live or did not close cleanly:
    commits in that WAL are not shown.

    Costs: reads by position, by stream and the stream listings use the primary-key index
    and the rowid. A filtered global-log read examines at most `SCAN_BUDGET` rows past
    `after` (or before `before`) and may return a short page, even an empty one, before the
    head: continue from `after + SCAN_BUDGET` while below `head_position()`.
    """

    dialect = "sqlite"

    def __init__(
        self, path: str | Path, *, cipher_key: str | None = None, compressor: str | None = None
    ) -> None:
        self.path = Path(path)
        self._decoder = PayloadDecoder(cipher_key=cipher_key, compressor=compressor)
        self._conn = open_read_only(self.path)
        self._lock = threading.Lock()
        try:
            self.tables: Tables = discover(self._conn, str(self.path))
        except ForeignStoreError:
            self._conn.close()
            raise
        self._events = quoted(self.tables.events)
        self._capabilities = Capabilities(has_snapshots=self.tables.snapshots is not None)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def wal_pending(self) -> bool:
        """A non-empty `-wal` file lies beside the store: its commits are not read here."""
        wal = self.path.with_name(f"{self.path.name}-wal")
        try:
            return wal.stat().st_size > 0
        except OSError:
            return False

    # --- SQL and rows

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, list(params)).fetchall()

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    def _event(self, row: tuple[Any, ...]) -> RecordedEvent:
        position, originator_id, version, topic, blob = row
        decoded = self._decoder.decode(blob)
        metadata: dict[str, Any] = {"topic": topic}
        if decoded.state is None:
            data, schema, recorded = dict(decoded.marker or {}), 1, None
        else:
            state = decoded.state
            data = {key: value for key, value in state.items() if key not in HOUSEKEEPING}
            schema = state.get("class_version", 1)
            schema = schema if isinstance(schema, int) else 1
            recorded = _parse_time(state.get("timestamp"))
            if "originator_topic" in state:
                metadata["originator_topic"] = state["originator_topic"]
        if recorded is None:
            metadata["time_unknown"] = True
        return RecordedEvent(
            position=int(position),
            stream_id=str(originator_id),
            stream_version=int(version),
            event_id=derived_event_id(str(originator_id), int(version)),
            type=type_name(str(topic)),
            schema_version=schema,
            data=data,
            metadata=metadata,
            recorded_at=recorded or EPOCH,
        )

    def _time_of(self, originator_id: str, version: int) -> datetime:
        blob = self._scalar(
            f"SELECT state FROM {self._events} WHERE originator_id = ? AND originator_version = ?",
            [originator_id, version],
        )
        decoded = self._decoder.decode(blob)
        found = None if decoded.state is None else _parse_time(decoded.state.get("timestamp"))
        return found or EPOCH

    # --- streams

    def _prefix_where(self, prefix: str) -> tuple[list[str], list[Any]]:
        if not prefix:
            return [], []
        where, params = ["originator_id >= ?"], [prefix]
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            where.append("originator_id < ?")
            params.append(upper)
        return where, params

    def _info(self, originator_id: str, first: int, last: int) -> StreamInfo:
        return StreamInfo(
            stream_id=originator_id,
            version=last,
            created_at=self._time_of(originator_id, first),
            updated_at=self._time_of(originator_id, last),
        )

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by id over the primary-key index; two payload decodes per stream listed."""
        where, params = self._prefix_where(prefix)
        if after is not None:
            where.append("originator_id > ?")
            params.append(after)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._rows(
            f"SELECT originator_id, MIN(originator_version), MAX(originator_version) "
            f"FROM {self._events} {clause} GROUP BY originator_id ORDER BY originator_id LIMIT ?",
            [*params, max(0, limit)],
        )
        return [self._info(str(oid), first, last) for oid, first, last in rows]

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams newest-active first: activity = the timestamp of a stream's last event.

        The order is that of each stream's newest rowid (its last commit), which is the
        timestamps' order when one application writes the file. Cost: one pass over the
        primary-key index grouping every event by stream (O(events), no payload read),
        then two payload decodes per stream listed. The cursor's stream is found by id and
        the page continues below its newest rowid; a cursor naming no stream is compared by
        (updated_at, stream_id), decoding up to `SCAN_BUDGET` streams to fill the page.
        """
        where, params = self._prefix_where(prefix)
        having, having_params, cursor = "", [], None
        if before is not None:
            cursor_row = self._scalar(
                f"SELECT MAX(rowid) FROM {self._events} WHERE originator_id = ?", [before[1]]
            )
            if cursor_row is None:
                cursor = (_utc(before[0]), before[1])
            else:
                having, having_params = "HAVING MAX(rowid) < ?", [cursor_row]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._rows(
            f"SELECT originator_id, MIN(originator_version), MAX(originator_version) "
            f"FROM {self._events} {clause} GROUP BY originator_id {having} "
            "ORDER BY MAX(rowid) DESC LIMIT ?",
            [*params, *having_params, max(0, limit) if cursor is None else SCAN_BUDGET],
        )
        if cursor is None:
            return [self._info(str(oid), first, last) for oid, first, last in rows]
        found: list[StreamInfo] = []
        for oid, first, last in rows:
            info = self._info(str(oid), first, last)
            if (info.updated_at, info.stream_id) < cursor:
                found.append(info)
                if len(found) >= limit:
                    break
        return found

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        rows = self._rows(
            f"SELECT MIN(originator_version), MAX(originator_version) FROM {self._events} "
            "WHERE originator_id = ?",
            [stream_id],
        )
        if not rows or rows[0][1] is None:
            return None
        return self._info(stream_id, rows[0][0], rows[0][1])

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        where = ["originator_id = ?"]
        params: list[Any] = [stream_id]
        if from_version is not None:
            where.append("originator_version <= ?" if backward else "originator_version >= ?")
            params.append(from_version)
        order = "DESC" if backward else "ASC"
        sql = (
            f"SELECT {_COLUMNS} FROM {self._events} WHERE {' AND '.join(where)} "
            f"ORDER BY originator_version {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        return [self._event(row) for row in self._rows(sql, params)]

    # --- the global log

    def _check_filters(self, method: str, filters: LogFilters) -> None:
        check_filter_names(method, filters)
        for name in _UNSERVED:
            if filters.get(name) is not None:
                msg = (
                    f"{name!r} cannot filter an eventsourcing store: "
                    "the library records no correlation ids, actors or searchable data"
                )
                raise ValueError(msg)

    def _log_where(self, filters: LogFilters) -> tuple[list[str], list[Any]]:
        where, params = self._prefix_where(filters.get("stream_prefix") or "")
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

    def _read_log(
        self, method: str, bound: int, limit: int, backward: bool, filters: LogFilters
    ) -> list[RecordedEvent]:
        self._check_filters(method, filters)
        where, params = self._log_where(filters)
        since, until = filters.get("since"), filters.get("until")
        filtered = bool(where) or since is not None or until is not None
        if backward:
            where.insert(0, "rowid < ?")
            params.insert(0, bound)
            if filtered:
                where.append("rowid >= ?")
                params.append(bound - SCAN_BUDGET)
        else:
            where.insert(0, "rowid > ?")
            params.insert(0, bound)
            if filtered:
                where.append("rowid <= ?")
                params.append(bound + SCAN_BUDGET)
        sql = (
            f"SELECT {_COLUMNS} FROM {self._events} WHERE {' AND '.join(where)} "
            f"ORDER BY rowid {'DESC' if backward else 'ASC'}"
        )
        if since is None and until is None:
            return [self._event(row) for row in self._rows(f"{sql} LIMIT ?", [*params, limit])]
        return self._timed(sql, params, limit, since, until)

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
        with self._lock:
            cursor = self._conn.execute(sql, params)
            try:
                while batch := cursor.fetchmany(_BATCH):
                    for row in batch:
                        event = self._event(row)
                        if event.metadata.get("time_unknown"):
                            continue
                        if since is not None and event.recorded_at < _utc(since):
                            continue
                        if until is not None and event.recorded_at >= _utc(until):
                            continue
                        found.append(event)
                        if len(found) >= limit:
                            return found
            finally:
                cursor.close()
        return found

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """Events after `after` by rowid; `types`, `stream_prefix`, `since`, `until` served
        within `SCAN_BUDGET` rows; `correlation_id`, `actor`, `data_equals` refused."""
        return self._read_log("read_all", after, max(0, limit), False, filters)

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        bound = self.head_position() + 1 if before is None else before
        return self._read_log("read_all_backward", bound, max(0, limit), True, filters)

    def get_event(self, position: int) -> RecordedEvent | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM {self._events} WHERE rowid = ?", [position])
        return self._event(rows[0]) if rows else None

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        """The event whose derived id this is: a scan of the primary-key index (no payload
        read) over at most `SCAN_BUDGET` events."""
        try:
            wanted = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id))
        except ValueError:
            return None
        for originator_id, version in self._iter_keys():
            if derived_event_id(str(originator_id), int(version)) == wanted:
                rows = self._rows(
                    f"SELECT {_COLUMNS} FROM {self._events} "
                    "WHERE originator_id = ? AND originator_version = ?",
                    [originator_id, version],
                )
                return self._event(rows[0]) if rows else None
        return None

    def _iter_keys(self) -> Iterator[tuple[Any, Any]]:
        yield from self._rows(
            f"SELECT originator_id, originator_version FROM {self._events} LIMIT ?",
            [SCAN_BUDGET],
        )

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        msg = "an eventsourcing store records no correlation ids"
        raise ValueError(msg)

    # --- counts and the head

    def head_position(self) -> int:
        return int(self._scalar(f"SELECT MAX(rowid) FROM {self._events}") or 0)

    def count_events(self) -> int:
        return int(self._scalar(f"SELECT COUNT(*) FROM {self._events}") or 0)

    def count_streams(self) -> int:
        return int(self._scalar(f"SELECT COUNT(DISTINCT originator_id) FROM {self._events}") or 0)

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type: one scan of the table grouping by topic (no payload read)."""
        counts = dict.fromkeys(type_names, 0)
        for topic, count in self._rows(
            f"SELECT topic, COUNT(*) FROM {self._events} GROUP BY topic"
        ):
            name = type_name(str(topic))
            if name in counts:
                counts[name] += int(count)
        return counts

    def wait_for_events(self, after: int, timeout: float) -> int:
        """The head; an immutable file never grows, so this only waits out the timeout."""
        head = self.head_position()
        if head <= after and timeout > 0:
            time.sleep(timeout)
        return head

    # --- snapshots

    def _snapshot(self, row: tuple[Any, ...]) -> Snapshot:
        originator_id, version, topic, blob = row
        decoded = self._decoder.decode(blob)
        if decoded.state is None:
            return Snapshot(
                str(originator_id),
                int(version),
                1,
                type_name(str(topic)),
                dict(decoded.marker or {}),
            )
        state = decoded.state
        inner = state.get("state")
        data = dict(inner) if isinstance(inner, dict) else {}
        shape = data.get("class_version", 1)
        return Snapshot(
            stream_id=str(originator_id),
            version=int(version),
            snapshot_version=shape if isinstance(shape, int) else 1,
            type=type_name(str(state.get("topic") or topic)),
            data=data,
            taken_at=_parse_time(state.get("timestamp")),
        )

    def _snapshot_rows(self, where: str, params: Sequence[Any]) -> list[Snapshot]:
        if self.tables.snapshots is None:
            return []
        return [
            self._snapshot(row)
            for row in self._rows(
                "SELECT originator_id, originator_version, topic, state "
                f"FROM {quoted(self.tables.snapshots)} WHERE {where}",
                params,
            )
        ]

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        where = "originator_id = ?"
        params: list[Any] = [stream_id]
        if max_version is not None:
            where += " AND originator_version <= ?"
            params.append(max_version)
        found = self._snapshot_rows(f"{where} ORDER BY originator_version DESC LIMIT 1", params)
        return found[0] if found else None

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        return self._snapshot_rows("originator_id = ? ORDER BY originator_version", [stream_id])

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        found = {}
        for stream_id in dict.fromkeys(stream_ids):
            snapshot = self.read_snapshot(stream_id)
            if snapshot is not None:
                found[stream_id] = snapshot
        return found

    # --- checkpoints

    def subscriptions(self) -> list[Subscription]:
        """Each application's tracked notification id (the library's own `__` rows left out)."""
        if self.tables.tracking is None:
            return []
        head = self.head_position()
        rows = self._rows(
            f"SELECT application_name, MAX(notification_id) FROM {quoted(self.tables.tracking)} "
            "GROUP BY application_name ORDER BY application_name"
        )
        return [
            Subscription(str(name), int(position or 0), max(0, head - int(position or 0)))
            for name, position in rows
            if not str(name).startswith("__")
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"EventsourcingSQLiteSource({str(self.path)!r})"
