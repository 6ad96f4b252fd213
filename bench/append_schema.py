"""Where an append's time goes on SQLite: the slim commit path beside what it replaced.

    python bench/append_schema.py [--events 2000] [--batch 1] [--rounds 5]

Runs eventscope (its index builder indexing behind the appends, timed until it has
caught up), eventscope's commit path alone, bench/append.py's raw-sqlite3 workload
(eventscope's commit statements by hand: the stream's version from the unique index,
the insert, the commit; WAL, synchronous=NORMAL) on the store_0003 schema and on the
same schema with store_0002's six indexes put back on `events` (what every commit
updated before they moved to the index builder), and the `eventsourcing`
SQLiteApplicationRecorder. Two floors close the table: the same event rows inserted
into a table with only a unique (stream_id, stream_version) index (the least that
still refuses a concurrent writer's duplicate version) and into a table with no index
at all (the least SQLite can do per commit with these rows and this durability).
Rounds are interleaved with a rotating order; medians are printed with ratios to
`eventsourcing`."""

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

# The indexes store_0002 kept on `events`, updated by every commit until store_0003 moved
# them to the index builder's `event_index`.
OLD_INDEXES = [
    "CREATE INDEX ix_events_recorded_at ON events (recorded_at)",
    "CREATE INDEX ix_events_occurred_at ON events (occurred_at)",
    "CREATE INDEX ix_events_type_position ON events (type, position)",
    "CREATE INDEX ix_events_correlation_id_position ON events (correlation_id, position) "
    "WHERE correlation_id IS NOT NULL",
    "CREATE INDEX ix_events_actor_position ON events (actor, position) WHERE actor IS NOT NULL",
    "CREATE UNIQUE INDEX ux_events_event_id ON events (event_id)",
]
ES = "eventsourcing recorder"
FLOOR_VERSION = "floor: events + unique version"
FLOOR = "floor: events, no index"
COMMIT_PATH = "eventscope, commit path only"
VARIANTS: dict[str, list[str] | None] = {
    "eventscope (builder running)": None,
    COMMIT_PATH: None,
    "raw, store_0003 schema": [],
    "raw, store_0002's indexes back": OLD_INDEXES,
    ES: None,
    FLOOR_VERSION: None,
    FLOOR: None,
}
FLOOR_TABLE = (
    "CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, "
    "stream_version INTEGER NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, "
    "schema_version INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, "
    "correlation_id TEXT, actor TEXT, occurred_at TEXT, recorded_at TEXT NOT NULL)"
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
        if name == COMMIT_PATH:
            return eventscope_run(url, events, batch, commit_only=True)[0]
        if name.startswith("eventscope"):
            return eventscope_run(url, events, batch)
        if name in (FLOOR, FLOOR_VERSION):
            return floor_run(path, events, batch, unique_version=name == FLOOR_VERSION)
        upgrade(url)
        conn = sqlite3.connect(path)
        for statement in VARIANTS[name] or ():
            conn.execute(statement)
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
    print(f"  the no-index floor reaches {statistics.median(rates[FLOOR]) / es:.2f}x")


if __name__ == "__main__":
    main()
