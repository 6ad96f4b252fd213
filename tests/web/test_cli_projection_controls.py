"""`eventscope projections pause | resume | reset | dead-letters | retry | skip`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from webapp.cli import cli

from .conftest import dispatch


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def parked_deposit(runtime):
    """account_summary parked the deposit of 250 into A-100 (as its "park" policy does when
    the handler fails); returns the deposit's position."""
    dispatch(runtime, "OpenAccount", account_number="A-100", owner_id="u-1", initial_balance=10)
    runner = runtime.projections.runner("account_summary")
    runner.run_until_caught_up()
    [deposit] = dispatch(runtime, "DepositMoney", account_number="A-100", amount=250).events
    position = runtime.store.read_all(after=runner.position)[0].position
    assert deposit.type == "MoneyDeposited"
    event = runtime.store.read_all(after=position - 1, limit=1)[0]
    runner._park(runner.generations.live, event, "OperationalError: database is locked")
    return position


def balance(runtime) -> int:
    return runtime.projections.query(
        "account_summary",
        lambda conn, t: conn.execute(t["accounts"].select()).mappings().one()["balance"],
    )


def test_pause_and_resume_a_projection(sqlite_url, runtime):
    paused = run("--db", sqlite_url, "projections", "pause", "account_summary", "--actor", "olga")
    status = runtime.projections.status_of("account_summary")
    resumed = run("--db", sqlite_url, "projections", "resume", "account_summary")

    assert paused.exit_code == 0, paused.output
    assert "account_summary: paused at position 0 by olga" in paused.output
    assert (status["state"], status["paused"]["by"]) == ("paused", "olga")
    assert resumed.exit_code == 0, resumed.output
    assert "account_summary: resumed" in resumed.output
    assert runtime.projections.status_of("account_summary")["paused"] is None


def test_pausing_twice_or_an_unknown_unit_fails_in_one_line(sqlite_url, runtime):
    run("--db", sqlite_url, "projections", "pause", "transfer_money")

    again = run("--db", sqlite_url, "projections", "pause", "transfer_money")
    unknown = run("--db", sqlite_url, "projections", "pause", "nope")

    assert again.exit_code == 1
    assert "transfer_money is already paused (by cli" in again.output
    assert unknown.exit_code == 2
    assert "unknown projection or process manager 'nope'" in unknown.output
    assert "Traceback" not in again.output + unknown.output


def test_reset_asks_for_a_replay_after_the_position(sqlite_url, runtime, parked_deposit):
    result = run("--db", sqlite_url, "projections", "reset", "account_summary", "--to", "1")

    assert result.exit_code == 0, result.output
    assert "replay the events after position 1" in result.output
    assert runtime.projections.status_of("account_summary")["rebuild"]["requested"]
    assert runtime.projections.operator_log("account_summary")[0]["action"] == "reset"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["account_summary", "--to", "99"], 1, "position 99 is not in the log"),
        (["account_summary", "--to", "-1"], 2, "-1 is not in the range x>=0"),
        (["account_summary"], 2, "Missing option '--to'"),
        (["transfer_money", "--to", "0"], 1, "cannot be reset"),
    ],
)
def test_bad_resets_are_refused(sqlite_url, runtime, args, code, message):
    result = run("--db", sqlite_url, "projections", "reset", *args)

    assert result.exit_code == code
    assert message in result.output
    assert runtime.projections.status_of("account_summary")["rebuild"] is None


def test_dead_letters_lists_the_parked_events(sqlite_url, runtime, parked_deposit):
    table = run("--db", sqlite_url, "projections", "dead-letters", "account_summary")
    as_json = run("--db", sqlite_url, "projections", "dead-letters", "account_summary", "--json")

    assert table.exit_code == 0, table.output
    assert f"{parked_deposit:>9} MoneyDeposited" in table.output
    assert "OperationalError: database is locked" in table.output
    [letter] = json.loads(as_json.output)["dead_letters"]
    assert (letter["position"], letter["attempts"]) == (parked_deposit, 1)


def test_retry_applies_the_parked_event_when_no_worker_runs_it(sqlite_url, runtime, parked_deposit):
    assert balance(runtime) == 10

    result = run("--db", sqlite_url, "projections", "retry", "account_summary", str(parked_deposit))

    assert result.exit_code == 0, result.output
    assert f"event {parked_deposit} applied; it left the dead letters" in result.output
    assert balance(runtime) == 260
    assert runtime.projections.dead_letters("account_summary") == []
    [retried, asked] = runtime.projections.operator_log("account_summary")[:2]
    assert (retried["action"], asked["action"], retried["by"]) == (
        "retried",
        "retry_requested",
        "cli",
    )


def test_skip_drops_the_parked_event_unapplied(sqlite_url, runtime, parked_deposit):
    result = run(
        "--db", sqlite_url, "projections", "skip", "account_summary", str(parked_deposit),
        "--actor", "olga",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"event {parked_deposit} skipped by olga" in result.output
    assert runtime.projections.dead_letters("account_summary") == []
    assert balance(runtime) == 10


@pytest.mark.parametrize("command", ["retry", "skip"])
def test_retry_or_skip_of_an_event_not_parked_fails_in_one_line(sqlite_url, runtime, command):
    result = run("--db", sqlite_url, "projections", command, "account_summary", "5")

    assert result.exit_code == 1
    assert "account_summary has no event parked at position 5" in result.output
    assert runtime.projections.operator_log("account_summary") == []
