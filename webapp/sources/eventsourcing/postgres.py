"""`EventsourcingPostgresSource`: an `eventsourcing` application's PostgreSQL tables read
through the source port, never written."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Final, Self, Unpack

import sqlalchemy as sa
from sqlalchemy.engine import URL

from webapp.sources.eventsourcing.library_reads import LibraryReads
from webapp.sources.eventsourcing.payloads import PayloadDecoder
from webapp.sources.eventsourcing.pg_checkpoints import PgCheckpoints
from webapp.sources.eventsourcing.pg_database import ReadOnlyDatabase
from webapp.sources.eventsourcing.pg_log import PgLog
from webapp.sources.eventsourcing.pg_streams import PgStreams
from webapp.sources.eventsourcing.pg_tables import PgTables, StreamKeys, discover
from webapp.sources.eventsourcing.rows import RowMapper
from webapp.sources.port import Capabilities
from webapp.store.filters import LogFilters
from webapp.store.reader import LogPage
from webapp.store.types import RecordedEvent, StreamInfo

DEFAULT_SCAN_BUDGET: Final = 10_000
DEFAULT_STATEMENT_TIMEOUT_MS: Final = 10_000
POLL_SECONDS: Final = 0.5


class EventsourcingPostgresSource(LibraryReads):
    """The stored events, snapshots and tracking of one `eventsourcing` application in
    PostgreSQL.

        source = EventsourcingPostgresSource("postgresql://reader@db/bank", app="bank")
        source.read_all_backward(None, limit=10)       # the ten newest events

    As on SQLite (`EventsourcingSQLiteSource`): stream id = `originator_id` (a uuid as
    32 hex digits, as the library writes it on SQLite; dashed forms are accepted as
    input); version = `originator_version`; position = `notification_id`; type = the
    topic's last segment (the whole topic in `metadata["topic"]`); the time is the
    payload's timestamp. A payload that cannot be decoded (no key, a wrong key,
    corrupt) shows a marker as its data at `EPOCH` with `metadata["time_unknown"]`.

    The tables are found by their columns in `schema` (default: the connection's current
    schema, as the library's `POSTGRES_SCHEMA` defaults to `public`); `app` names the
    application when several share it. `app` and `schema` may also be given as query
    parameters of the URL (`...?app=bank`). Every read runs in a `READ ONLY` transaction
    with `statement_timeout_ms`.

    Notification ids come from a sequence and may have gaps: the head is the highest one,
    not the count. A filtered global-log read looks only at notification ids within
    `scan_budget` of its bound and may return a short page, even an empty one, before the
    head: continue from `after + scan_budget` (backward: below `before - scan_budget`);
    `read_all_page` and `read_all_backward_page` return that place with the events.
    Reads by position, by stream and the id listing use the library's primary key
    (originator_id, originator_version) and its unique `notification_id` index, as does
    the activity listing within `scan_budget` ids (beyond, it groups the table);
    `count_streams` and `count_by_type` scan the table (no payloads).
    """

    dialect = "postgresql"

    def __init__(
        self,
        url_or_engine: str | URL | sa.Engine,
        *,
        app: str | None = None,
        schema: str | None = None,
        cipher_key: str | None = None,
        compressor: str | None = None,
        scan_budget: int = DEFAULT_SCAN_BUDGET,
        statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    ) -> None:
        rows = RowMapper(PayloadDecoder(cipher_key=cipher_key, compressor=compressor))
        self._db = ReadOnlyDatabase(url_or_engine, statement_timeout_ms=statement_timeout_ms)
        self.scan_budget = max(1, int(scan_budget))
        app = app if app is not None else self._db.options.get("app")
        schema = schema if schema is not None else self._db.options.get("schema")
        try:
            with self._db.read() as session:
                self.tables: PgTables = discover(session, schema, app, self._db.display())
        except Exception:
            self._db.close()
            raise
        quote = self._db.quote
        prefix = f"{quote(self.tables.schema)}."
        events = prefix + quote(self.tables.events)
        snapshots = None if self.tables.snapshots is None else prefix + quote(self.tables.snapshots)
        tracking = None if self.tables.tracking is None else prefix + quote(self.tables.tracking)
        keys = StreamKeys(self.tables.id_type)
        self._log = PgLog(self._db, events, keys, rows)
        self._streams = PgStreams(self._db, events, keys, rows)
        self._checkpoints = PgCheckpoints(self._db, snapshots, tracking, keys, rows)
        self._capabilities = Capabilities(has_snapshots=self.tables.snapshots is not None)

    @property
    def engine(self) -> sa.Engine:
        """The engine every read goes through (each transaction `READ ONLY`)."""
        return self._db.engine

    @contextmanager
    def read_transaction(self) -> Iterator[sa.Connection]:
        """A `READ ONLY` transaction with the statement timeout: the one every read runs in."""
        with self._db.read() as session:
            yield session.conn

    @property
    def statement_timeout_ms(self) -> int:
        return self._db.statement_timeout_ms

    # --- streams

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams newest-active first, by each stream's newest notification id (its last
        commit). Walks `notification_id` down from the head (or the cursor's stream) over at
        most `scan_budget` ids, keeping each stream's newest row; a walk ending short of a
        page groups every event by stream instead (no payload read). Two payload decodes per
        stream listed; a cursor naming no stream is compared by (updated_at, stream_id),
        decoding up to `scan_budget` streams."""
        return self._streams.by_activity(prefix, before, limit, budget=self.scan_budget)

    # --- the global log

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """Events after `after` by notification id; `types`, `stream_prefix`, `since`, `until`
        served within `scan_budget` ids; `correlation_id`, `actor`, `data_equals` refused."""
        return self.read_all_page(after, limit=limit, **filters).events

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        return self.read_all_backward_page(before, limit=limit, **filters).events

    def read_all_page(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage:
        """`read_all`, saying where it stopped: `exhausted`, or go on from `resume_after`."""
        return self._log.read(
            "read_all",
            int(after),
            max(0, limit),
            backward=False,
            budget=self.scan_budget,
            filters=filters,
        )

    def read_all_backward_page(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage:
        """`read_all_backward`, saying where it stopped: `exhausted`, or go on below
        `resume_before`."""
        return self._log.read(
            "read_all_backward",
            None if before is None else int(before),
            max(0, limit),
            backward=True,
            budget=self.scan_budget,
            filters=filters,
        )

    def _budget(self) -> int:
        return self.scan_budget

    def wait_for_events(self, after: int, timeout: float) -> int:
        """The head once it is above `after`, polled every `POLL_SECONDS` until `timeout`."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            head = self.head_position()
            left = deadline - time.monotonic()
            if head > after or left <= 0:
                return head
            time.sleep(min(POLL_SECONDS, left))

    def close(self) -> None:
        """Release the engine if this source made it (an engine passed in stays open)."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EventsourcingPostgresSource({self._db.display()!r}, app={self.tables.app!r}, "
            f"schema={self.tables.schema!r})"
        )
