"""Where an append's time goes on SQLite: eventscope's schema with indexes removed.

    python bench/append_schema.py [--events 2000] [--batch 1] [--rounds 5]

Runs bench/append.py's raw-sqlite3 workload (eventscope's exact statements: stream
upsert with RETURNING, event insert, commit; WAL, synchronous=NORMAL) against the
migrated schema, the same schema without the recorded_at index, and the schema with
every secondary index dropped (only the events table, its unique (stream_id,
stream_version) and the streams row are left), beside eventscope itself and the
`eventsourcing` SQLiteApplicationRecorder. Rounds are interleaved with a rotating
order; medians are printed with ratios to `eventsourcing`. A diagnostic, not a
configuration: the store keeps every index (the dashboard's reads need them).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _store_common import sqlite_database  # noqa: E402
from append import eventscope_run, eventsourcing_run, make_events, raw_sqlite_run  # noqa: E402

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
VARIANTS: dict[str, list[str] | None] = {
    "eventscope": None,
    "raw, full schema": [],
    "raw, no recorded_at index": ["ix_events_recorded_at"],
    "raw, no secondary index": SECONDARY,
    ES: None,
}


def run_variant(name: str, events: list, batch: int) -> float:
    with sqlite_database("NORMAL") as (url, path):
        if name == ES:
            return eventsourcing_run(path, "NORMAL", events, batch)
        if name == "eventscope":
            return eventscope_run(url, events, batch)
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
        print(f"  {name:<28} {median:>9,.0f} events/s  {median / es:5.2f}x eventsourcing")


if __name__ == "__main__":
    main()
