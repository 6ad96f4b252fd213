"""Read models as they stood at a position of the log, rebuilt from the log (both backends).

Two independent oracles check every as-of answer:
- the live model as it stood at that moment: the test drives the live projections to the
  head after each command and records their rows, then asks for that head again later;
- for an account, the `BankAccount` aggregate's fold of the account's own stream up to
  the position (the same fold commands decide on), never the projection's handlers.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from webapp.bootstrap import build_runtime
from webapp.demo.bank import BankAccount, CloseAccount, DepositMoney, OpenAccount, WithdrawMoney
from webapp.demo.read_models.accounts import get_account_summary
from webapp.demo.transfers import TransferMoney
from webapp.domain import from_data
from webapp.projections import Worker, copies
from webapp.projections.milestones import build_at

from .conftest import drive, make_settings, wait_for

MODELS = ("account_summary", "transfer_summary")


def rows_of(conn: sa.Connection, tables: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every row of a generation's tables, sorted (as `table_rows` in conftest reads them)."""
    out = []
    for logical, table in sorted(tables.items()):
        for row in conn.execute(sa.select(table)).mappings():
            out.append((logical, sorted((k, str(v)) for k, v in row.items())))
    return sorted(out)


def a_history(runtime) -> dict[int, dict[str, Any]]:
    """Run a bank history, driving the live projections after every command, and return the
    live models' rows at each head position reached (the first oracle)."""
    seen: dict[int, dict[str, Any]] = {}

    def record() -> None:
        drive(runtime)
        head = runtime.store.head_position()
        seen[head] = {name: runtime.projections.query(name, rows_of) for name in MODELS}

    record()  # position 0: nothing yet
    steps = [
        OpenAccount("A", "owner-a", 1000),
        OpenAccount("B", "owner-b", 50),
        DepositMoney("A", 250),
        OpenAccount("C", "owner-c", 0),
        CloseAccount("C"),
        TransferMoney("t-ok", "A", "B", 300),
        TransferMoney("t-back", "A", "C", 200),  # C is closed: debited, then refunded
        WithdrawMoney("B", 100),
        CloseAccount("B"),
        DepositMoney("A", 5),
    ]
    for command in steps:
        runtime.router.dispatch(command)
        record()
    return seen


def folded(runtime, number: str, position: int) -> dict[str, Any] | None:
    """The account as its own stream's events up to `position` fold it (the second oracle)."""
    events = [e for e in runtime.store.read_stream(f"account-{number}") if e.position <= position]
    if not events:
        return None
    account = BankAccount()
    for event in events:
        account.apply(from_data(event.type, event.data))
    moves = ("MoneyDeposited", "MoneyWithdrawn", "MoneyRefunded")
    return {
        "balance": account.balance,
        "status": account.status,
        "transactions": sum(e.type in moves for e in events),
        "last_position": events[-1].position,
    }


def as_of_account(runtime, number: str, position: int) -> dict[str, Any] | None:
    row = runtime.projections.query_as_of(
        "account_summary", position, lambda c, t: get_account_summary(c, t, number)
    )
    if row is None:
        return None
    return {k: row[k] for k in ("balance", "status", "transactions", "last_position")}


@pytest.fixture
def small_milestones(db_url: str):
    """A runtime keeping a milestone every 4 events, the latest 2."""
    built = build_runtime(make_settings(db_url, milestone_every=4, milestones_kept=2))
    try:
        yield built
    finally:
        built.close()


def copy_tables(runtime) -> set[str]:
    """The read-model tables of copies that exist in the database."""
    names = set(sa.inspect(runtime.store.engine).get_table_names())
    return {n for n in names if n.startswith("rm_") and int(n.rsplit("_v", 1)[1]) >= 1_000_000}


# --- as-of answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("with_milestones", [False, True])
def test_every_past_moment_reads_as_the_live_model_read_then(runtime, with_milestones):
    seen = a_history(runtime)
    if with_milestones:
        for position in (5, 11):
            runtime.projections.take_milestone("account_summary", position)
            runtime.projections.take_milestone("transfer_summary", position)
        assert [m["position"] for m in runtime.projections.milestones("account_summary")] == [5, 11]

    for position, live in seen.items():
        for name in MODELS:
            assert runtime.projections.query_as_of(name, position, rows_of) == live[name], (
                name,
                position,
            )


def test_an_account_as_of_a_position_is_the_fold_of_its_own_events(small_milestones):
    runtime = small_milestones
    a_history(runtime)
    head = runtime.store.head_position()
    assert runtime.projections.milestones("account_summary")  # the worker path took some

    for number in ("A", "B", "C"):
        for position in range(head + 1):
            assert as_of_account(runtime, number, position) == folded(runtime, number, position), (
                number,
                position,
            )


