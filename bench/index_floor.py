"""Where appends stop once the index is kept (SQLite, one run): the raw driver's floor.

    python bench/index_floor.py [--events N] [--rounds R] [--batch 100|1]

The same appends (eventscope's commit path, by the raw driver, 100 streams, exact
versions, `--batch` events per transaction) run these ways, interleaved, each on a
fresh file:

- "commit path alone": no index is kept (the floor of any store that checks versions);
- "index in the same transaction": every append also writes its index rows and moves
  the mark, with the builder's own SQL, before it commits (no builder at all);
- "index in the same file": a thread indexes behind the appends with the builder's own
  SQL (webapp.store.indexer) in the store's file, as eventscope does: both take turns on
  the file's one write lock;
- "index in an attached file": the index tables live in a second file that the builder
  ATTACHes; it only reads the log's file, so it never waits for the appends' lock and
  may use the second core;
- the `eventsourcing` library's SQLite recorder, the baseline.

Each prints appends/s (until the last commit) and indexed/s (until the index has caught
up with the last append): the second is what a store that keeps its filters sustains.
The index tables are created from the DDL the migrated schema holds, so both index
variants keep exactly eventscope's indexes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from append import (  # noqa: E402
    INSERT,
    STREAMS,
    VERSION,
    eventsourcing_run,
    make_events,
    sqlite_rows,
)

from webapp.migrate import upgrade  # noqa: E402
from webapp.store.indexer import INDEX_EVENTS, INDEX_STREAMS  # noqa: E402

BATCH = 100  # events per transaction (--batch)
INDEX_TABLES = ("event_index", "streams", "index_progress")
BUILDER_DELAY = 0.05  # as webapp.store.indexer.DELAY
BUILDER_BATCH = 20_000  # as webapp.store.indexer.BATCH


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def migrated(folder: Path, index: str) -> tuple[Path, Path | None]:
    """eventscope's schema in `folder`; with index="attached" its index tables moved to a
    second file (same DDL), else left where the migration put them."""
    path = folder / "store.db"
    upgrade(f"sqlite:///{path}")
    if index != "attached":
        return path, None
    second = folder / "index.db"
    conn = connect(path)
    ddl = [
        sql
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN (?, ?, ?) AND sql IS NOT NULL "
            "ORDER BY type DESC",  # tables before their indexes
            INDEX_TABLES,
        )
    ]
    rows = conn.execute("SELECT * FROM index_progress").fetchall()
    for table in INDEX_TABLES:
        conn.execute(f"DROP TABLE {table}")
    conn.close()
    other = connect(second)
    for statement in ddl:
        other.execute(statement)
    other.executemany("INSERT INTO index_progress VALUES (?, ?, ?)", rows)
    other.close()
    return path, second


def builder(path: Path, second: Path | None, stop: threading.Event, done: list[int]) -> None:
    """Index behind the appends: every BUILDER_DELAY, up to BUILDER_BATCH events per
    transaction, the mark moved in the same transaction (as the store's builder)."""
    conn = connect(path)
    if second is not None:
        conn.execute(f"ATTACH DATABASE '{second}' AS ix")
    # attached: a deferred BEGIN takes the write lock of the index file only
    begin = "BEGIN" if second is not None else "BEGIN IMMEDIATE"
    while True:
        time.sleep(BUILDER_DELAY)
        finished = stop.is_set()
        conn.execute(begin)
        (mark,) = conn.execute("SELECT position FROM index_progress").fetchone()
        (head,) = conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
        upto = min(head, mark + BUILDER_BATCH)
        if upto > mark:
            conn.execute(INDEX_EVENTS, (mark, upto))
            conn.execute(INDEX_STREAMS, (mark, upto))
            conn.execute("UPDATE index_progress SET position = ?", (upto,))
        conn.execute("COMMIT")
        done[0] = upto
        if finished and upto >= head:
            conn.close()
            return


def appends(index: str, events: list) -> tuple[float, float]:
    """(appends/s, indexed/s) of one way of keeping the index ("none", "inline", "same",
    "attached")."""
    with tempfile.TemporaryDirectory(prefix="eventscope-bench-") as folder:
        path, second = migrated(Path(folder), index)
        conn = connect(path)
        version_of, insert = VERSION.format(p="?"), INSERT.format(p="?")
        stop, done = threading.Event(), [0]
        thread = None
        if index in ("same", "attached"):
            thread = threading.Thread(target=builder, args=(path, second, stop, done))
            thread.start()
        started = time.perf_counter()
        for n, start in enumerate(range(0, len(events), BATCH)):
            stream_id = f"account-{n % STREAMS}"
            stamp = datetime.now(UTC).isoformat(" ", "microseconds")
            conn.execute("BEGIN IMMEDIATE")
            (base,) = conn.execute(version_of, (stream_id,)).fetchone()
            batch = events[start : start + BATCH]
            conn.executemany(insert, sqlite_rows(batch, stream_id, base, stamp))
            if index == "inline":
                (upto,) = conn.execute("SELECT last_insert_rowid()").fetchone()
                conn.execute(INDEX_EVENTS, (upto - len(batch), upto))
                conn.execute(INDEX_STREAMS, (upto - len(batch), upto))
                conn.execute("UPDATE index_progress SET position = ?", (upto,))
                done[0] = upto
            conn.execute("COMMIT")
        committed = time.perf_counter() - started
        stop.set()
        if thread is not None:
            thread.join()
        indexed = time.perf_counter() - started
        conn.close()
        if index != "none":
            assert done[0] == len(events), (done[0], len(events))
        return len(events) / committed, len(events) / indexed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100, help="events per transaction")
    args = parser.parse_args()
    global BATCH  # noqa: PLW0603 - one setting for the whole run
    BATCH = args.batch
    load = os.getloadavg()
    print(
        f"bench/index_floor.py {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs, "
        f"{args.events:,} events, {BATCH} per transaction, synchronous=NORMAL, WAL"
    )
    ways = {
        "commit path alone": "none",
        "index in the same transaction": "inline",
        "index in the same file": "same",
        "index in an attached file": "attached",
    }
    best: dict[str, tuple[float, float]] = {}
    recorder = 0.0
    for _ in range(args.rounds):
        events = make_events(args.events, BATCH)
        for name, index in ways.items():
            rate = appends(index, events)
            old = best.get(name, (0.0, 0.0))
            best[name] = (max(old[0], rate[0]), max(old[1], rate[1]))
        with tempfile.TemporaryDirectory(prefix="eventscope-bench-") as folder:
            recorder = max(
                recorder, eventsourcing_run(Path(folder) / "es.db", "NORMAL", events, BATCH)
            )
    print(f"\n  {'':<32}{'appends/s':>12}{'indexed/s':>12}  vs recorder (indexed)")
    for name, (appended, indexed) in best.items():
        shown = "-" if name == "commit path alone" else f"{indexed:>12,.0f}"
        ratio = (appended if name == "commit path alone" else indexed) / recorder
        print(f"  {name:<32}{appended:>12,.0f}{shown:>12}  {ratio:.2f}x")
    print(f"  {'eventsourcing recorder':<32}{recorder:>12,.0f}")


if __name__ == "__main__":
    main()
