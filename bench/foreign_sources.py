"""Foreign-store page times: keyset pages read through the sources against bare SQL.

    python bench/foreign_sources.py [--events 1000000] [--runs 15] [--page 50]
                                    [--kinds eventsourcing-sqlite,commanded,...]
                                    [--db-file PATH] [--keep]
                                    [--commanded-column bytea|jsonb]

Builds one store per source kind in the tool's own format (`--events` events: one big
stream of a tenth of them, the rest in 10,000 streams), then reads the pages a dashboard
asks for (streams by id and by activity, one stream's first, middle and last page,
`$all` from the head and from the middle, one event by position) through the source and
with the bare SELECT the same page needs, on the same kind of connection, alternating
the two; prints the median of `--runs` reads of each, their ratio, and whether the
source stays at or under 50 ms. One more row reads `$all` filtered by a rare type, which
no index serves: it shows the read returns within the source's scan budget.

Kinds:

* `eventsourcing-sqlite`: a SQLite file whose tables the `eventsourcing` library
  creates (a process application, so events, snapshots and tracking), holding events
  the library's own aggregates trigger and its mapper encodes, bulk-inserted with
  `executemany` in notification order; a few snapshots and a tracking row written by
  the library.
* `commanded`: Commanded's EventStore schema (as `mix event_store.init` makes it) in a
  PostgreSQL schema of `$EVENTSCOPE_TEST_PG`, rows written with COPY as its append
  statement lays them out (`bytea` JSON payloads, `--commanded-column jsonb` for jsonb),
  one row in the stream and one in `$all` per event.
* `eventsourcing-postgresql`: the library's PostgreSQL tables (`bank_events` and its
  snapshots and tracking), events bulk-inserted as for SQLite; measured only when
  `webapp.sources.eventsourcing.postgres` imports.

Building takes minutes at 1,000,000 events (about half a minute for the SQLite file, one
to two for each PostgreSQL schema, on 2 cores). `--db-file` keeps the SQLite file for
later runs; `--keep` keeps the PostgreSQL stores in the schemas `bench_commanded` and
`bench_eventsourcing` (without it a run writes schemas of its own and drops them at the
end). A kept store of the same size (and payload column) is reused, not rebuilt.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    # Run as the module `foreign_sources`, so the library's topics name it, not `__main__`.
    import foreign_sources

    foreign_sources.main()
    raise SystemExit

from eventsourcing.domain import Aggregate, event  # noqa: E402
from eventsourcing.persistence import Tracking  # noqa: E402
from eventsourcing.system import ProcessApplication  # noqa: E402

PG_URL = os.environ.get("EVENTSCOPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_MS = 50.0
STREAMS = 10_000
T0 = datetime(2025, 1, 1, tzinfo=UTC)
ID_NAMESPACE = uuid.UUID("0b6c1b5e-8a51-4d8e-9d59-3f7c1f2a4e10")
RARE_TYPE = "Closed"
"""Ends every hundredth stream: the filtered `$all` read looks for it."""


# --- the shape of the store ---------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How many events go where: stream 0 is the big one, 1..streams the others."""

    events: int
    big: int
    sizes: tuple[int, ...]

    @classmethod
    def of(cls, events: int) -> Shape:
        big = events // 10
        streams = min(STREAMS, max(1, (events - big) // 2))
        per, extra = divmod(events - big, streams)
        return cls(events, big, tuple(per + (1 if n < extra else 0) for n in range(streams)))

    @property
    def streams(self) -> int:
        return len(self.sizes) + 1


def event_kind(stream: int, version: int, size: int) -> str:
    """The event at `version` of a stream of `size`: opened, then deposits and withdrawals,
    and every hundredth small stream closed at its end."""
    if version == 1:
        return "Opened"
    if stream and stream % 100 == 0 and version == size:
        return RARE_TYPE
    return "Withdrawn" if version % 5 == 0 else "Deposited"


def plan(shape: Shape, group: int = 100, chunk: int = 10) -> Iterator[tuple[int, int, int]]:
    """Appends in global order as (stream, first version, count): the small streams a group
    at a time, `chunk` events each in turn, with the big stream's appends spread evenly."""
    small_total = shape.events - shape.big
    written_small = written_big = 0
    for first in range(0, len(shape.sizes), group):
        members = list(range(first + 1, min(first + group, len(shape.sizes)) + 1))
        done = dict.fromkeys(members, 0)
        while members:
            for stream in list(members):
                size = shape.sizes[stream - 1]
                count = min(chunk, size - done[stream])
                yield stream, done[stream] + 1, count
                done[stream] += count
                written_small += count
                if done[stream] == size:
                    members.remove(stream)
                due = shape.big * written_small // max(1, small_total) - written_big
                if due > 0:
                    yield 0, written_big + 1, due
                    written_big += due
    if written_big < shape.big:
        yield 0, written_big + 1, shape.big - written_big


def stream_name(stream: int) -> str:
    return "account-big" if stream == 0 else f"account-{stream:06d}"


# --- what a kind gives the measuring loop --------------------------------------------------


@dataclass
class Bench:
    """One built store: its source, bare SQL reads of the same pages, and where to read."""

    kind: str
    source: Any
    stream_ids: list[str]
    """Stream id of stream n (0: the big one)."""
    bare: dict[str, Callable[..., list[Any]]]
    """Page name -> a bare read taking the page's own arguments."""
    filtered: Callable[[int], tuple[int, int]]
    """A `$all` read backward from the head filtered by `RARE_TYPE`: (events, scanned to)."""
    scan_budget: int
    notes: list[str] = field(default_factory=list)


KindBuilder = Callable[[argparse.Namespace, Shape], Any]
"""A context manager factory yielding a `Bench` (and cleaning up after it)."""


# --- eventsourcing: the library's own aggregate and application ---------------------------


class Account(Aggregate):
    """A bank account as an `eventsourcing` application writes it."""

    @staticmethod
    def create_id(number: str) -> uuid.UUID:  # type: ignore[override]
        return uuid.uuid5(ID_NAMESPACE, number)

    @event("Opened")
    def __init__(self, number: str) -> None:
        self.number = number
        self.balance = Decimal(0)
        self.open = True

    @event("Deposited")
    def deposit(self, amount: Decimal) -> None:
        self.balance += amount

    @event("Withdrawn")
    def withdraw(self, amount: Decimal) -> None:
        self.balance -= amount

    @event("Closed")
    def close(self) -> None:
        self.open = False


class Bank(ProcessApplication):
    """The writing application (a process application, so the library adds tracking)."""


def library_events(shape: Shape) -> Iterator[list[Any]]:
    """The library's domain events, in global order, a plan step at a time."""
    accounts: dict[int, Account] = {}
    for stream, first, count in plan(shape):
        size = shape.big if stream == 0 else shape.sizes[stream - 1]
        for version in range(first, first + count):
            kind = event_kind(stream, version, size)
            if kind == "Opened":
                accounts[stream] = Account(stream_name(stream))
            elif kind == "Deposited":
                accounts[stream].deposit(Decimal(100 + version % 900) / 100)
            elif kind == "Withdrawn":
                accounts[stream].withdraw(Decimal(version % 50 + 1))
            else:
                accounts[stream].close()
        yield accounts[stream].collect_events()
        if first + count > size:
            del accounts[stream]


def write_library_events(app: Bank, shape: Shape, insert: Callable[[list[tuple]], None]) -> None:
    """Encode the events with the application's mapper and hand them on in batches."""
    batch: list[tuple] = []
    written, started = 0, time.perf_counter()
    for events in library_events(shape):
        for stored in map(app.mapper.to_stored_event, events):
            batch.append(
                (stored.originator_id.hex, stored.originator_version, stored.topic, stored.state)
            )
        if len(batch) >= 20_000:
            insert(batch)
            written += len(batch)
            batch = []
            if written % 200_000 < 20_000:
                rate = written / (time.perf_counter() - started)
                print(f"  {written:,} events ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    if batch:
        insert(batch)


def library_ids(shape: Shape) -> list[str]:
    return [Account.create_id(stream_name(n)).hex for n in range(shape.streams)]


def finish_with_library(env: dict[str, str], shape: Shape) -> None:
    """Snapshots of a few streams and a tracking row, written by the library itself."""
    app = Bank(env=env)
    try:
        for stream in range(1, min(shape.streams, 11)):
            app.take_snapshot(Account.create_id(stream_name(stream)))
        app.recorder.insert_events([], tracking=Tracking("Upstream", shape.events // 2))
    finally:
        app.close()


@contextmanager
def eventsourcing_sqlite(args: argparse.Namespace, shape: Shape) -> Iterator[Bench]:
    from webapp.sources.eventsourcing import log as es_log
    from webapp.sources.eventsourcing.files import open_read_only
    from webapp.sources.eventsourcing.sqlite import EventsourcingSQLiteSource

    with tempfile.TemporaryDirectory(prefix="eventscope-foreign-") as folder:
        path = args.db_file or Path(folder) / "eventsourcing.db"
        if not (path.exists() and sqlite_count(path) == shape.events):
            path.unlink(missing_ok=True)
            build_eventsourcing_sqlite(path, shape)
        else:
            print(f"reusing {path}", file=sys.stderr)
        source = EventsourcingSQLiteSource(path)
        conn = open_read_only(path)
        try:
            yield Bench(
                "eventsourcing-sqlite",
                source,
                library_ids(shape),
                sqlite_bare(conn),
                lambda limit: sqlite_filtered(source, limit, es_log.SCAN_BUDGET),
                es_log.SCAN_BUDGET,
            )
        finally:
            conn.close()
            source.close()


def sqlite_count(path: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0] or 0)
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


def build_eventsourcing_sqlite(path: Path, shape: Shape) -> None:
    """Tables made by the library, events bulk-inserted, the file closed clean (no WAL)."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "IS_SNAPSHOTTING_ENABLED": "y",
    }
    started = time.perf_counter()
    app = Bank(env=env)  # creates stored_events, stored_snapshots and tracking
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA cache_size = -400000")
    statement = app.recorder.insert_events_statement  # INSERT INTO stored_events VALUES (?,?,?,?)

    def insert(rows: list[tuple]) -> None:
        with conn:
            conn.executemany(statement, rows)

    try:
        write_library_events(app, shape, insert)
    finally:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        app.close()
    finish_with_library(env, shape)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"built {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def sqlite_bare(conn: sqlite3.Connection) -> dict[str, Callable[..., list[Any]]]:
    """The plain SELECTs each page needs (rows with their payloads, nothing decoded)."""
    columns = "rowid, originator_id, originator_version, topic, state"
    streams = (
        "SELECT g.originator_id, g.lo, g.hi, f.state, l.state FROM ("
        " SELECT originator_id, MIN(originator_version) AS lo, MAX(originator_version) AS hi,"
        " MAX(rowid) AS newest FROM stored_events {where} GROUP BY originator_id"
        " ORDER BY {order} LIMIT ?) g"
        " JOIN stored_events f ON f.originator_id = g.originator_id"
        " AND f.originator_version = g.lo"
        " JOIN stored_events l ON l.originator_id = g.originator_id"
        " AND l.originator_version = g.hi ORDER BY g.{order}"
    )

    def rows(sql: str, *params: Any) -> list[Any]:
        return conn.execute(sql, params).fetchall()

    return {
        "streams by id": lambda after, limit: (
            rows(streams.format(where="", order="originator_id"), limit)
            if after is None
            else rows(
                streams.format(where="WHERE originator_id > ?", order="originator_id"),
                after,
                limit,
            )
        ),
        "streams by activity": lambda limit: rows(
            streams.format(where="", order="newest DESC"), limit
        ),
        "stream page": lambda stream_id, version, limit: rows(
            f"SELECT {columns} FROM stored_events WHERE originator_id = ?"
            " AND originator_version >= ? ORDER BY originator_version LIMIT ?",
            stream_id,
            version,
            limit,
        ),
        "all backward": lambda before, limit: (
            rows(f"SELECT {columns} FROM stored_events ORDER BY rowid DESC LIMIT ?", limit)
            if before is None
            else rows(
                f"SELECT {columns} FROM stored_events WHERE rowid < ? ORDER BY rowid DESC LIMIT ?",
                before,
                limit,
            )
        ),
        "all forward": lambda after, limit: rows(
            f"SELECT {columns} FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?",
            after,
            limit,
        ),
        "event": lambda position: rows(
            f"SELECT {columns} FROM stored_events WHERE rowid = ?", position
        ),
        "filtered": lambda head, budget, limit: rows(
            f"SELECT {columns} FROM stored_events WHERE rowid > ? AND topic = ?"
            " ORDER BY rowid DESC LIMIT ?",
            head - budget,
            f"{__name__}:Account.{RARE_TYPE}",
            limit,
        ),
    }


def sqlite_filtered(source: Any, limit: int, budget: int) -> tuple[int, int]:
    """Events found and the lowest position examined (the scan stops at the budget)."""
    bound = source.head_position() + 1
    events = source.read_all_backward(None, limit=limit, types=[RARE_TYPE])
    scanned_to = events[-1].position if len(events) == limit else max(1, bound - budget)
    return len(events), scanned_to


# --- Commanded's EventStore ---------------------------------------------------------------


COMMANDED_SCHEMA = "bench_commanded"
"""The kept store's schema (`--keep`); a run without it writes a schema of its own."""
ELIXIR_TYPE = "Elixir.Bank.Events.Account{}"


@contextmanager
def pg_engine() -> Iterator[Any]:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    try:
        yield engine
    finally:
        engine.dispose()


def pg_schema_count(engine: Any, schema: str, sql: str) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": schema},
        ).scalar()
        if not exists:
            return -1
        try:
            return int(conn.execute(sa.text(sql.format(s=f'"{schema}"'))).scalar() or 0)
        except sa.exc.DBAPIError:
            return -1


def drop_schema(engine: Any, schema: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def commanded(args: argparse.Namespace, shape: Shape) -> Iterator[Bench]:
    from webapp.sources.commanded.source import CommandedSource

    schema = COMMANDED_SCHEMA if args.keep else f"{COMMANDED_SCHEMA}_{os.getpid()}"
    with pg_engine() as engine:
        head = pg_schema_count(
            engine, schema, "SELECT stream_version FROM {s}.streams WHERE stream_id = 0"
        )
        if head != shape.events or commanded_column(engine, schema) != args.commanded_column:
            drop_schema(engine, schema)
            build_commanded(engine, schema, shape, args.commanded_column)
        else:
            print(f"reusing schema {schema}", file=sys.stderr)
        source = CommandedSource(engine, schema=schema)
        try:
            yield Bench(
                "commanded",
                source,
                [stream_name(n) for n in range(shape.streams)],
                commanded_bare(engine, schema),
                lambda limit: commanded_filtered(source, limit),
                source.scan_budget,
                [f"payloads: {source.column_type}"],
            )
        finally:
            source.close()
            if not args.keep:
                drop_schema(engine, schema)


def commanded_column(engine: Any, schema: str) -> str | None:
    """The type of the kept store's `events.data` column."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = :s"
                " AND table_name = 'events' AND column_name = 'data'"
            ),
            {"s": schema},
        ).scalar()


def build_commanded(engine: Any, schema: str, shape: Shape, column: str) -> None:
    """The schema as `init` makes it, then every table's rows with COPY, as the append
    statement lays them out: the event, its row in its stream and in `$all`."""
    from tests.sources.commanded_store import CommandedStore

    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    CommandedStore(engine, schema, column).init()
    s = f'"{schema}"'
    encode = (
        (lambda text: text) if column == "jsonb" else (lambda text: "\\\\x" + text.encode().hex())
    )
    created: dict[int, datetime] = {}
    position = 0
    for stream, _first, count in plan(shape):
        created.setdefault(stream, T0 + timedelta(seconds=position + 1))
        position += count
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        streams = io.StringIO()
        for stream in range(shape.streams):
            size = shape.big if stream == 0 else shape.sizes[stream - 1]
            streams.write(
                f"{stream + 1}\t{stream_name(stream)}\t{size}\t{created[stream].isoformat()}\n"
            )
        copy_rows(cur, f"{s}.streams (stream_id, stream_uuid, stream_version, created_at)", streams)
        cur.execute(f"UPDATE {s}.streams SET stream_version = %s WHERE stream_id = 0", [position])
        cur.execute(f"SELECT setval('{s}.streams_stream_id_seq', %s)", [shape.streams])
        raw.commit()
        events = io.StringIO()
        links = io.StringIO()
        position = 0
        correlation = uuid.uuid4()
        for stream, first, count in plan(shape):
            size = shape.big if stream == 0 else shape.sizes[stream - 1]
            causation = uuid.uuid4()
            for version in range(first, first + count):
                position += 1
                at = T0 + timedelta(seconds=position)
                kind = event_kind(stream, version, size)
                data = {"account_number": stream_name(stream)}
                if kind in ("Deposited", "Withdrawn"):
                    data["amount"] = 100 + version % 900
                metadata = {"user": "bench"}
                event_id = uuid.uuid4()
                events.write(
                    f"{event_id}\t{ELIXIR_TYPE.format(kind)}\t{causation}\t{correlation}\t"
                    f"{encode(json.dumps(data))}\t{encode(json.dumps(metadata))}\t"
                    f"{at.isoformat()}\n"
                )
                links.write(f"{event_id}\t{stream + 1}\t{version}\t{stream + 1}\t{version}\n")
                links.write(f"{event_id}\t0\t{position}\t{stream + 1}\t{version}\n")
            if position % 100_000 < count or position == shape.events:
                copy_rows(cur, f"{s}.events", events)
                copy_rows(cur, f"{s}.stream_events", links)
                raw.commit()
                events, links = io.StringIO(), io.StringIO()
                print(f"  {position:,} events", file=sys.stderr, flush=True)
        cur.execute(
            f"INSERT INTO {s}.subscriptions (stream_uuid, subscription_name, last_seen)"
            " VALUES ('$all', 'Bank.Projector', %s)",
            [position // 2],
        )
        raw.commit()
    finally:
        raw.close()
    vacuum(engine, [f"{s}.{table}" for table in ("streams", "events", "stream_events")])
    print(f"built {schema} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def vacuum(engine: Any, tables: list[str]) -> None:
    """VACUUM ANALYZE freshly loaded tables, as autovacuum would have long since done for a
    store that grew over time (statistics, visibility map, hint bits)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def copy_rows(cur: Any, table: str, rows: io.StringIO) -> None:
    with cur.copy(f"COPY {table} FROM STDIN") as copy:
        copy.write(rows.getvalue())


def commanded_bare(engine: Any, schema: str) -> dict[str, Callable[..., list[Any]]]:
    """Plain SELECTs for each page on the source's engine (no read-only transaction)."""
    s = f'"{schema}"'
    event_columns = (
        "se.stream_version, o.stream_uuid, se.original_stream_version, e.event_id,"
        " e.event_type, e.causation_id, e.correlation_id, e.data, e.metadata, e.created_at"
    )
    from_all = (
        f"FROM {s}.stream_events se JOIN {s}.events e ON e.event_id = se.event_id"
        f" JOIN {s}.streams o ON o.stream_id = se.original_stream_id WHERE se.stream_id = 0"
    )
    streams = (
        "SELECT s.stream_uuid, s.stream_version, s.created_at, e.created_at AS updated_at"
        f" FROM {s}.streams s"
        f" LEFT JOIN {s}.stream_events l"
        " ON l.stream_id = s.stream_id AND l.stream_version = s.stream_version"
        f" LEFT JOIN {s}.events e ON e.event_id = l.event_id WHERE s.stream_id <> 0"
    )

    def rows(sql: str, *params: Any) -> list[Any]:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql, params).fetchall()

    return {
        "streams by id": lambda after, limit: (
            rows(f"{streams} ORDER BY s.stream_uuid LIMIT %s", limit)
            if after is None
            else rows(
                f"{streams} AND s.stream_uuid > %s ORDER BY s.stream_uuid LIMIT %s", after, limit
            )
        ),
        "streams by activity": lambda limit: rows(
            "SELECT s.stream_uuid, s.stream_version, s.created_at,"
            f" (SELECT e.created_at FROM {s}.stream_events l"
            f" JOIN {s}.events e ON e.event_id = l.event_id"
            " WHERE l.stream_id = s.stream_id AND l.stream_version = s.stream_version)"
            f" AS updated_at FROM {s}.streams s WHERE s.stream_id <> 0"
            " ORDER BY updated_at DESC NULLS LAST, s.stream_uuid DESC LIMIT %s",
            limit,
        ),
        "stream page": lambda stream_id, version, limit: rows(
            f"SELECT a.stream_version AS position, {event_columns}"
            f" FROM {s}.stream_events se JOIN {s}.events e ON e.event_id = se.event_id"
            f" JOIN {s}.streams o ON o.stream_id = se.original_stream_id"
            f" JOIN {s}.stream_events a ON a.event_id = se.event_id AND a.stream_id = 0"
            f" WHERE se.stream_id = (SELECT stream_id FROM {s}.streams WHERE stream_uuid = %s)"
            " AND se.stream_version >= %s ORDER BY se.stream_version LIMIT %s",
            stream_id,
            version,
            limit,
        ),
        "all backward": lambda before, limit: (
            rows(
                f"SELECT {event_columns} {from_all} ORDER BY se.stream_version DESC LIMIT %s", limit
            )
            if before is None
            else rows(
                f"SELECT {event_columns} {from_all} AND se.stream_version < %s"
                " ORDER BY se.stream_version DESC LIMIT %s",
                before,
                limit,
            )
        ),
        "all forward": lambda after, limit: rows(
            f"SELECT {event_columns} {from_all} AND se.stream_version > %s"
            " ORDER BY se.stream_version LIMIT %s",
            after,
            limit,
        ),
        "event": lambda position: rows(
            f"SELECT {event_columns} {from_all} AND se.stream_version = %s", position
        ),
        "filtered": lambda head, budget, limit: rows(
            f"SELECT {event_columns} {from_all} AND se.stream_version > %s"
            " AND e.event_type = %s ORDER BY se.stream_version DESC LIMIT %s",
            head - budget,
            ELIXIR_TYPE.format(RARE_TYPE),
            limit,
        ),
    }


def commanded_filtered(source: Any, limit: int) -> tuple[int, int]:
    page = source.read_all_backward_page(
        None, limit=limit, types=[f"Bank.Events.Account{RARE_TYPE}"]
    )
    return len(page.events), int(page.resume_before or 0)


# --- the eventsourcing library on PostgreSQL ------------------------------------------------


ES_PG_SCHEMA = "bench_eventsourcing"


@contextmanager
def eventsourcing_postgresql(args: argparse.Namespace, shape: Shape) -> Iterator[Bench]:
    postgres = importlib.import_module("webapp.sources.eventsourcing.postgres")
    source_class = postgres.EventsourcingPostgresSource
    table = "bank_events"
    schema = ES_PG_SCHEMA if args.keep else f"{ES_PG_SCHEMA}_{os.getpid()}"
    with pg_engine() as engine:
        count = pg_schema_count(engine, schema, "SELECT MAX(notification_id) FROM {s}." + table)
        if count != shape.events:
            drop_schema(engine, schema)
            build_eventsourcing_postgresql(engine, schema, shape)
        else:
            print(f"reusing schema {schema}", file=sys.stderr)
        source = source_class(engine, schema=schema)
        budget = int(getattr(source, "scan_budget", None) or getattr(postgres, "SCAN_BUDGET", 0))
        try:
            yield Bench(
                "eventsourcing-postgresql",
                source,
                library_ids(shape),
                es_postgres_bare(engine, f'"{schema}"."{table}"'),
                lambda limit: es_postgres_filtered(source, limit, budget),
                budget,
            )
        finally:
            source.close()
            if not args.keep:
                drop_schema(engine, schema)


def es_pg_env(schema: str) -> dict[str, str]:
    import sqlalchemy as sa

    url = sa.make_url(PG_URL)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database or "test",
        "POSTGRES_HOST": url.host or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_SCHEMA": schema,
        "IS_SNAPSHOTTING_ENABLED": "y",
    }


def build_eventsourcing_postgresql(engine: Any, schema: str, shape: Shape) -> None:
    """The library's tables (`bank_events`, `bank_snapshots`, `bank_tracking`), events
    bulk-inserted in notification order so `notification_id` counts up as the library's
    own inserts make it."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    env = es_pg_env(schema)
    app = Bank(env=env)
    table = f'"{schema}".bank_events'
    raw = engine.raw_connection()
    cur = raw.cursor()

    def insert(rows: list[tuple]) -> None:
        cur.executemany(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " VALUES (%s, %s, %s, %s)",
            [(uuid.UUID(hex=oid), version, topic, state) for oid, version, topic, state in rows],
        )
        raw.commit()

    try:
        write_library_events(app, shape, insert)
    finally:
        raw.close()
        app.close()
    vacuum(engine, [table])
    finish_with_library(env, shape)
    print(f"built {schema} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def es_postgres_bare(engine: Any, table: str) -> dict[str, Callable[..., list[Any]]]:
    columns = "notification_id, originator_id, originator_version, topic, state"
    streams = (
        "SELECT g.originator_id, g.lo, g.hi, f.state, l.state FROM ("
        " SELECT originator_id, MIN(originator_version) AS lo, MAX(originator_version) AS hi,"
        f" MAX(notification_id) AS newest FROM {table} {{where}} GROUP BY originator_id"
        " ORDER BY {order} LIMIT %s) g"
        f" JOIN {table} f ON f.originator_id = g.originator_id AND f.originator_version = g.lo"
        f" JOIN {table} l ON l.originator_id = g.originator_id AND l.originator_version = g.hi"
        " ORDER BY g.{order}"
    )

    def rows(sql: str, *params: Any) -> list[Any]:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql, params).fetchall()

    return {
        "streams by id": lambda after, limit: (
            rows(streams.format(where="", order="originator_id"), limit)
            if after is None
            else rows(
                streams.format(where="WHERE originator_id > %s", order="originator_id"),
                uuid.UUID(hex=after),
                limit,
            )
        ),
        "streams by activity": lambda limit: rows(
            streams.format(where="", order="newest DESC"), limit
        ),
        "stream page": lambda stream_id, version, limit: rows(
            f"SELECT {columns} FROM {table} WHERE originator_id = %s"
            " AND originator_version >= %s ORDER BY originator_version LIMIT %s",
            uuid.UUID(hex=stream_id),
            version,
            limit,
        ),
        "all backward": lambda before, limit: (
            rows(f"SELECT {columns} FROM {table} ORDER BY notification_id DESC LIMIT %s", limit)
            if before is None
            else rows(
                f"SELECT {columns} FROM {table} WHERE notification_id < %s"
                " ORDER BY notification_id DESC LIMIT %s",
                before,
                limit,
            )
        ),
        "all forward": lambda after, limit: rows(
            f"SELECT {columns} FROM {table} WHERE notification_id > %s"
            " ORDER BY notification_id LIMIT %s",
            after,
            limit,
        ),
        "event": lambda position: rows(
            f"SELECT {columns} FROM {table} WHERE notification_id = %s", position
        ),
        "filtered": lambda head, budget, limit: rows(
            f"SELECT {columns} FROM {table} WHERE notification_id > %s AND topic = %s"
            " ORDER BY notification_id DESC LIMIT %s",
            head - budget,
            f"{__name__}:Account.{RARE_TYPE}",
            limit,
        ),
    }


def es_postgres_filtered(source: Any, limit: int, budget: int) -> tuple[int, int]:
    if hasattr(source, "read_all_backward_page"):
        page = source.read_all_backward_page(None, limit=limit, types=[RARE_TYPE])
        return len(page.events), int(page.resume_before or 0)
    bound = source.head_position() + 1
    events = source.read_all_backward(None, limit=limit, types=[RARE_TYPE])
    scanned_to = events[-1].position if len(events) == limit else max(1, bound - budget)
    return len(events), scanned_to


def postgres_source_available() -> bool:
    """The eventsourcing PostgreSQL source is there and imports."""
    try:
        module = importlib.import_module("webapp.sources.eventsourcing.postgres")
    except Exception:  # noqa: BLE001 - any failure to import means: not measured
        return False
    return hasattr(module, "EventsourcingPostgresSource")


KINDS: dict[str, KindBuilder] = {
    "eventsourcing-sqlite": eventsourcing_sqlite,
    "commanded": commanded,
    "eventsourcing-postgresql": eventsourcing_postgresql,
}


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Row:
    page: str
    source_ms: float
    bare_ms: float
    note: str = ""


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def compare(
    runs: int, via_source: Callable[[], Any], bare: Callable[[], Any]
) -> tuple[float, float]:
    """Medians of `runs` alternating reads (after one warm-up read of each)."""
    via_source()
    bare()
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(timed(via_source))
        theirs.append(timed(bare))
    return statistics.median(ours), statistics.median(theirs)


def measure(bench: Bench, shape: Shape, runs: int, page: int) -> list[Row]:
    source, bare, ids = bench.source, bench.bare, bench.stream_ids
    head = source.head_position()
    middle = head // 2
    middle_stream = sorted(ids[1:])[len(ids) // 2]
    big = ids[0]
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        (
            "streams by id, first",
            lambda: source.list_streams(limit=page),
            lambda: bare["streams by id"](None, page),
        ),
        (
            "streams by id, from the middle",
            lambda: source.list_streams(after=middle_stream, limit=page),
            lambda: bare["streams by id"](middle_stream, page),
        ),
        (
            "streams by activity, first",
            lambda: source.list_streams_by_activity(limit=page),
            lambda: bare["streams by activity"](page),
        ),
    ]
    for which, version in (
        ("first", 1),
        ("middle", shape.big // 2),
        ("last", max(1, shape.big - page + 1)),
    ):
        cases.append(
            (
                f"stream of {shape.big:,}, {which} page",
                lambda v=version: source.read_stream(big, v, limit=page),
                lambda v=version: bare["stream page"](big, v, page),
            )
        )
    cases += [
        (
            "$all backward from the head",
            lambda: source.read_all_backward(None, limit=page),
            lambda: bare["all backward"](None, page),
        ),
        (
            "$all forward from the middle",
            lambda: source.read_all(middle, limit=page),
            lambda: bare["all forward"](middle, page),
        ),
        (
            "$all backward from the middle",
            lambda: source.read_all_backward(middle, limit=page),
            lambda: bare["all backward"](middle, page),
        ),
        (
            "event at the middle position",
            lambda: source.get_event(middle),
            lambda: bare["event"](middle),
        ),
    ]
    results = []
    for name, ours, theirs in cases:
        check(name, ours(), page)
        results.append(Row(name, *compare(runs, ours, theirs)))
    found: list[tuple[int, int]] = []
    ours_ms, bare_ms = compare(
        runs,
        lambda: found.append(bench.filtered(page)),
        lambda: bare["filtered"](head, bench.scan_budget, page),
    )
    count, scanned_to = found[-1]
    examined = head - scanned_to + 1
    stopped = (
        "the whole log"
        if scanned_to <= 1
        else f"{examined:,} positions, {'within' if examined <= bench.scan_budget else 'BEYOND'}"
        " the budget"
    )
    results.append(
        Row(
            f"$all by type {RARE_TYPE} (no index), backward from the head",
            ours_ms,
            bare_ms,
            f"{count} of {page} found; scanned down to {scanned_to:,} from {head:,}:"
            f" {stopped} ({bench.scan_budget:,})",
        )
    )
    return results


def check(name: str, result: Any, page: int) -> None:
    """Every measured read finds its event or a full page: say so when one does not."""
    if result is None or (isinstance(result, list) and len(result) != page):
        shown = "nothing" if result is None else f"{len(result)} rows"
        print(f"  note: {name} returned {shown}", file=sys.stderr)


def print_table(bench: Bench, shape: Shape, args: argparse.Namespace, rows: list[Row]) -> None:
    notes = "; ".join(bench.notes)
    print(
        f"\n### {bench.kind}\n\n{shape.events:,} events in {shape.streams:,} streams"
        f" (one of {shape.big:,}); pages of {args.page}; median of {args.runs} reads"
        f"{'; ' + notes if notes else ''}; load average {os.getloadavg()[0]:.1f}"
        f" on {os.cpu_count()} CPUs\n"
    )
    print("| page | via source ms | bare SQL ms | ratio | <= 50 ms |")
    print("|---|---:|---:|---:|:---:|")
    for row in rows:
        ratio = row.source_ms / row.bare_ms if row.bare_ms else 0.0
        shown = f"{ratio:.1f}x" if ratio >= 0.1 else f"{ratio:.3f}x" if ratio else "-"
        # the filtered read is bounded by its scan budget, not held to the target
        ok = row.note or ("yes" if row.source_ms <= TARGET_MS else "NO")
        line = f"| {row.page} | {row.source_ms:.2f} | {row.bare_ms:.2f} | {shown} | {ok} |"
        print(line, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--page", type=int, default=50)
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="comma list of "
        + ", ".join(KINDS)
        + " (eventsourcing-postgresql: when its source imports)",
    )
    parser.add_argument(
        "--db-file",
        type=Path,
        default=None,
        help="the eventsourcing SQLite file, built once and reused (default: a temporary one)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL schemas to reuse on later runs"
    )
    parser.add_argument("--commanded-column", choices=("bytea", "jsonb"), default="bytea")
    args = parser.parse_args()
    args.kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = [kind for kind in args.kinds if kind not in KINDS]
    if unknown:
        parser.error(f"unknown kinds: {', '.join(unknown)}")
    if args.events < 1_000:
        parser.error("--events: at least 1000")
    return args


def main() -> None:
    args = parse_args()
    shape = Shape.of(args.events)
    for kind in args.kinds:
        if kind == "eventsourcing-postgresql" and not postgres_source_available():
            print(
                "\n### eventsourcing-postgresql\n\nnot measured: "
                "webapp.sources.eventsourcing.postgres.EventsourcingPostgresSource does not import",
            )
            continue
        with KINDS[kind](args, shape) as bench:
            rows = measure(bench, shape, args.runs, args.page)
            print_table(bench, shape, args, rows)
