"""`eventscope db check` also checks the read models against the log.

A probe's oversized deposits made `account_summary` skip events, so balances disagreed
with the events and an account was missing, while `db check` still exited 0. Each
account's balance and status are now compared with a replay of its events: a sample by
default, every account with `--full`; a divergence is one line naming the account, and
the exit status 1.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from click.testing import CliRunner, Result

from webapp.bootstrap import Runtime
from webapp.cli import cli
from webapp.demo.checks import SAMPLE_SIZE
from webapp.projections.projection import table_name
from webapp.store import NewEvent

ACCOUNTS = table_name("account_summary", 1)


def db_check(runtime: Runtime, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", runtime.settings.db_url, "db", "check", *args])


def given_accounts(runtime: Runtime) -> None:
    dispatch = runtime.router.dispatch_json
    dispatch("RegisterUser", {"user_id": "u-1", "name": "Ada", "email": "ada@example.org"})
    dispatch("OpenAccount", {"account_number": "A-1", "owner_id": "u-1", "initial_balance": 1000})
    dispatch("OpenAccount", {"account_number": "A-2", "owner_id": "u-1", "initial_balance": 50})
    dispatch("DepositMoney", {"account_number": "A-1", "amount": 250})
    dispatch("WithdrawMoney", {"account_number": "A-1", "amount": 50})
    dispatch("CloseAccount", {"account_number": "A-2"})
    runtime.projections.runner("account_summary").run_until_caught_up()


def run_sql(runtime: Runtime, sql: str) -> None:
    with runtime.store.engine.begin() as conn:
        conn.execute(sa.text(sql))


def checked_line(result: Result) -> str:
    [line] = [line for line in result.output.splitlines() if line.startswith("Read model")]
    return line


def test_read_models_that_agree_with_the_log_pass(runtime: Runtime) -> None:
    given_accounts(runtime)

    result = db_check(runtime)

    assert result.exit_code == 0, result.output
    assert "no problem found" in result.output
    assert "account_summary: checked 2 of 2 accounts" in checked_line(result)


def test_a_balance_changed_in_sql_is_a_divergence_naming_the_account(runtime: Runtime) -> None:
    given_accounts(runtime)
    run_sql(runtime, f"UPDATE {ACCOUNTS} SET balance = balance + 1 WHERE account_number = 'A-1'")

    result = db_check(runtime)

    assert result.exit_code == 1
    assert (
        "account_summary: account A-1: balance 1,201, but replaying its 3 events gives 1,200"
        in result.output.splitlines()
    )
    assert "A-2" not in result.output


def test_a_missing_account_and_a_wrong_status_are_divergences(runtime: Runtime) -> None:
    given_accounts(runtime)
    run_sql(runtime, f"DELETE FROM {ACCOUNTS} WHERE account_number = 'A-1'")
    run_sql(runtime, f"UPDATE {ACCOUNTS} SET status = 'open' WHERE account_number = 'A-2'")

    result = db_check(runtime)

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(
        re.match(r"account_summary: account A-1: missing, .*opened at position", line)
        for line in lines
    )
    assert (
        "account_summary: account A-2: status open, but replaying its 2 events gives closed"
        in lines
    )


def test_events_the_read_model_skipped_are_found(runtime: Runtime) -> None:
    """What the probe did: a deposit too large for the read model, written by an older
    version that did not refuse it."""
    given_accounts(runtime)
    runtime.store.append(
        "account-A-1",
        [NewEvent("MoneyDeposited", {"account_number": "A-1", "amount": 10**30}, schema_version=2)],
    )
    runtime.projections.runner("account_summary").run_until_caught_up()

    result = db_check(runtime)

    assert result.exit_code == 1
    assert (
        "account_summary: account A-1: balance 1,200, but replaying its 4 events gives"
        in result.output
    )


def test_a_sample_by_default_and_every_account_with_full(runtime: Runtime) -> None:
    total = SAMPLE_SIZE + 20
    for n in range(total):
        number = f"B-{n:04d}"
        opened = {"account_number": number, "owner_id": "u", "initial_balance": n}
        runtime.store.append(f"account-{number}", [NewEvent("BankAccountOpened", opened)])
    runtime.projections.runner("account_summary").run_until_caught_up()

    sampled, full = db_check(runtime), db_check(runtime, "--full")

    assert sampled.exit_code == full.exit_code == 0
    assert f"checked {SAMPLE_SIZE} of {total} accounts" in checked_line(sampled)
    assert f"checked {total} of {total} accounts" in checked_line(full)

    run_sql(runtime, f"UPDATE {ACCOUNTS} SET balance = 7 WHERE account_number = 'B-0119'")
    tampered = db_check(runtime, "--full")
    assert tampered.exit_code == 1
    assert (
        "account_summary: account B-0119: balance 7, but replaying its 1 event gives 119"
        in tampered.output
    )


def test_a_read_model_not_built_yet_is_not_built_by_the_check(store) -> None:
    opened = {"account_number": "A-1", "owner_id": "u", "initial_balance": 5}
    store.append("account-A-1", [NewEvent("BankAccountOpened", opened)])
    url = store.engine.url.render_as_string(hide_password=False)

    result = CliRunner().invoke(cli, ["--db", url, "db", "check"])

    assert result.exit_code == 0, result.output
    with store.engine.connect() as conn:
        assert not sa.inspect(conn).has_table(ACCOUNTS)