def test_before_an_account_existed_it_is_absent_and_after_it_closed_it_reads_closed(runtime):
    a_history(runtime)
    opened = runtime.store.read_stream("account-B")[0].position
    closed = runtime.store.read_stream("account-B")[-1].position

    assert as_of_account(runtime, "B", opened - 1) is None
    assert as_of_account(runtime, "B", 0) is None
    assert as_of_account(runtime, "B", opened)["status"] == "open"
    assert as_of_account(runtime, "B", closed - 1)["status"] == "open"
    assert as_of_account(runtime, "B", closed)["status"] == "closed"
    assert as_of_account(runtime, "B", runtime.store.head_position())["status"] == "closed"


def test_across_a_compensated_transfer_the_source_is_debited_then_refunded(runtime):
    a_history(runtime)
    stream = runtime.store.read_stream("account-A")
    debit = next(e for e in stream if e.type == "MoneyWithdrawn" and e.data["amount"] == 200)
    refund = next(e for e in stream if e.type == "MoneyRefunded")

    before = as_of_account(runtime, "A", debit.position - 1)["balance"]
    assert as_of_account(runtime, "A", debit.position)["balance"] == before - 200
    assert as_of_account(runtime, "A", refund.position - 1)["balance"] == before - 200
    assert as_of_account(runtime, "A", refund.position)["balance"] == before
    transfer = {e.type: e.position for e in runtime.store.read_stream("transfer-t-back")}
    refunded = transfer["TransferRefunded"]
    assert as_of_transfer(runtime, "t-back", refunded - 1)[1] == 0
    assert as_of_transfer(runtime, "t-back", refunded) == ("crediting", 200)
    assert as_of_transfer(runtime, "t-back", transfer["TransferFailed"]) == ("failed", 200)
    assert as_of_transfer(runtime, "t-back", transfer["TransferRequested"] - 1) is None


def as_of_transfer(runtime, transfer_id: str, position: int) -> tuple[str, int] | None:
    def read(conn: sa.Connection, tables: Any) -> tuple[str, int] | None:
        table = tables["transfers"]
        row = conn.execute(sa.select(table).where(table.c.transfer_id == transfer_id)).first()
        return None if row is None else (row.status, int(row.refunded))

    return runtime.projections.query_as_of("transfer_summary", position, read)


# --- milestones -------------------------------------------------------------------------------


def test_milestones_are_taken_as_the_worker_passes_each_multiple_and_the_latest_are_kept(
    small_milestones,
):
    runtime = small_milestones
    a_history(runtime)
    head = runtime.store.head_position()

    kept = [m["position"] for m in runtime.projections.milestones("account_summary")]
    assert kept == [head - head % 4 - 4, head - head % 4]
    every = runtime.projections.copies("account_summary")
    assert [c["kind"] for c in every] == ["milestone", "milestone"]
    generations = {f"rm_account_summary_v{c['generation']}" for c in every}
    assert {t for t in copy_tables(runtime) if t.startswith("rm_account_summary_v")} == generations


def test_the_worker_takes_milestones_as_it_runs(small_milestones):
    runtime = small_milestones
    worker = Worker(runtime.projections, idle_wait=0.05, names=["account_summary"]).start()
    try:
        for n in range(9):
            runtime.router.dispatch(OpenAccount(f"W-{n}", "owner-w", n))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kept = [m["position"] for m in runtime.projections.milestones("account_summary")]
            if kept == [4, 8]:
                break
            time.sleep(0.05)
    finally:
        worker.stop()
    assert kept == [4, 8]


def test_a_projection_holding_personal_data_keeps_no_milestones(small_milestones):
    runtime = small_milestones
    a_history(runtime)
    assert runtime.projections.take_milestone("user_directory", 4) is None
    assert runtime.projections.copies("user_directory") == []


def test_milestones_of_older_handlers_are_not_used_and_are_pruned(small_milestones):
    runtime = small_milestones
    seen = a_history(runtime)
    projection = runtime.projections.get("account_summary")
    old = runtime.projections.milestones("account_summary")
    projection.version += 1  # as a release that changes the handlers would
    try:
        assert runtime.projections.milestones("account_summary") == []
        position = max(seen)
        assert (
            runtime.projections.query_as_of("account_summary", position, rows_of)
            == seen[position]["account_summary"]
        )
        runtime.projections.take_milestone("account_summary", 8)
        left = {c["id"] for c in runtime.projections.copies("account_summary")}
        assert not {m["id"] for m in old} & left
    finally:
        projection.version -= 1


