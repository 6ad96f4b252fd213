"""Rebuilds into new tables while readers keep reading; strong consistency with a clear timeout."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from webapp.cli import cli
from webapp.demo.bank import DepositMoney, OpenAccount
from webapp.demo.queries import get_account_summary, get_user, list_accounts, total_balance
from webapp.projections import ConsistencyTimeout, dispatch_strong, start_in_process
from webapp.projections import schema as engine_schema

from .conftest import MASTER_KEY, rebuilt_rows, seed_bank_events, table_rows


def test_rebuild_replays_into_a_new_generation_and_drops_the_old_one(runtime):
    seed_bank_events(runtime.store, accounts=20, deposits=4)
    service = runtime.projections
    service.runner("account_summary").run_until_caught_up()
    before = table_rows(runtime, "account_summary")

    after = rebuilt_rows(runtime, "account_summary")

    assert after == before
    status = service.status_of("account_summary")
    assert status["generation"] == 2
    assert status["rebuild"] is None
    tables = sa.inspect(runtime.store.engine).get_table_names()
    assert "rm_account_summary_v2" in tables
    assert "rm_account_summary_v1" not in tables


def test_readers_see_the_old_complete_model_until_the_switch(sqlite_runtime):
    runtime = sqlite_runtime
    accounts = 300
    seed_bank_events(runtime.store, accounts=accounts, deposits=2)
    service = runtime.projections
    service.runner("account_summary").run_until_caught_up()
    expected_total = total_balance(service)
    seen: list[tuple[int, int]] = []
    read = threading.Condition()
    stop = threading.Event()

    def read_continuously():
        while not stop.is_set():
            rows = list_accounts(service, limit=10_000)
            with read:
                seen.append((len(rows), sum(r["balance"] for r in rows)))
                read.notify_all()

    runner = service.runner("account_summary", rebuild_batch_size=50)
    build_a_batch = runner.step_rebuild
    batches = 0

    def build_a_batch_then_let_a_reader_in() -> bool:
        # however the threads are scheduled, a read lands between every two batches
        nonlocal batches
        moved = build_a_batch()
        batches += 1
        with read:
            reads = len(seen)
            read.wait_for(lambda: len(seen) > reads, timeout=10)
        return moved

    runner.step_rebuild = build_a_batch_then_let_a_reader_in
    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        runner.load()
        runner.request_rebuild()
        runner.run_until_caught_up()
    finally:
        stop.set()
        reader.join()

    assert service.status_of("account_summary")["generation"] == 2
    assert batches > 3
    assert len(seen) >= batches  # reads ran while the new generation was half built
    assert set(seen) == {(accounts, expected_total)}  # never a half-built model


def test_rebuild_progress_is_visible_while_it_runs(sqlite_runtime):
    runtime = sqlite_runtime
    seed_bank_events(runtime.store, accounts=100, deposits=3)
    service = runtime.projections
    service.runner("account_summary").run_until_caught_up()
    service.request_rebuild("account_summary")
    assert service.status_of("account_summary")["rebuild"]["requested"] is True

    runner = service.runner("account_summary", rebuild_batch_size=100, status_every=0.0)
    runner.load()
    runner.step()
    midway = service.status_of("account_summary")
    assert midway["state"] == "rebuilding"
    assert 0 < midway["rebuild_percent"] < 100
    runner.run_until_caught_up()
    assert service.status_of("account_summary")["rebuild"] is None


def test_the_cli_rebuilds_with_a_progress_bar_and_prints_status(sqlite_url, sqlite_runtime):
    seed_bank_events(sqlite_runtime.store, accounts=10, deposits=2)
    env = {"EVENTSCOPE_MASTER_KEY": MASTER_KEY}
    runner = CliRunner()

    rebuilt = runner.invoke(
        cli, ["--db", sqlite_url, "projections", "rebuild", "account_summary"], env=env
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt up to position" in rebuilt.output
    assert get_account_summary(sqlite_runtime.projections, "S00003")["balance"] == 103

    status = runner.invoke(cli, ["--db", sqlite_url, "projections", "status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    items = {i["name"]: i for i in json.loads(status.output)["projections"]}
    assert items["account_summary"]["generation"] == 2
    assert items["account_summary"]["lag_events"] == 0

    unknown = runner.invoke(cli, ["--db", sqlite_url, "projections", "rebuild", "nope"], env=env)
    assert unknown.exit_code != 0
    assert "unknown projection 'nope'" in unknown.output


def test_strong_dispatch_returns_once_the_read_model_has_the_events(runtime):
    worker = start_in_process(runtime.projections, idle_wait=0.1)
    try:
        runtime.router.dispatch(OpenAccount("X1", "owner", 10))
        result = runtime.projections.dispatch(
            DepositMoney("X1", 5), consistency="strong", timeout=10.0
        )
        assert result.events[0].type == "MoneyDeposited"
        assert get_account_summary(runtime.projections, "X1")["balance"] == 15
    finally:
        worker.stop()


def test_a_strong_dispatch_timeout_says_who_is_behind_and_loses_nothing(runtime):
    runtime.router.dispatch(OpenAccount("X2", "owner", 10))

    with pytest.raises(ConsistencyTimeout) as caught:
        dispatch_strong(runtime.router, runtime.projections, DepositMoney("X2", 7), timeout=0.2)

    message = str(caught.value)
    position = caught.value.result.events[-1].position
    assert "account_summary (at 0)" in message
    assert f"did not reach position {position} within 0.2s" in message
    assert "the events are stored" in message
    assert runtime.store.get_event(position).type == "MoneyDeposited"
    runtime.projections.runner("account_summary").run_until_caught_up()
    assert runtime.projections.wait_until_projected(position, ["account_summary"], 0.1)
    assert get_account_summary(runtime.projections, "X2")["balance"] == 17


def test_unknown_consistency_is_refused_before_dispatching(runtime):
    head = runtime.store.head_position()
    with pytest.raises(ValueError, match="consistency"):
        runtime.projections.dispatch(OpenAccount("X3", "o", 1), consistency="sometimes")
    assert runtime.store.head_position() == head


def test_forgetting_a_subject_scrubs_the_user_directory(runtime):
    from webapp.demo.identity import RegisterUser

    runtime.router.dispatch(RegisterUser("u-1", "Ada Lovelace", "ada@example.org"))
    runtime.projections.runner("user_directory").run_until_caught_up()
    assert get_user(runtime.projections, "u-1")["email"] == "ada@example.org"
    assert runtime.projections.export_subject("u-1")["user_directory"][0]["name"] == "Ada Lovelace"

    assert runtime.projections.forget_subject("u-1") == {"user_directory": 1}

    user = get_user(runtime.projections, "u-1")
    assert (user["name"], user["email"], user["forgotten"]) == (None, None, True)
    with runtime.store.engine.connect().execution_options(eventscope_readonly=True) as conn:
        assert conn.execute(sa.select(engine_schema.registry)).first() is not None
