"""Append throughput: eventscope against raw drivers and the `eventsourcing` library.

    python bench/append.py [--events N] [--backend sqlite|postgresql|all] [--synchronous NORMAL]

Every workload appends N events to 100 streams, one event or 100 events per
transaction, with exact expected versions, on a fresh database with eventscope's
schema; the baselines do the same inserts with the same durability in the same run.
"eventscope" is the store as it runs: its index builder indexes behind the appends in a
thread and the timing ends once the index has caught up. "eventscope, commit path" times
the appends alone (no builder), and "index builder catch-up" then times indexing all
those events in one catch-up.
Each figure is the best of --rounds interleaved rounds (the machine is shared).
PostgreSQL's one-event-per-transaction workload uses a tenth of N (each commit waits
for a WAL flush).
"""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_common import (  # noqa: E402
    PG_BASE_URL,
    postgresql_schema,
    psycopg_connect,
    report,
    sqlite_database,
    timed,
)

from webapp.bootstrap import open_migrated_store
from webapp.migrate import upgrade  # noqa: E402
from webapp.store import NewEvent, open_store  # noqa: E402

STREAMS = 100
DATA = {"account_number": "ACC-000123", "amount": 1250, "currency": "EUR"}
dumps = json.JSONEncoder(separators=(",", ":")).encode

# eventscope's commit path, written by hand: the stream's version from the log's unique
# index, then the insert (store_0003: nothing else is written in the transaction).
VERSION = "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = {p}"
INSERT = (
    "INSERT INTO events (stream_id, stream_version, event_id, type, schema_version, data, "
    "metadata, correlation_id, actor, occurred_at, recorded_at) VALUES ({p}, {p}, {p}, {p}, "
    "{p}, {p}, {p}, {p}, {p}, {p}, {p})"
)


def make_events(count: int, batch: int) -> list[NewEvent]:
    """`count` events; the events of one transaction share a correlation id (one command)."""
    correlation = ""
    events = []
    for i in range(count):
        if i % batch == 0:
            correlation = str(uuid.uuid4())
        metadata = {"correlation_id": correlation, "actor": "bench"}
        events.append(NewEvent("MoneyDeposited", dict(DATA, sequence=i), metadata))
    return events


def sqlite_rows(chunk: list[NewEvent], stream_id: str, base: int, stamp: str) -> list[tuple]:
    """INSERT parameters for raw sqlite3: the batch's events at versions base+1, base+2, ..."""
    return event_rows(chunk, stream_id, base, stamp, lambda e: e.event_id.hex)


def event_rows(
    chunk: list[NewEvent],
    stream_id: str,
    base: int,
    recorded: object,
    event_id=lambda e: e.event_id,
) -> list[tuple]:
    """INSERT parameters for the raw baselines (the driver's own types for ids and times)."""
    return [
        (
            stream_id,
            base + i,
            event_id(e),
            e.type,
            e.schema_version,
            dumps(e.data),
            dumps(e.metadata),
            e.metadata["correlation_id"],
            e.metadata["actor"],
            recorded,
            recorded,
        )
        for i, e in enumerate(chunk, 1)
    ]


def eventscope_run(
    url: str, events: list[NewEvent], batch: int, *, commit_only: bool = False
) -> float | tuple[float, float]:
    """Appends per second with the index builder running and caught up at the end; with
    `commit_only`, (appends per second without it, its catch-up's events per second)."""
    store = open_migrated_store(url)
    if commit_only:
        store.close()
        store = open_store(url, index_in_background=False)
    versions = [0] * STREAMS

    def run() -> int:
        for n, start in enumerate(range(0, len(events), batch)):
            s = n % STREAMS
            store.append(f"account-{s}", events[start : start + batch], versions[s])
            versions[s] += batch
        if not commit_only:
            store.wait_until_indexed(store.head_position())
        return len(events)

    try:
        rate = timed(run)
        if not commit_only:
            return rate
        return rate, timed(lambda: len(events) if store.catch_up_index() else 0)
    finally:
        store.close()


def raw_sqlite_run(path: Path, synchronous: str, events: list[NewEvent], batch: int) -> float:
    version_of, insert = VERSION.format(p="?"), INSERT.format(p="?")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode = WAL", f"synchronous = {synchronous}", "secure_delete = ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("PRAGMA busy_timeout = 30000")

    def run() -> int:
        for n, start in enumerate(range(0, len(events), batch)):
            chunk = events[start : start + batch]
            stream_id = f"account-{n % STREAMS}"
            stamp = datetime.now(UTC).isoformat(" ", "microseconds")
            conn.execute("BEGIN IMMEDIATE")
            (base,) = conn.execute(version_of, (stream_id,)).fetchone()
            conn.executemany(insert, sqlite_rows(chunk, stream_id, base, stamp))
            conn.execute("COMMIT")
        return len(events)

    try:
        return timed(run)
    finally:
        conn.close()


