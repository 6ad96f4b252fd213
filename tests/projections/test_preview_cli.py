"""`eventscope projections preview NAME [--start] [--json] | switch NAME | discard NAME`, here
and with the worker in another process (both backends)."""

from __future__ import annotations

import json
import signal
import subprocess

import sqlalchemy as sa
from click.testing import CliRunner

from webapp.cli import cli

from .conftest import MASTER_KEY, seed_bank_events, start_worker, table_rows, wait_for


def run(db_url: str, *args: str):
    env = {"EVENTSCOPE_MASTER_KEY": MASTER_KEY}
    return CliRunner().invoke(cli, ["--db", db_url, "projections", *args], env=env)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drift_live_model(runtime) -> dict[str, int]:
    """Make the live account summary differ from what its handlers build: one balance off by
    one, one row gone. Returns the true balance of the changed account."""
    with runtime.store.engine.begin() as conn:
        balance = conn.execute(
            sa.text("SELECT balance FROM rm_account_summary_v1 WHERE account_number = 'S00000'")
        ).scalar()
        conn.execute(
            sa.text(
                "UPDATE rm_account_summary_v1 SET balance = balance + 1 "
                "WHERE account_number = 'S00000'"
            )
        )
        conn.execute(sa.text("DELETE FROM rm_account_summary_v1 WHERE account_number = 'S00002'"))
    return {"S00000": balance}


def test_the_cli_starts_shows_and_switches_a_preview(db_url, runtime):
    seed_bank_events(runtime.store, accounts=4, deposits=2)
    runner = runtime.projections.runner("account_summary")
    runner.run_until_caught_up()

    head = runtime.store.head_position()

    started = run(db_url, "preview", "account_summary", "--start", "--actor", "olga")

    assert started.exit_code == 0, started.output
    assert f"preview built here up to position {head} and held" in started.output
    assert runtime.projections.preview_state("account_summary")["caught_up"]
    assert runtime.projections.status_of("account_summary")["generation"] == 1
    truth = drift_live_model(runtime)
    shown = run(db_url, "preview", "account_summary")
    assert shown.exit_code == 0, shown.output
    assert "accounts: 1 added, 0 removed, 1 changed, 2 unchanged" in shown.output
    assert f"~ S00000  balance: {truth['S00000'] + 1} -> {truth['S00000']}" in shown.output
    assert "+ S00002  " in shown.output
    as_json = json.loads(run(db_url, "preview", "account_summary", "--json").output)
    [table] = as_json["tables"]
    assert table["counts"]["changed"] == 1 and table["counts"]["added"] == 1
    assert as_json["position"] == runtime.store.head_position()

    switched = run(db_url, "switch", "account_summary", "--actor", "olga")

    assert switched.exit_code == 0, switched.output
    assert "account_summary: preview switched in (by olga)" in switched.output
    assert runtime.projections.status_of("account_summary")["generation"] == 2
    balances = runtime.projections.query(
        "account_summary",
        lambda c, t: dict(
            c.execute(sa.select(t["accounts"].c.account_number, t["accounts"].c.balance)).all()
        ),
    )
    assert balances["S00000"] == truth["S00000"] and "S00002" in balances
    actions = [(a["action"], a["by"]) for a in runtime.projections.operator_log("account_summary")]
    assert actions[:3] == [
        ("preview_switched", "olga"),
        ("switch_requested", "olga"),
        ("preview_requested", "olga"),
    ]
    nothing = run(db_url, "discard", "account_summary")
    assert nothing.exit_code == 1 and "no preview held" in nothing.output
    unknown = run(db_url, "preview", "nope")
    assert unknown.exit_code == 2


def test_the_cli_discards_and_refuses_bad_paging(db_url, runtime):
    seed_bank_events(runtime.store, accounts=3, deposits=1)
    runner = runtime.projections.runner("account_summary")
    runner.run_until_caught_up()
    run(db_url, "preview", "account_summary", "--start")

    rebuild = run(db_url, "rebuild", "account_summary")
    assert rebuild.exit_code == 1 and "preview held" in rebuild.output
    no_table = run(db_url, "preview", "account_summary", "--after", '["S00001"]')
    bad_table = run(db_url, "preview", "account_summary", "--table", "nope")
    discarded = run(db_url, "discard", "account_summary", "--actor", "olga")

    assert no_table.exit_code == 2
    assert bad_table.exit_code == 1 and "no table 'nope'" in bad_table.output
    assert discarded.exit_code == 0, discarded.output
    assert "preview discarded (by olga)" in discarded.output
    assert runtime.projections.status_of("account_summary")["generation"] == 1
    assert "rm_account_summary_v2" not in sa.inspect(runtime.store.engine).get_table_names()


def test_a_worker_in_another_process_builds_holds_and_switches_the_preview(
    db_url, runtime, tmp_path
):
    seed_bank_events(runtime.store, accounts=30, deposits=3)
    before = None
    worker = start_worker(db_url, tmp_path)
    try:
        head = runtime.store.head_position()
        service = runtime.projections
        wait_for(
            lambda: service.status_of("account_summary")["position"] >= head,
            what="the worker to catch up",
        )
        before = table_rows(runtime, "account_summary")
        started = run(db_url, "preview", "account_summary", "--start")
        assert started.exit_code == 0, started.output
        assert "the worker running it builds it" in started.output
        wait_for(
            lambda: (service.preview_state("account_summary") or {}).get("caught_up"),
            what="the worker to build the preview",
        )
        seed_bank_events(runtime.store, accounts=2, deposits=1, prefix="T")  # it keeps up
        head = runtime.store.head_position()
        wait_for(
            lambda: (service.preview_state("account_summary") or {}).get("position") == head,
            what="the preview to follow the log",
        )
        counts = service.preview("account_summary")["tables"][0]["counts"]
        assert counts == {
            "added": 0,
            "removed": 0,
            "changed": 0,
            "unchanged": 32,
            "live_rows": 32,
            "preview_rows": 32,
        }
        assert service.status_of("account_summary")["generation"] == 1

        switched = run(db_url, "switch", "account_summary", "--actor", "olga")

        assert switched.exit_code == 0, switched.output
        assert "switched in by its worker" in switched.output
    finally:
        stop(worker)
    assert service.status_of("account_summary")["generation"] == 2
    assert len(table_rows(runtime, "account_summary")) == len(before) + 2
