"""Dashboard page times: server-side render of each view's first, middle and last page.

    python bench/pages.py [--events 1000000] [--streams 10000] [--big-stream 100000]
                          [--users 1000] [--runs 7] [--backend sqlite|postgresql]

Builds one store (the store's batched append, plus `--users` registered users through
the domain so their personal data is encrypted and findable by e-mail), catches the
event-type-counts projection up, then renders every page with the Flask test client
logged in as admin and prints the median of `--runs` renders per page, with its ratio
to the baseline measured in the same run (the login page, which touches no events).
Target: at most 50 ms median per page.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webapp.bootstrap import Runtime, build_runtime  # noqa: E402
from webapp.config import Settings  # noqa: E402
from webapp.store import NewEvent  # noqa: E402

PG_URL = os.environ.get("EVENTSCOPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_MS = 50.0
BATCH = 100
BIG_STREAM = "account-big"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--big-stream", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument(
        "--instances", type=int, default=100_000, help="process-manager instances to list"
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--db-file",
        type=Path,
        default=None,
        help="SQLite file to build once and reuse on later runs (default: a temporary one)",
    )
    args = parser.parse_args()
    if args.streams < args.users + 2 or args.events < args.big_stream + args.streams:
        parser.error("need streams >= users + 2 and events >= big-stream + streams")
    return args


@contextmanager
def database(backend: str, db_file: Path | None = None) -> Iterator[str]:
    """A store URL: the given SQLite file, a fresh PostgreSQL schema or a temporary SQLite file."""
    if db_file is not None:
        yield f"sqlite:///{db_file.resolve()}"
    elif backend == "postgresql":
        import sqlalchemy as sa

        schema = f"bench_pages_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        try:
            yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory(prefix="eventscope-pages-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"


# --- building the store ----------------------------------------------------------------------


def _bank_events(
    account: str, count: int, start: datetime, first_amount: int = 0
) -> list[NewEvent]:
    correlation = f"corr-{account}"
    meta = {"correlation_id": correlation, "actor": "bench", "command": "DepositMoney"}
    events = [
        NewEvent(
            "BankAccountOpened",
            {"account_number": account, "owner_id": "u-000001", "initial_balance": 0},
            {**meta, "command": "OpenAccount", "occurred_at": start.isoformat()},
        )
    ]
    for i in range(1, count):
        kind = "MoneyWithdrawn" if i % 5 == 0 else "MoneyDeposited"
        events.append(
            NewEvent(
                kind,
                {"account_number": account, "amount": 100 + (first_amount + i) % 900},
                meta,
                schema_version=2 if kind == "MoneyDeposited" else 1,
            )
        )
    return events


def build_store(runtime: Runtime, args: argparse.Namespace) -> dict[str, object]:
    """The users (through the domain), the big stream and the other account streams."""
    store, router = runtime.store, runtime.router
    started = time.perf_counter()
    for n in range(1, args.users + 1):
        router.dispatch_json(
            "RegisterUser",
            {"user_id": f"u-{n:06d}", "name": f"User {n}", "email": f"user{n}@example.org"},
            metadata={"actor": "bench"},
        )
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    big = _bank_events("big", args.big_stream, t0)
    for i in range(0, len(big), 5_000):
        store.append(BIG_STREAM, big[i : i + 5_000])
    others = args.streams - args.users - 1
    remaining = args.events - args.users - args.big_stream
    per_stream, extra = divmod(remaining, others)
    written = 0
    for n in range(others):
        size = per_stream + (1 if n < extra else 0)
        account = f"s{n:06d}"
        events = _bank_events(account, size, t0 + timedelta(minutes=n), n)
        for i in range(0, len(events), 1_000):
            store.append(f"account-{account}", events[i : i + 1_000])
        written += size
        if n % 1000 == 0:
            print(f"  {n:>6}/{others} streams, {written:,} events", file=sys.stderr, flush=True)
    add_process_instances(runtime, args.instances, t0)
    for n in range(1, 2_001):  # an access log to page through
        runtime.privacy.record_access("auditor", "view", f"u-{1 + n % args.users:06d}", "bench")
    built = time.perf_counter() - started
    totals = f"{store.count_events():,} events in {store.count_streams():,} streams"
    print(f"built {totals} in {built:.0f} s", file=sys.stderr)
    started = time.perf_counter()
    runtime.projections.runner("event_type_counts").run_until_caught_up()
    print(f"event_type_counts caught up in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {"others": others}


def add_process_instances(runtime: Runtime, count: int, start: datetime) -> None:
    """`count` transfer_money instances, one started per second, every tenth still running
    (written straight into the table: the bench measures listing them, not running them)."""
    from webapp.projections import schema

    base = start.timestamp()
    with runtime.store.engine.begin() as conn:
        for first in range(0, count, 5_000):
            conn.execute(
                schema.process_instances.insert(),
                [
                    {
                        "process": "transfer_money",
                        "instance_id": f"t-{n:07d}",
                        "state": {"status": "requested" if n % 10 == 0 else "completed"},
                        "status": "running" if n % 10 == 0 else "finished",
                        "last_position": n,
                        "started_at": base + n,
                        "updated_at": base + n + 0.5,
                    }
                    for n in range(first, min(first + 5_000, count))
                ],
            )


# --- the pages -------------------------------------------------------------------------------


def page_urls(
    runtime: Runtime, args: argparse.Namespace, others: int
) -> list[tuple[str, str, str]]:
    """(view, which page, URL) for every measured page."""
    from webapp.web.pages import encode_cursor
    from webapp.web.views.streams import EVENTS_PAGE, STREAMS_PAGE

    store = runtime.store
    head = store.head_position()

    def activity_cursor(stream_id: str) -> str:
        info = store.stream_info(stream_id)
        return encode_cursor([info.updated_at.isoformat(), info.stream_id])

    middle_stream = f"account-s{others // 2:06d}"
    last_cursor_stream = f"account-s{STREAMS_PAGE:06d}"  # the oldest streams are the last page
    big_last = ((args.big_stream - 1) // EVENTS_PAGE) * EVENTS_PAGE + 1
    big_middle = ((args.big_stream // 2 - 1) // EVENTS_PAGE) * EVENTS_PAGE + 1
    first_user, mid_user, last_user = 1, args.users // 2, args.users
    mid_position = head // 2
    newest_entry = runtime.privacy.access_log(limit=1).entries[0].id
    access_cursor = newest_entry // 2
    access_last_cursor = 1 + 50  # ids count up from 1; a page holds 50
    t0 = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    mid_instance = args.instances // 2
    instance_cursor = encode_cursor(
        [t0 + mid_instance + 0.5, "transfer_money", f"t-{mid_instance:07d}"]
    )
    return [
        ("login page (baseline)", "-", "/login"),
        ("streams browser", "first", "/streams/"),
        (
            "streams browser",
            "middle",
            f"/streams/?sort=activity&after={activity_cursor(middle_stream)}",
        ),
        (
            "streams browser",
            "last",
            f"/streams/?sort=activity&after={activity_cursor(last_cursor_stream)}",
        ),
        (
            "streams browser by id",
            "middle",
            f"/streams/?sort=id&after={encode_cursor(middle_stream)}",
        ),
        ("stream timeline (100k)", "first", f"/streams/{BIG_STREAM}"),
        ("stream timeline (100k)", "middle", f"/streams/{BIG_STREAM}?from={big_middle}"),
        ("stream timeline (100k)", "last", f"/streams/{BIG_STREAM}?from={big_last}"),
        # loaded after the page by htmx: folds the 100k stream (the bench takes no snapshot)
        ("stream chart, after the page (100k)", "only", f"/streams/{BIG_STREAM}/chart"),
        ("global timeline", "first", "/timeline/"),
        ("global timeline", "middle", f"/timeline/?before={mid_position}"),
        ("global timeline", "last", "/timeline/?page=last"),
        ("global timeline, type", "first", "/timeline/?type=MoneyWithdrawn"),
        (
            "global timeline, type",
            "middle",
            f"/timeline/?type=MoneyWithdrawn&before={mid_position}",
        ),
        ("global timeline, type", "last", "/timeline/?type=MoneyWithdrawn&page=last"),
        ("global timeline, rare type", "first", "/timeline/?type=UserRegistered"),
        ("global timeline, live poll", "nothing new", f"/timeline/live?after={head}&shown=50"),
        ("global timeline, live poll", "50 new", f"/timeline/live?after={head - 50}&shown=50"),
        ("process instances", "first", "/projections/processes"),
        ("process instances", "middle", f"/projections/processes?before={instance_cursor}"),
        ("process instances, running", "first", "/projections/processes?status=running"),
        ("process instance by id", "only", f"/projections/processes?instance=t-{mid_instance:07d}"),
        ("event catalog", "only", "/catalog/"),
        ("projections", "only", "/projections/"),
        ("access log", "first", "/access-log/"),
        ("access log", "middle", f"/access-log/?before={access_cursor}"),
        ("access log", "last", f"/access-log/?before={access_last_cursor}"),
        # posted, as the search form does (an e-mail address never goes in a URL)
        ("subject lookup by e-mail", "first", f"POST /subjects/ q=user{first_user}@example.org"),
        ("subject lookup by e-mail", "middle", f"POST /subjects/ q=user{mid_user}@example.org"),
        ("subject lookup by e-mail", "last", f"POST /subjects/ q=user{last_user}@example.org"),
        ("subject page", "middle", f"/subjects/u-{mid_user:06d}"),
        ("console", "only", "/console/?command=DepositMoney"),
        ("notes", "only", "/notes/"),
    ]


def measure(get: Callable[[str], int], url: str, runs: int) -> tuple[float, float, int]:
    """Median wall and CPU milliseconds of `runs` renders (CPU time is what the render
    itself costs; on a shared machine the wall time also holds the wait for a core)."""
    status = get(url)  # warm caches (templates, statements) once
    walls, cpus = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        status = get(url)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu_started) * 1000)
    return statistics.median(walls), statistics.median(cpus), status


def main() -> None:
    args = parse_args()
    from webapp.web import create_app
    from webapp.web.accounts import AccountBook

    reuse = args.db_file is not None and args.db_file.exists()
    with database(args.backend, args.db_file) as url:
        settings = Settings(db_url=url, secret_key=secrets.token_urlsafe(32))
        runtime = build_runtime(settings, migrate=True)
        try:
            if reuse:
                info = {"others": args.streams - args.users - 1}
                print(f"reusing {runtime.store.count_events():,} events", file=sys.stderr)
            else:
                info = build_store(runtime, args)
            app = create_app({"TESTING": True}, runtime=runtime)
            client = app.test_client()
            accounts = AccountBook(runtime.store.engine)
            accounts.ensure("admin", "admin")
            client.get(f"/login/link/{accounts.create_login_token('admin')}")

            client.get("/")
            with client.session_transaction() as session:
                csrf = session["csrf"]

            def get(path: str) -> int:
                if path.startswith("POST "):  # "POST <path> <field>=<value>": the form's results
                    _, target, field = path.split(" ", 2)
                    name, value = field.split("=", 1)
                    form = {name: value, "csrf_token": csrf}
                    return client.post(
                        target, data=form, headers={"HX-Request": "true"}
                    ).status_code
                return client.get(path).status_code

            anonymous = app.test_client()

            def get_anonymous(path: str) -> int:
                return anonymous.get(path).status_code

            rows = []
            for view, which, path in page_urls(runtime, args, int(info["others"])):
                fetch = get_anonymous if view.startswith("login") else get
                rows.append((view, which, *measure(fetch, path, args.runs)))
            print_table(args, rows)
        finally:
            runtime.close()


def print_table(args: argparse.Namespace, rows: list[tuple[str, str, float, float, int]]) -> None:
    base = rows[0][2]
    print(
        f"\n{args.events:,} events, {args.streams:,} streams, one stream of {args.big_stream:,}; "
        f"{args.backend}; median of {args.runs} renders, logged in as admin; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n"
    )
    print("| view | page | median ms | CPU ms | vs baseline | status | <= 50 ms |")
    print("|---|---|---:|---:|---:|---:|:---:|")
    for view, which, median, cpu, status in rows:
        ok = "yes" if median <= TARGET_MS and status < 400 else "NO"
        ratio = f"{median / base:.1f}x"
        print(f"| {view} | {which} | {median:.1f} | {cpu:.1f} | {ratio} | {status} | {ok} |")


if __name__ == "__main__":
    main()