@contextmanager
def eventsourcing_recorder(path: Path, synchronous: str) -> Iterator[Any]:
    """The `eventsourcing` library's SQLite application recorder on a fresh table, with the
    same `synchronous` setting as the other contenders (the library leaves SQLite's default)."""
    from eventsourcing.sqlite import (
        SQLiteApplicationRecorder,
        SQLiteConnectionPool,
        SQLiteDatastore,
    )

    original = SQLiteConnectionPool._create_connection

    def with_same_durability(pool):
        connection = original(pool)
        connection._sqlite_conn.execute(f"PRAGMA synchronous = {synchronous}")
        return connection

    SQLiteConnectionPool._create_connection = with_same_durability
    datastore = SQLiteDatastore(str(path))
    try:
        recorder = SQLiteApplicationRecorder(datastore)
        recorder.create_table()
        yield recorder
    finally:
        datastore.close()
        SQLiteConnectionPool._create_connection = original


def eventsourcing_run(path: Path, synchronous: str, events: list[NewEvent], batch: int) -> float:
    """Rows handed straight to the recorder: its insert cost and nothing of its mapper."""
    from eventsourcing.persistence import StoredEvent

    with eventsourcing_recorder(path, synchronous) as recorder:
        originators = [uuid.uuid4() for _ in range(STREAMS)]
        versions = [0] * STREAMS

        def run() -> int:
            for n, start in enumerate(range(0, len(events), batch)):
                s = n % STREAMS
                chunk = events[start : start + batch]
                stored = [
                    StoredEvent(
                        originators[s],
                        versions[s] + i,
                        "bank:MoneyDeposited",
                        dumps({"data": e.data, "metadata": e.metadata}).encode(),
                    )
                    for i, e in enumerate(chunk, 1)
                ]
                recorder.insert_events(stored)
                versions[s] += len(chunk)
            return len(events)

        return timed(run)


@functools.cache
def eventsourcing_event_class() -> type:
    """The bench's event as an `eventsourcing` domain event (the library registers each
    class under its topic once, so it is made once per process)."""
    from eventsourcing.domain import DomainEvent

    class MoneyDeposited(DomainEvent):
        account_number: str
        amount: int
        currency: str
        sequence: int
        metadata: dict

    return MoneyDeposited


def eventsourcing_put_run(
    path: Path, synchronous: str, events: list[NewEvent], batch: int
) -> float:
    """The library as its users append: domain-event objects through `EventStore.put`, which
    maps them with its JSON transcoder and hands them to the same recorder."""
    from eventsourcing.persistence import (
        DatetimeAsISO,
        EventStore,
        JSONTranscoder,
        Mapper,
        UUIDAsHex,
    )

    money_deposited = eventsourcing_event_class()
    transcoder = JSONTranscoder()
    transcoder.register(DatetimeAsISO())
    transcoder.register(UUIDAsHex())
    with eventsourcing_recorder(path, synchronous) as recorder:
        store = EventStore(Mapper(transcoder=transcoder), recorder)
        originators = [uuid.uuid4() for _ in range(STREAMS)]
        versions = [0] * STREAMS

        def run() -> int:
            for n, start in enumerate(range(0, len(events), batch)):
                s = n % STREAMS
                now = datetime.now(UTC)
                chunk = events[start : start + batch]
                store.put(
                    [
                        money_deposited(
                            originator_id=originators[s],
                            originator_version=versions[s] + i,
                            timestamp=now,
                            metadata=e.metadata,
                            **e.data,
                        )
                        for i, e in enumerate(chunk, 1)
                    ]
                )
                versions[s] += len(chunk)
            return len(events)

        return timed(run)


def raw_psycopg_run(url: str, events: list[NewEvent], batch: int) -> float:
    version_of, insert = VERSION.format(p="%s"), INSERT.format(p="%s")
    conn = psycopg_connect(url)

    def run() -> int:
        for n, start in enumerate(range(0, len(events), batch)):
            chunk = events[start : start + batch]
            stream_id = f"account-{n % STREAMS}"
            now = datetime.now(UTC)
            with conn.cursor() as cur:
                cur.execute(version_of, (stream_id,))
                (base,) = cur.fetchone()
                cur.executemany(insert, event_rows(chunk, stream_id, base, now))
            conn.commit()
        return len(events)

    try:
        return timed(run)
    finally:
        conn.close()


COMMIT_PATH = "eventscope, commit path only"
CATCH_UP = "index builder catch-up"


