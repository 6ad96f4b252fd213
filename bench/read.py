"""Read throughput: one 100k-event stream and the global log ($all), paged 1000 at a time.

    python bench/read.py [--events N] [--backend sqlite|postgresql|all]

eventscope's read_stream / read_all (keyset paging, RecordedEvent objects, decoded JSON)
against the raw driver running the same keyset query and decoding the JSON itself.
Then the unindexed payload filter (`data_equals`): the newest page of 50 matches for a
value held by one event (the whole log is scanned) and by every event, as events of the
log covered per second, against reading the log itself. Last, the same filter once as
many old-schema events are added, matched also as read today (upcast, `LogSearch`).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

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

import webapp.demo.bank  # noqa: E402,F401 - registers MoneyDeposited and its upcaster
from webapp.bootstrap import open_migrated_store
from webapp.domain import DEFAULT_UPCASTERS, log_search  # noqa: E402
from webapp.domain.log_search import LogSearch  # noqa: E402
from webapp.store import EventStore, NewEvent  # noqa: E402

PAGE = 1000
COLUMNS = (
    "position, stream_id, stream_version, event_id, type, schema_version, data, metadata, "
    "recorded_at"
)
STREAM_SQL = (
    f"SELECT {COLUMNS} FROM events WHERE stream_id = {{p}} AND stream_version >= {{p}} "
    f"ORDER BY stream_version LIMIT {PAGE}"
)
ALL_SQL = f"SELECT {COLUMNS} FROM events WHERE position > {{p}} ORDER BY position LIMIT {PAGE}"


def fill(store: EventStore, count: int) -> None:
    for start in range(0, count, PAGE):
        store.append(
            "account-big",
            [
                NewEvent(
                    "MoneyDeposited",
                    {"account_number": "ACC-1", "amount": i, "currency": "EUR"},
                    {"correlation_id": f"c-{i}", "actor": "bench"},
                )
                for i in range(start, min(start + PAGE, count))
            ],
        )


def eventscope_stream(store: EventStore) -> int:
    total, version = 0, 1
    while page := store.read_stream("account-big", version, limit=PAGE):
        total += len(page)
        version = page[-1].stream_version + 1
    return total


def eventscope_all(store: EventStore) -> int:
    total, after = 0, 0
    while page := store.read_all(after, limit=PAGE):
        total += len(page)
        after = page[-1].position
    return total


def payload_page(store: EventStore, field: str, value: str, count: int) -> int:
    """One newest-first page of a payload filter; counts the part of the log it covered."""
    page = store.read_all_backward(None, limit=50, data_equals=(field, value))
    assert page, "the filter should match"
    return count - page[-1].position + 1


def fill_old_schema(store: EventStore, count: int) -> None:
    """`count` deposits as schema 1 wrote them (a decimal `value`), none of them 0.07."""
    for start in range(0, count, PAGE):
        store.append(
            "account-old",
            [
                NewEvent(
                    "MoneyDeposited",
                    {"account_number": "ACC-2", "value": "0.01"},
                    {"actor": "bench"},
                    schema_version=1,
                )
                for _ in range(start, min(start + PAGE, count))
            ],
        )


def upcast_page(store: EventStore, field: str, value: str, head: int) -> int:
    """A timeline page that also matches old events as read today: the log it covered."""
    found = LogSearch(store, DEFAULT_UPCASTERS, data_equals=(field, value)).backward(None, 50)
    return head if found.exhausted else head - (found.scanned_to or head) + 1


def raw_pages(cursor, sql: str, first: object, next_key, decode: bool) -> int:
    total, key = 0, first
    loads = json.loads
    while True:
        cursor.execute(sql, key)
        rows = cursor.fetchall()
        if not rows:
            return total
        if decode:
            rows = [(*r[:6], loads(r[6]), loads(r[7]), r[8]) for r in rows]
        total += len(rows)
        key = next_key(rows[-1])


def bench(
    url: str, raw_cursor, placeholder: str, decode: bool, count: int, title: str, rounds: int
) -> None:
    store = open_migrated_store(url)
    try:
        fill(store, count)
        if store.dialect == "postgresql":  # what autovacuum would soon do after a bulk load
            with store.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE events")
                conn.commit()
        stream_sql = STREAM_SQL.format(p=placeholder)
        all_sql = ALL_SQL.format(p=placeholder)
        first_key, next_key = ("account-big", 1), lambda r: (r[1], r[2] + 1)
        runs = {
            "raw driver, stream": lambda: raw_pages(
                raw_cursor, stream_sql, first_key, next_key, decode
            ),
            "eventscope read_stream": lambda: eventscope_stream(store),
            "raw driver, $all": lambda: raw_pages(
                raw_cursor, all_sql, (0,), lambda r: (r[0],), decode
            ),
            "eventscope read_all": lambda: eventscope_all(store),
        }
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, run in runs.items():
                best[name] = max(best.get(name, 0.0), timed(run))
        names = list(runs)
        report(
            f"{title}: read one {count}-event stream, pages of {PAGE} (best of {rounds})",
            [(n, best[n]) for n in names[:2]],
            names[0],
        )
        report(
            f"{title}: read $all ({count} events), pages of {PAGE} (best of {rounds})",
            [(n, best[n]) for n in names[2:]],
            names[2],
        )
        scans = {
            "eventscope read_all": best["eventscope read_all"],
            "payload filter, value in 1 event": max(
                timed(lambda: payload_page(store, "amount", "7", count)) for _ in range(rounds)
            ),
            "payload filter, value in every event": max(
                timed(lambda: payload_page(store, "currency", "EUR", count)) for _ in range(rounds)
            ),
        }
        report(
            f"{title}: newest page of 50 with a payload filter over {count} events "
            f"(events of the log covered per second, best of {rounds})",
            list(scans.items()),
            "eventscope read_all",
        )
        fill_old_schema(store, count)
        head = store.head_position()
        upcast = {
            "payload filter as stored, value in 1 event": max(
                timed(lambda: payload_page(store, "amount", "7", 2 * count)) for _ in range(rounds)
            ),
            "also as read today (upcast)": max(
                timed(lambda: upcast_page(store, "amount", "7", head)) for _ in range(rounds)
            ),
        }
        report(
            f"{title}: the same over {2 * count} events, {count} of them stored under schema 1 "
            f"(one page upcasts at most {log_search.SCAN_LIMIT:,} old events; "
            f"events of the log covered per second, best of {rounds})",
            list(upcast.items()),
            "payload filter as stored, value in 1 event",
        )
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg-url", default=PG_BASE_URL)
    args = parser.parse_args()
    if args.backend in ("sqlite", "all"):
        with sqlite_database("NORMAL") as (url, path):
            open_migrated_store(url).close()
            conn = sqlite3.connect(path)
            try:
                bench(url, conn.cursor(), "?", True, args.events, "SQLite", args.rounds)
            finally:
                conn.close()
    if args.backend in ("postgresql", "all"):
        with postgresql_schema(args.pg_url) as (url, _schema):
            open_migrated_store(url).close()
            conn = psycopg_connect(url, autocommit=True)
            try:
                bench(url, conn.cursor(), "%s", False, args.events, "PostgreSQL", args.rounds)
            finally:
                conn.close()


if __name__ == "__main__":
    main()
