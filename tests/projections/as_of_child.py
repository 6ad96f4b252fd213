"""A second process of the as-of tests: asks one as-of question or takes one milestone.

    python tests/projections/as_of_child.py DB_URL --position P [--milestone]
        [--ready FILE --go FILE] [--lease S] [--slow S] [--ttl S --grace S] [--no-close]

Builds a runtime on an already migrated store, touches `--ready`, waits for `--go` to
exist (so several children ask at the same moment), then reads every account row of
`account_summary` as of P (or takes the milestone at P) and prints one JSON line: the
rows, how many scratch generations this process built and how many another built.
`--slow` sleeps that long before each batch the projection handles (a build that lasts);
`--no-close` leaves as a killed process would, without dropping anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402
from conftest import make_settings  # noqa: E402

from webapp.bootstrap import build_runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("--position", type=int, required=True)
    parser.add_argument("--milestone", action="store_true")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--lease", type=float)
    parser.add_argument("--slow", type=float, default=0.0)
    parser.add_argument("--ttl", type=float)
    parser.add_argument("--grace", type=float)
    parser.add_argument("--no-close", action="store_true")
    args = parser.parse_args()

    runtime = build_runtime(make_settings(args.db_url), migrate=False)
    service = runtime.projections
    reader = service.as_of
    keeper = service._keepers["account_summary"]  # noqa: SLF001 - the test tunes its timings
    if args.lease is not None:
        reader.lease_seconds = keeper.lease_seconds = args.lease
    if args.ttl is not None:
        reader.ttl_seconds = args.ttl
    if args.grace is not None:
        reader.grace_seconds = args.grace
    if args.slow:
        projection = service.get("account_summary")
        handle = projection.handle_batch

        def slow_batch(conn, tables, events):  # noqa: ANN001, ANN202
            time.sleep(args.slow)
            return handle(conn, tables, events)

        projection.handle_batch = slow_batch  # type: ignore[method-assign]

    if args.ready is not None:
        args.ready.touch()
    while args.go is not None and not args.go.exists():
        time.sleep(0.002)

    def every_row(conn: sa.Connection, tables: dict[str, sa.Table]) -> list[list[str]]:
        table = tables["accounts"]
        rows = conn.execute(sa.select(table).order_by(table.c.account_number))
        return [[str(v) for v in row] for row in rows]

    if args.milestone:
        taken = service.take_milestone("account_summary", args.position)
        out = {"taken": taken is not None}
    else:
        rows = service.query_as_of("account_summary", args.position, every_row)
        out = {"rows": rows, "builds": reader.builds, "adopted": reader.adopted}
    print(json.dumps(out), flush=True)
    if args.no_close:
        os._exit(0)
    runtime.close()


if __name__ == "__main__":
    main()
