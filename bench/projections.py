"""Catch-up speed of the demo projections over synthetic events (SQLite, and PostgreSQL).

    python bench/projections.py                     # 200,000 events, SQLite and PostgreSQL
    python bench/projections.py --events 1000000    # the full figure
    python bench/projections.py --backends sqlite

Baseline, measured in the same run: reading the whole log through `store.read_all`
in pages of the same size, with no projection work (the ceiling a projection can
reach). Each projection's figure is log events per second from position 0 to the
head (its checkpoint written in the same transaction as every batch).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webapp.bootstrap import open_migrated_store
from webapp.projections.group import ProjectionGroup  # noqa: E402
from webapp.projections.service import build_projections  # noqa: E402
from webapp.store.types import NewEvent  # noqa: E402

PG_URL = os.environ.get("EVENTSCOPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET = 20_000


def synthetic_events(count: int, seed: int = 7):
    """(stream_id, [NewEvent]) chunks in the demo's shapes: accounts, money, users."""
    rng = random.Random(seed)
    accounts: list[str] = []
    users = 0
    produced = 0
    while produced < count:
        roll = rng.random()
        if roll < 0.04 or not accounts:
            number = f"B{len(accounts):07d}"
            accounts.append(number)
            events = [
                NewEvent(
                    "BankAccountOpened",
                    {"account_number": number, "owner_id": f"u{users}", "initial_balance": 1000},
                )
            ]
            stream = f"account-{number}"
        elif roll < 0.06:
            user_id = f"u{users}"
            users += 1
            events = [
                NewEvent(
                    "UserRegistered",
                    {"user_id": user_id, "name": f"User {user_id}", "email": f"{user_id}@x.test"},
                ),
                NewEvent("EmailChanged", {"user_id": user_id, "email": f"new-{user_id}@x.test"}),
            ]
            stream = f"user-{user_id}"
        else:
            number = rng.choice(accounts)
            events = []
            for _ in range(20):
                data = {"account_number": number, "amount": rng.randint(1, 50)}
                if rng.random() < 0.6:
                    events.append(NewEvent("MoneyDeposited", data, schema_version=2))
                else:
                    events.append(NewEvent("MoneyWithdrawn", data))
            stream = f"account-{number}"
        events = events[: count - produced]
        produced += len(events)
        yield stream, events


def fill(store, count: int) -> float:
    started = time.perf_counter()
    for stream, events in synthetic_events(count):
        store.append(stream, events)
    return time.perf_counter() - started


class Clock:
    """Wall time and this process's CPU time (SQLite runs in-process, so CPU time is the
    work itself; it stays meaningful on a busy shared machine where wall time does not)."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0

    def rates(self, events: int) -> str:
        return (
            f"{self.wall:7.2f}s wall = {events / self.wall:>9,.0f} events/s; "
            f"{self.cpu:7.2f}s CPU = {events / self.cpu:>9,.0f} events per CPU-second"
        )


def baseline_read(store, page: int) -> Clock:
    with Clock() as clock:
        after = 0
        while True:
            events = store.read_all(after=after, limit=page)
            if not events:
                break
            after = events[-1].position
    return clock


def run_backend(
    label: str, url: str, count: int, page: int, together_only: bool = False
) -> list[tuple[str, float, float]]:
    store = open_migrated_store(url)
    try:
        if store.head_position() >= count:  # a kept file from an earlier run (--sqlite-file)
            print(f"\n## {label}: reusing {store.head_position():,} events", flush=True)
            with store.engine.begin() as conn:  # start the projections from scratch
                for name in [*sa.inspect(conn).get_table_names()]:
                    if name.startswith(("rm_", "projection_")) and name != "projection_leases":
                        conn.execute(sa.text(f'DELETE FROM "{name}"'))
        else:
            print(f"\n## {label}: filling {count:,} synthetic events ...", flush=True)
            took = fill(store, count)
            print(f"   appended in {took:.1f}s ({count / took:,.0f} events/s)")
        head = store.head_position()
        base = baseline_read(store, page)
        print(f"   baseline: read_all alone, pages of {page}:")
        print(f"     {base.rates(head)}")
        service = build_projections(store)
        rows = []
        # the worker's way: one read of the log feeds every projection
        runners = [service.runner(n, batch_size=page) for n in service.names()]
        with Clock() as together:
            ProjectionGroup(store, runners, page_size=page).run_until_caught_up()
        print(f"   ALL {len(runners)} demo projections together (the worker's shared read):")
        print(
            f"     {together.rates(head)}   "
            f"(wall x{base.wall / together.wall:.2f}, "
            f"CPU x{base.cpu / together.cpu:.2f} of baseline)"
        )
        for kind, seconds in (("wall", together.wall), ("CPU", together.cpu)):
            verdict = "meets" if head / seconds >= TARGET else "misses"
            print(f"     by {kind} time it {verdict} the {TARGET:,} events/s target")
        if not together_only:
            print("   each projection rebuilt alone (reading the log itself):")
            for name in service.names():
                with Clock() as alone:
                    service.rebuild_now(name)
                rows.append((name, alone.wall, head / alone.wall))
                print(f"     {name:<18} {alone.rates(head)}")
        rows.append(("all together", together.wall, head / together.wall))
        rows.append(("baseline read_all", base.wall, head / base.wall))
        return rows
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--pg-events", type=int, default=None, help="default: --events")
    parser.add_argument("--page", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--sqlite-file", help="keep (and reuse) the filled SQLite file here")
    parser.add_argument(
        "--together-only", action="store_true", help="skip the per-projection rebuild figures"
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as folder:
            run_backend(
                "SQLite",
                f"sqlite:///{args.sqlite_file or Path(folder) / 'bench.db'}",
                args.events,
                args.page,
                args.together_only,
            )
    if "postgresql" in backends:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        except sa.exc.OperationalError as exc:
            print(f"\n## PostgreSQL: not reachable ({exc.__class__.__name__}); skipped")
            return
        sep = "&" if "?" in PG_URL else "?"
        try:
            run_backend(
                "PostgreSQL",
                f"{PG_URL}{sep}options=-csearch_path%3D{schema}",
                args.pg_events or args.events,
                args.page,
                args.together_only,
            )
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
