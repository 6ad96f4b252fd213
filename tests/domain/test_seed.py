"""`eventscope seed`: the demo history loads into a fresh store, reproducibly."""

from __future__ import annotations

from datetime import datetime

import pytest
from click.testing import CliRunner

from webapp.cli import cli
from webapp.demo.seed import load_spec, plan
from webapp.store import open_store

pytestmark = pytest.mark.slow


def test_the_plan_is_reproducible() -> None:
    spec = load_spec()
    first, second = plan(spec), plan(spec)
    assert [(a.at, a.kind, a.args) for a in first] == [(a.at, a.kind, a.args) for a in second]


def test_seed_loads_the_demo_history_into_a_fresh_store(sqlite_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", sqlite_url, "seed"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "50 users, 80 accounts" in result.output

    store = open_store(sqlite_url)
    try:
        users = store.list_streams("user-", limit=1000)
        accounts = store.list_streams("account-", limit=1000)
        assert len(users) == 50 and len(accounts) == 80
        assert sum(1 for a in accounts if a.version >= 300) >= 4
        events = []
        after = 0
        while batch := store.read_all(after, limit=1000):
            events.extend(batch)
            after = batch[-1].position
        types = {e.type for e in events}
        assert {
            "UserRegistered",
            "EmailChanged",
            "BankAccountOpened",
            "MoneyDeposited",
            "MoneyWithdrawn",
            "BankAccountClosed",
        } <= types
        legacy = [e for e in events if e.type == "MoneyDeposited" and e.schema_version == 1]
        assert legacy and all("value" in e.data for e in legacy)
        occurred = sorted(datetime.fromisoformat(e.metadata["occurred_at"]) for e in events)
        assert (occurred[-1] - occurred[0]).days > 90
        assert len({e.metadata["actor"] for e in events}) > 2
    finally:
        store.close()

    again = runner.invoke(cli, ["--db", sqlite_url, "seed"], catch_exceptions=False)
    assert again.exit_code == 0 and "skipped" in again.output


def test_seed_synthetic_appends_n_events_in_batches(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["--db", sqlite_url, "seed", "--synthetic", "450", "--per-stream", "100"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    store = open_store(sqlite_url)
    try:
        assert store.count_events() == 450
        assert store.count_streams() == 5
    finally:
        store.close()


def test_seed_refuses_a_non_positive_count(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", sqlite_url, "seed", "--synthetic", "0"])
    assert result.exit_code != 0
    assert "0" in result.output