def bench_sqlite(count: int, synchronous: str, rounds: int) -> None:
    es_recorder = "eventsourcing SQLiteApplicationRecorder"
    es_put = "eventsourcing EventStore.put"
    catch_up: dict[int, float] = {}

    def contender(name: str, url: str, path: Path, events: list[NewEvent], batch: int) -> float:
        if name == "raw sqlite3":
            upgrade(url)
            return raw_sqlite_run(path, synchronous, events, batch)
        if name == "eventscope":
            return eventscope_run(url, events, batch)
        if name == COMMIT_PATH:
            rate, indexed = eventscope_run(url, events, batch, commit_only=True)
            catch_up[batch] = max(catch_up.get(batch, 0.0), indexed)
            return rate
        if name == es_recorder:
            return eventsourcing_run(path, synchronous, events, batch)
        return eventsourcing_put_run(path, synchronous, events, batch)

    for batch in (1, 100):
        best: dict[str, float] = {}
        for _ in range(rounds):
            events = make_events(count, batch)
            for name in ("raw sqlite3", "eventscope", COMMIT_PATH, es_recorder, es_put):
                with sqlite_database(synchronous) as (url, path):
                    rate = contender(name, url, path, events, batch)
                best[name] = max(best.get(name, 0.0), rate)
        best[CATCH_UP] = catch_up[batch]
        report(
            f"SQLite append, {batch} event(s)/transaction, {count} events, "
            f"synchronous={synchronous}, WAL (best of {rounds})",
            list(best.items()),
            "raw sqlite3",
        )
        for name in (es_recorder, es_put):
            for mine in ("eventscope", COMMIT_PATH):
                ratio = best[mine] / best[name]
                print(f"  {mine} / {name} = {ratio:.2f}x (targets: docs/performance.md)")


def eventsourcing_postgres_run(url: str, schema: str, events: list[NewEvent], batch: int) -> float:
    """The `eventsourcing` library's PostgreSQL application recorder in a schema of its own."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    parts = sa.make_url(url)
    datastore = PostgresDatastore(
        parts.database or "test",
        parts.host or "127.0.0.1",
        parts.port or 5432,
        parts.username or "postgres",
        parts.password or "",
        schema=schema,
    )
    try:
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        originators = [uuid.uuid4() for _ in range(STREAMS)]
        versions = [0] * STREAMS

        def run() -> int:
            for n, start in enumerate(range(0, len(events), batch)):
                s = n % STREAMS
                chunk = events[start : start + batch]
                recorder.insert_events(
                    [
                        StoredEvent(
                            originators[s],
                            versions[s] + i,
                            "bank:MoneyDeposited",
                            dumps({"data": e.data, "metadata": e.metadata}).encode(),
                        )
                        for i, e in enumerate(chunk, 1)
                    ]
                )
                versions[s] += len(chunk)
            return len(events)

        return timed(run)
    finally:
        datastore.close()


def bench_postgresql(total: int, base_url: str, rounds: int) -> None:
    es_recorder = "eventsourcing PostgresApplicationRecorder"
    for batch in (1, 100):
        # one commit per event waits for PostgreSQL's WAL flush: a tenth of the events
        count = max(total // 10, 100) if batch == 1 else total
        best: dict[str, float] = {}
        for _ in range(rounds):
            events = make_events(count, batch)
            for name in ("raw psycopg", "eventscope", COMMIT_PATH, es_recorder):
                with postgresql_schema(base_url) as (url, schema):
                    if name == "raw psycopg":
                        upgrade(url)
                        rate = raw_psycopg_run(url, events, batch)
                    elif name == "eventscope":
                        rate = eventscope_run(url, events, batch)
                    elif name == COMMIT_PATH:
                        rate, indexed = eventscope_run(url, events, batch, commit_only=True)
                        best[CATCH_UP] = max(best.get(CATCH_UP, 0.0), indexed)
                    else:
                        rate = eventsourcing_postgres_run(url, schema, events, batch)
                    best[name] = max(best.get(name, 0.0), rate)
        report(
            f"PostgreSQL append, {batch} event(s)/transaction, {count} events (best of {rounds})",
            list(best.items()),
            "raw psycopg",
        )
        for mine in ("eventscope", COMMIT_PATH):
            print(f"  {mine} / {es_recorder} = {best[mine] / best[es_recorder]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--synchronous", default="NORMAL", choices=["NORMAL", "FULL"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg-url", default=PG_BASE_URL)
    args = parser.parse_args()
    if args.backend in ("sqlite", "all"):
        bench_sqlite(args.events, args.synchronous, args.rounds)
    if args.backend in ("postgresql", "all"):
        bench_postgresql(args.events, args.pg_url, args.rounds)


if __name__ == "__main__":
    main()