# --- scratch generations -----------------------------------------------------------------------


def test_scratch_generations_are_dropped_once_their_time_and_grace_are_over(runtime):
    seen = a_history(runtime)
    reader = runtime.projections.as_of
    # a build's time counts from its start: long enough for a slow machine's build
    reader.ttl_seconds, reader.grace_seconds = 1.0, 0.5
    runtime.projections.query_as_of("account_summary", 3, rows_of)
    assert len(copy_tables(runtime)) == 1

    time.sleep(1.7)  # past its time and its grace
    runtime.projections.query_as_of("account_summary", 4, rows_of)  # sweeps the first

    wait_for(
        lambda: [c["position"] for c in runtime.projections.copies("account_summary")] == [4],
        timeout=10,
        what="the first scratch generation to be swept",
    )
    assert len(copy_tables(runtime)) == 1
    runtime.projections.close()
    assert copy_tables(runtime) == set()
    assert runtime.projections.copies("account_summary") == []
    assert seen


def test_leftovers_of_a_stopped_process_are_removed_when_the_next_one_starts(db_url):
    first = build_runtime(make_settings(db_url))
    drive(first)
    first.router.dispatch(OpenAccount("A", "owner-a", 10))
    first.projections.query_as_of("account_summary", 1, rows_of)
    with first.store.engine.begin() as conn:  # as if the process died: its copy expired
        conn.execute(copies.schema.copies.update().values(expires_at=time.time() - 1))
    first.projections.as_of._cache.clear()  # noqa: SLF001 - the process "died" with it
    first.close()
    assert len(copy_tables_of(db_url)) == 1

    second = build_runtime(make_settings(db_url), migrate=False)
    try:
        assert copy_tables(second) == set()
        assert second.projections.copies("account_summary") == []
    finally:
        second.close()


def copy_tables_of(db_url: str) -> set[str]:
    engine = sa.create_engine(db_url)
    try:
        names = sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    return {n for n in names if n.startswith("rm_") and int(n.rsplit("_v", 1)[1]) >= 1_000_000}


def test_concurrent_requests_for_the_same_moment_build_once(runtime):
    seen = a_history(runtime)
    position = max(seen) - 2
    builds = runtime.projections.as_of.builds
    answers: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def ask() -> None:
        try:
            start.wait()
            answers.append(runtime.projections.query_as_of("account_summary", position, rows_of))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert answers == [seen[position]["account_summary"]] * 8
    assert runtime.projections.as_of.builds == builds + 1
    assert len(runtime.projections.copies("account_summary")) == 1


def test_a_builder_stalled_past_its_claim_cannot_touch_the_moment_claimed_anew(runtime):
    seen = a_history(runtime)
    position = max(seen)
    keeper = runtime.projections._keepers["account_summary"]  # noqa: SLF001 - its tables
    engine, tables = runtime.store.engine, keeper.tables

    def claim(owner: str, lease: float) -> copies.Copy:
        claimed = copies.claim_copy(
            engine, tables, kind=copies.SCRATCH, position=position, owner=owner, lease_seconds=lease
        )
        assert claimed is not None
        return claimed

    stalled = claim("stalled", 0.05)
    time.sleep(0.1)  # it stalls past its lease; another process finds the claim lapsed,
    assert copies.drop_copy(engine, tables, stalled, expired_before=time.time())
    fresh = claim("fresh", 60)  # drops it and claims the moment anew
    if engine.dialect.name == "sqlite":  # the harshest case: the same id, the same tables
        assert fresh.generation == stalled.generation

    with pytest.raises(copies.ClaimLost):
        build_at(keeper, stalled, None)  # the stalled builder wakes and goes on
    assert copies.extend(engine, stalled, time.time() + 60) is None
    assert copies.finish_copy(engine, stalled, expires_at=None) is None
    assert copies.drop_copy(engine, tables, stalled) is False

    with engine.connect() as conn:
        assert rows_of(conn, tables.tables(fresh.generation)) == []  # nothing of the stalled one's
    [row] = copies.copies_of(engine, "account_summary")
    assert (row.id, row.owner, row.state) == (fresh.id, fresh.owner, copies.BUILDING)

    build_at(keeper, fresh, None)  # the new builder's work is whole
    assert copies.finish_copy(engine, fresh, expires_at=time.time() + 60) is not None
    with engine.connect() as conn:
        assert rows_of(conn, tables.tables(fresh.generation)) == seen[position]["account_summary"]
