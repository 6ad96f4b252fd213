"""As-of reads against a full replay: an account as it stood at past positions of the log.

    python bench/as_of.py [--events 1000000] [--every 100000] [--accounts 10000]
                          [--backend sqlite|postgresql] [--db-file PATH]

Builds a store of the demo domain (accounts opened, then deposits, withdrawals and
transfers interleaved block by block, through the store's batched append), takes a
milestone of `account_summary` every `--every` events (keeping all of them), then
measures in the same run, for several positions:

- the as-of read `read_models.get("accounts", n, position=P)` (the shape of
  `GET /api/read/accounts/<n>?position=P`): cold (a moment nobody asked for yet: a scratch
  generation is built from the nearest milestone) and warm (the same moment again);
- the same read at a kept milestone exactly;
- the baseline: a full replay of the projection's handlers from position 0 to P into a
  fresh generation, then the same lookup; and the ratio of the two;
- a date turned into a position (`position_at`) on both clocks;
- the disk the milestones take (per milestone, in total, and as a share of the store).

Targets (issue 19): an as-of read at most 2 s at 1,000,000 events with milestones every
100,000; at most 100 ms at a kept milestone.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from webapp.bootstrap import Runtime, build_runtime  # noqa: E402
from webapp.config import Settings  # noqa: E402
from webapp.projections import copies  # noqa: E402
from webapp.projections.milestones import build_at  # noqa: E402
from webapp.store import NewEvent  # noqa: E402

PG_URL = os.environ.get("EVENTSCOPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MASTER_KEY = base64.b64encode(b"bench-as-of-master-key-32-bytes!").decode()
PROJECTION = "account_summary"
TARGET_S = 2.0
TARGET_MILESTONE_MS = 100.0
BLOCK = 4_000
SCHEMA_SIZE = (
    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
)
"""The bench's own schema on PostgreSQL: its tables with their indexes and TOAST."""
"""Events per block: a block's events are appended stream by stream, blocks one by one."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000, help="events between milestones")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--db-file",
        type=Path,
        default=None,
        help="SQLite file to build once and reuse on later runs (default: a temporary one)",
    )
    args = parser.parse_args()
    if args.events < 2 * args.every or args.events < 2 * args.accounts:
        parser.error("need events >= 2 * every and events >= 2 * accounts")
    return args


@contextmanager
def database(backend: str, db_file: Path | None) -> Iterator[tuple[str, Path | None]]:
    """(store URL, SQLite file or None): the given file, a fresh PostgreSQL schema, or a
    temporary SQLite file."""
    if db_file is not None:
        yield f"sqlite:///{db_file.resolve()}", db_file.resolve()
    elif backend == "postgresql":
        schema = f"bench_as_of_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        try:
            yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}", None
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory(prefix="eventscope-as-of-") as folder:
            path = Path(folder) / "bench.db"
            yield f"sqlite:///{path}", path


# --- building the store ----------------------------------------------------------------------


def account(n: int) -> str:
    return f"B{n:06d}"


def build_store(runtime: Runtime, args: argparse.Namespace) -> None:
    """Open `--accounts` accounts, then deposits (60 %), withdrawals (25 %) and transfers
    (15 %: four transfer events and a debit and a credit) until `--events`, block by block;
    every 50th account is closed in the last block."""
    store = runtime.store
    started = time.perf_counter()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    meta = {"actor": "bench"}
    opened = [
        NewEvent(
            "BankAccountOpened",
            {"account_number": account(n), "owner_id": f"u-{n:06d}", "initial_balance": 1000},
            {**meta, "occurred_at": (t0 + timedelta(seconds=n)).isoformat()},
        )
        for n in range(args.accounts)
    ]
    for n, event in enumerate(opened):
        store.append(f"account-{account(n)}", [event])
    written, step, transfer = args.accounts, 0, 0
    closing = args.events - args.accounts // 50
    while written < args.events:
        streams: dict[str, list[NewEvent]] = {}
        window = (written // BLOCK * 37) % args.accounts  # each block touches ~200 accounts
        block_end = min(written + BLOCK, closing if written < closing else args.events)
        while written < block_end:
            step += 1
            number = account((window + step * 7919 % 200) % args.accounts)
            roll = step % 20
            occurred = {**meta, "occurred_at": (t0 + timedelta(minutes=step)).isoformat()}
            if written >= closing:
                number = account((written - closing) * 50 % args.accounts)
                events = [NewEvent("BankAccountClosed", {"account_number": number}, occurred)]
                streams.setdefault(f"account-{number}", []).extend(events)
                written += 1
            elif roll < 3 and block_end - written >= 6:
                transfer += 1
                other = account((window + (step + 1) * 7919 % 200) % args.accounts)
                tid = f"t{transfer:07d}"
                amount = 1 + step % 50
                move = {"amount": amount}
                streams.setdefault(f"transfer-{tid}", []).extend(
                    [
                        NewEvent(
                            "TransferRequested",
                            {"transfer_id": tid, "from_account": number, "to_account": other}
                            | move,
                            occurred,
                        ),
                        NewEvent(
                            "TransferDebited",
                            {"transfer_id": tid, "account_number": number} | move,
                            occurred,
                        ),
                        NewEvent(
                            "TransferCreditStarted",
                            {"transfer_id": tid, "account_number": other} | move,
                            occurred,
                        ),
                        NewEvent("TransferCompleted", {"transfer_id": tid}, occurred),
                    ]
                )
                streams.setdefault(f"account-{number}", []).append(
                    NewEvent("MoneyWithdrawn", {"account_number": number} | move, occurred)
                )
                streams.setdefault(f"account-{other}", []).append(
                    NewEvent(
                        "MoneyDeposited",
                        {"account_number": other} | move,
                        occurred,
                        schema_version=2,
                    )
                )
                written += 6
            else:
                kind = "MoneyWithdrawn" if roll < 8 else "MoneyDeposited"
                version = 2 if kind == "MoneyDeposited" else 1
                data = {"account_number": number, "amount": 1 + step % 90}
                streams.setdefault(f"account-{number}", []).append(
                    NewEvent(kind, data, occurred, schema_version=version)
                )
                written += 1
        for stream_id, events in streams.items():
            store.append(stream_id, events)
        if written // 100_000 != (written - BLOCK) // 100_000:
            print(f"  {written:>9,} events", file=sys.stderr, flush=True)
    store.catch_up_index()
    built = time.perf_counter() - started
    print(f"built {store.count_events():,} events in {built:.0f} s", file=sys.stderr)


# --- measuring -------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def full_replay(runtime: Runtime, position: int, number: str) -> tuple[float, Any]:
    """The baseline: the projection's handlers from position 0 to `position` into a fresh
    generation, then the same lookup there; (seconds, row). The generation is dropped."""
    service = runtime.projections
    keeper = service._keepers[PROJECTION]  # noqa: SLF001 - the bench drives the build itself
    lookup = runtime.read_models.lookup("accounts")
    started = time.perf_counter()
    copy = copies.claim_copy(
        runtime.store.engine,
        keeper.tables,
        kind="bench-baseline",
        position=position,
        owner="bench",
        lease_seconds=3600,
    )
    assert copy is not None
    build_at(keeper, copy, None)
    with runtime.store.engine.connect() as conn:
        row = lookup.get(conn, keeper.tables.tables(copy.generation), number)
    elapsed = time.perf_counter() - started
    copies.drop_copy(runtime.store.engine, keeper.tables, copy)
    return elapsed, row


def milestone_disk(runtime: Runtime, sqlite_file: Path | None) -> list[tuple[str, int]]:
    """(table, bytes) of every milestone table of the projection."""
    engine = runtime.store.engine
    table_set = runtime.projections.table_set(PROJECTION)
    names = [
        table.name
        for milestone in runtime.projections.milestones(PROJECTION)
        for table in table_set.tables(milestone["generation"]).values()
    ]
    out = []
    with engine.connect() as conn:
        for name in names:
            if sqlite_file is None:
                size = conn.execute(
                    sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": name}
                ).scalar_one()
            else:  # the table and its indexes, page by page
                size = conn.execute(
                    sa.text(
                        "SELECT SUM(pgsize) FROM dbstat WHERE name = :t OR name IN "
                        "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"
                    ),
                    {"t": name},
                ).scalar_one()
            out.append((name, int(size or 0)))
    return out


def store_bytes(runtime: Runtime, sqlite_file: Path | None) -> int:
    with runtime.store.engine.connect() as conn:
        if sqlite_file is None:
            return int(conn.execute(sa.text(SCHEMA_SIZE)).scalar_one())
        pages = conn.execute(sa.text("PRAGMA page_count")).scalar_one()
        size = conn.execute(sa.text("PRAGMA page_size")).scalar_one()
        return int(pages) * int(size)


def main() -> None:
    args = parse_args()
    load = os.getloadavg()
    print(
        f"as-of bench: {args.events:,} events, milestones every {args.every:,}, "
        f"{args.accounts:,} accounts, {args.backend}; load average {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    from webapp.queries.as_of import position_at
    from webapp.queries.state import HAPPENED, RECORDED

    with database(args.backend, args.db_file) as (url, sqlite_file):
        keep = args.events // args.every + 1
        settings = Settings(
            db_url=url,
            master_key=MASTER_KEY,
            extra={"milestone_every": args.every, "milestones_kept": keep},
        )
        runtime = build_runtime(settings)
        try:
            if runtime.store.head_position() == 0:
                build_store(runtime, args)
            run(runtime, args, sqlite_file, position_at, (RECORDED, HAPPENED))
        finally:
            runtime.close()


def run(runtime: Runtime, args: argparse.Namespace, sqlite_file, position_at, clocks) -> None:
    service = runtime.projections
    store = runtime.store
    head = store.head_position()
    every = args.every

    # milestones: each from the one before it and the events between
    before = store_bytes(runtime, sqlite_file)
    build_times = []
    for position in range(every, head + 1, every):
        seconds, taken = timed(lambda p=position: service.take_milestone(PROJECTION, p))
        if taken is not None:
            build_times.append(seconds)
    kept = [m["position"] for m in service.milestones(PROJECTION)]
    after = store_bytes(runtime, sqlite_file)
    if build_times:
        print(
            f"\nmilestones at {kept[0]:,}..{kept[-1]:,} ({len(kept)}): built in "
            f"{statistics.median(build_times):.2f} s each (median; from the one before)"
        )

    # the positions: just after a milestone, half way, just before the next one
    middle = (len(kept) // 2) * every
    positions = sorted(
        {
            every - 1,  # no milestone before it: replays from 0
            middle + 1,
            middle + every // 2,
            middle + every - 1,  # the worst case between milestones
            head - 1,
        }
        - {0, *kept}
    )
    rows = [("between", p, *measure(runtime, p)) for p in positions]
    at_milestones = sorted({kept[0], kept[len(kept) // 3], kept[-1]}) if kept else []
    rows += [("milestone", p, *measure(runtime, p)) for p in at_milestones]

    print(
        f"\n{'kind':<10} {'position':>10} {'cold s':>8} {'warm ms':>8} {'replay s':>9} "
        f"{'cold/replay':>11}  target"
    )
    for kind, position, cold, warm, replayed in rows:
        target = TARGET_S if kind == "between" else TARGET_MILESTONE_MS / 1000
        verdict = "ok" if cold <= target else "MISSED"
        print(
            f"{kind:<10} {position:>10,} {cold:>8.3f} {warm * 1000:>8.1f} {replayed:>9.2f} "
            f"{cold / replayed:>11.3f}  <= {target:g} s {verdict}"
        )

    print("\ndate -> position (position_at):")
    from webapp.queries.context import Parts  # noqa: F401 - the runtime is the parts

    for clock in clocks:
        for target in (head // 10, head // 2, head - 1):
            event = store.get_event(target)
            assert event is not None
            instant = event.recorded_at if clock == "recorded" else occurred(event)
            seconds, found = timed(lambda i=instant, c=clock: position_at(runtime, i, c))
            print(f"  {clock:<9} at event {target:>9,}: -> {found:>9,} in {seconds * 1000:7.1f} ms")

    sizes = milestone_disk(runtime, sqlite_file)
    total = sum(size for _, size in sizes)
    whole = store_bytes(runtime, sqlite_file)
    count = max(1, len(kept))
    print(
        f"\nmilestone disk: {total / count / 1e6:.2f} MB per milestone, {total / 1e6:.1f} MB "
        f"for {len(kept)}, {100 * total / whole:.1f} % of the store ({whole / 1e6:.0f} MB)"
        + (
            f"; the store grew {(after - before) / 1e6:.1f} MB as they were taken"
            if build_times
            else ""
        )
    )


def measure(runtime: Runtime, position: int) -> tuple[float, float, float]:
    """(cold, warm, full replay) seconds of reading an account as of `position`; the three
    answers must agree."""
    number = number_at(runtime, position)

    def read() -> Any:
        return runtime.read_models.get("accounts", number, position=position)

    cold, got = timed(read)
    warm, again = timed(read)
    replayed, expected = full_replay(runtime, position, number)
    assert got == again == expected, (position, got, expected)
    return cold, warm, replayed


def occurred(event) -> datetime:
    from webapp.store.business_time import occurred_time

    return occurred_time(event.metadata) or event.recorded_at


def number_at(runtime: Runtime, position: int) -> str:
    """The account the event at or just before `position` touched (an account that exists
    then, and whose row the latest events changed)."""
    for event in runtime.store.read_all_backward(position + 1, limit=50):
        number = event.data.get("account_number")
        if number:
            return str(number)
    return account(0)


if __name__ == "__main__":
    main()
