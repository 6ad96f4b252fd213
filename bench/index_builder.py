"""The index builder's catch-up rate: a log of N events indexed from nothing.

    python bench/index_builder.py [--events 1000000] [--backend sqlite|postgresql|all]

Appends N events (100 per transaction, 10,000 streams, each event with a correlation id,
an actor and a business time, as commands' events carry) with no builder running, then
times `catch_up_index()` (a batch of 20,000 per transaction) and `rebuild_index()`, and,
as the baseline measured in the same run, a plain `INSERT INTO ... SELECT` of the same
columns into a table without any index (what copying the rows costs before any index is
kept). Target: at least 100,000 events/s.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_common import PG_BASE_URL, postgresql_schema, sqlite_database  # noqa: E402

from webapp.migrate import upgrade  # noqa: E402
from webapp.store import EventStore, NewEvent, open_store  # noqa: E402

TARGET = 100_000
STREAMS = 10_000
TYPES = ("MoneyDeposited", "MoneyWithdrawn", "TransferSent", "TransferReceived", "NoteAdded")
COPY = (
    "INSERT INTO bare_copy SELECT position, event_id, type, correlation_id, actor, "
    "recorded_at, occurred_at FROM events"
)


def fill(store: EventStore, count: int) -> None:
    versions: dict[str, int] = {}
    for start in range(0, count, 100):
        correlation = str(uuid.uuid4())
        stream = f"account-{(start // 100) % STREAMS}"
        batch = [
            NewEvent(
                TYPES[(start + i) % len(TYPES)],
                {"amount": start + i},
                {
                    "correlation_id": correlation,
                    "actor": f"user-{i % 7}",
                    "occurred_at": "2026-03-01T10:00:00+00:00",
                },
            )
            for i in range(min(100, count - start))
        ]
        store.append(stream, batch, versions.get(stream, 0))
        versions[stream] = versions.get(stream, 0) + len(batch)


def measure(url: str, count: int, label: str) -> None:
    upgrade(url)
    store = open_store(url, index_in_background=False)
    try:
        started = time.perf_counter()
        fill(store, count)
        print(f"\n{label}: {count:,} events appended in {time.perf_counter() - started:.0f} s")
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE index_progress SET position = 0")
            conn.exec_driver_sql("DELETE FROM event_index")
            conn.exec_driver_sql("DELETE FROM streams")
            conn.exec_driver_sql(
                "CREATE TABLE bare_copy AS SELECT position, event_id, type, correlation_id, "
                "actor, recorded_at, occurred_at FROM event_index WHERE 1 = 0"
            )
        started = time.perf_counter()
        with store.engine.begin() as conn:
            conn.exec_driver_sql(COPY)
        copy = count / (time.perf_counter() - started)
        started = time.perf_counter()
        store.catch_up_index()
        catch_up = count / (time.perf_counter() - started)
        started = time.perf_counter()
        store.rebuild_index()
        rebuild = count / (time.perf_counter() - started)
        assert store.index_position() == store.head_position()
        for name, rate in (
            ("copy into a bare table (baseline)", copy),
            ("index builder catch-up", catch_up),
            ("eventscope db reindex (rebuild)", rebuild),
        ):
            verdict = "" if name.endswith("(baseline)") else f"  target {TARGET:,}: "
            if verdict:
                verdict += "met" if rate >= TARGET else "NOT met"
            print(f"  {name:<36} {rate:>10,.0f} events/s  {rate / copy:5.2f}x copy{verdict}")
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--pg-url", default=PG_BASE_URL)
    args = parser.parse_args()
    if args.backend in ("sqlite", "all"):
        with sqlite_database("NORMAL") as (url, _path):
            measure(url, args.events, "SQLite")
    if args.backend in ("postgresql", "all"):
        with postgresql_schema(args.pg_url) as (url, _schema):
            measure(url, args.events, "PostgreSQL")


if __name__ == "__main__":
    main()
