"""Where an append's time goes on SQLite: eventscope's schema with indexes removed.

    python bench/append_schema.py [--events 2000] [--batch 1] [--rounds 5]

Runs bench/append.py's raw-sqlite3 workload (eventscope's exact statements: stream
upsert with RETURNING, event insert, commit; WAL, synchronous=NORMAL) against the
migrated schema, the same schema without the recorded_at index, and the schema with
every secondary index dropped (only the events table, its unique (stream_id,
stream_version) and the streams row are left), beside eventscope itself and the
`eventsourcing` SQLiteApplicationRecorder. Two floors close the table: the same event
rows inserted into a table with only a unique (stream_id, stream_version) index (the
least that still refuses a concurrent writer's duplicate version, which is all the
`eventsourcing` table keeps) and into a table with no index at all (the least SQLite
can do per commit with these rows and this durability). Rounds are interleaved with a
rotating order; medians are printed with ratios to `eventsourcing`. A diagnostic, not
a configuration: the store keeps every index (the dashboard's reads need them).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_common import sqlite_database, timed  # noqa: E402
from append import (  # noqa: E402
    INSERT,
    eventscope_run,
    eventsourcing_run,
    make_events,
    raw_sqlite_run,
    sqlite_rows,
)

from webapp.migrate import upgrade  # noqa: E402

SECONDARY = [
    "ix_events_recorded_at",
    "ix_streams_updated_at",
    "ix_events_type_position",
    "ix_events_correlation_id_position",
    "ix_events_actor_position",
    "ux_events_event_id",
]
ES = "eventsourcing recorder"
FLOOR_VERSION = "floor: events + unique version"
FLOOR = "floor: events, no index"
VARIANTS: dict[str, list[str] | None] = {
    "eventscope": None,
    "raw, full schema": [],
    "raw, no recorded_at index": ["ix_events_recorded_at"],
    "raw, no secondary index": SECONDARY,
    ES: None,
    FLOOR_VERSION: None,
    FLOOR: None,
}
FLOOR_TABLE = (
    "CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, "
    "stream_version INTEGER NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, "
    "schema_version INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, "
    "correlation_id TEXT, actor TEXT, recorded_at TEXT NOT NULL)"
)


def floor_run(path: Path, events: list, batch: int, unique_version: bool) -> float:
    """The same event rows, one transaction per batch, into a bare table: no streams row,
    no version check beyond (optionally) the unique index, no secondary index."""
    from datetime import UTC, datetime

    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "secure_delete = ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(FLOOR_TABLE)
    if unique_version:
        conn.execute("CREATE UNIQUE INDEX ux_version ON events (stream_id, stream_version)")
    insert = INSERT.format(p="?")
    versions = [0] * 100

    def run() -> int:
        for n, start in enumerate(range(0, len(events), batch)):
            chunk = events[start : start + batch]
            s = n % 100
            stream_id = f"account-{s}"
            stamp = datetime.now(UTC).isoformat(" ", "microseconds")
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert, sqlite_rows(chunk, stream_id, versions[s], stamp))
            conn.execute("COMMIT")
            versions[s] += len(chunk)
        return len(events)

    try:
        return timed(run)
    finally:
        conn.close()


def run_variant(name: str, events: list, batch: int) -> float:
    with sqlite_database("NORMAL") as (url, path):
        if name == ES:
            return eventsourcing_run(path, "NORMAL", events, batch)
        if name == "eventscope":
            return eventscope_run(url, events, batch)
        if name in (FLOOR, FLOOR_VERSION):
            return floor_run(path, events, batch, unique_version=name == FLOOR_VERSION)
        upgrade(url)
        conn = sqlite3.connect(path)
        for index in VARIANTS[name] or ():
            conn.execute(f"DROP INDEX {index}")
        conn.commit()
        conn.close()
        return raw_sqlite_run(path, "NORMAL", events, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    for r in range(args.rounds):
        events = make_events(args.events, args.batch)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            rates[name].append(run_variant(name, events, args.batch))
    es = statistics.median(rates[ES])
    print(
        f"SQLite append, {args.batch} event(s)/transaction, {args.events} events, "
        f"{args.rounds} interleaved rounds (medians)"
    )
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:<32} {median:>9,.0f} events/s  {median / es:5.2f}x eventsourcing")
    print(
        f"  2x eventsourcing would be {2 * es:,.0f} events/s; "
        f"the no-index floor reaches {statistics.median(rates[FLOOR]) / es:.2f}x"
    )


if __name__ == "__main__":
    main()
