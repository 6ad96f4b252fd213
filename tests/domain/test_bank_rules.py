"""The bank account's rules, in given/when/then form (no store)."""

from __future__ import annotations

import pytest
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st

from webapp.demo.bank import (
    BankAccount,
    BankAccountClosed,
    BankAccountOpened,
    CloseAccount,
    DepositMoney,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    WithdrawMoney,
)
from webapp.domain.testing import Scenario, given

OPENED = BankAccountOpened("A1", "u1", 1000)


def test_opening_an_account_records_owner_and_initial_balance() -> None:
    given(BankAccount).when(OpenAccount("A1", "u1", 1000)).then(OPENED).then_state(
        balance=1000, status="open", owner_id="u1"
    )


def test_an_account_cannot_be_opened_twice() -> None:
    given(BankAccount, OPENED).when(OpenAccount("A1", "u2", 5)).then_error("account_already_opened")


def test_a_negative_initial_balance_is_refused() -> None:
    given(BankAccount).when(OpenAccount("A1", "u1", -1)).then_error("invalid_initial_balance")


def test_deposits_add_to_the_balance() -> None:
    given(BankAccount, OPENED).when(DepositMoney("A1", 250)).then(
        MoneyDeposited("A1", 250)
    ).then_state(balance=1250)


def test_withdrawals_take_from_the_balance() -> None:
    given(BankAccount, OPENED, MoneyDeposited("A1", 500)).when(WithdrawMoney("A1", 1500)).then(
        MoneyWithdrawn("A1", 1500)
    ).then_state(balance=0)


def test_a_withdrawal_beyond_the_balance_is_refused() -> None:
    outcome = (
        given(BankAccount, OPENED).when(WithdrawMoney("A1", 1001)).then_error("insufficient_funds")
    )
    # the message is worded from these details (so a page can show them as money)
    assert outcome.error.details == {"account_number": "A1", "balance": 1000, "amount": 1001}
    outcome.then_state(balance=1000)


@pytest.mark.parametrize(
    "command", [DepositMoney("A9", 1), WithdrawMoney("A9", 1), CloseAccount("A9")]
)
def test_commands_to_an_unopened_account_are_refused(command) -> None:
    given(BankAccount).when(command).then_error("account_not_found")


@pytest.mark.parametrize("command", [DepositMoney("A1", 1), WithdrawMoney("A1", 1)])
def test_a_closed_account_takes_no_money_movements(command) -> None:
    given(BankAccount, OPENED, BankAccountClosed("A1")).when(command).then_error("account_closed")


def test_closing_an_account_marks_it_closed() -> None:
    given(BankAccount, OPENED).when(CloseAccount("A1")).then(BankAccountClosed("A1")).then_state(
        status="closed", balance=1000
    )


def test_closing_a_closed_account_changes_nothing() -> None:
    given(BankAccount, OPENED, BankAccountClosed("A1")).when(CloseAccount("A1")).then_nothing()


@pytest.mark.parametrize("amount", [0, -5])
def test_money_movements_need_a_positive_amount(amount: int) -> None:
    given(BankAccount, OPENED).when(DepositMoney("A1", amount)).then_error("invalid_value")
    given(BankAccount, OPENED).when(WithdrawMoney("A1", amount)).then_error("invalid_value")


def test_apply_tolerates_odd_values() -> None:
    scenario = given(BankAccount, OPENED, MoneyDeposited("A1", None), MoneyDeposited("A1", "x"))
    scenario.then_state(balance=1000, status="open")


@settings(max_examples=60, deadline=None)
@hypothesis_given(
    st.lists(
        st.tuples(st.sampled_from(["deposit", "withdraw"]), st.integers(1, 5_000)), max_size=40
    )
)
def test_the_balance_is_never_negative_and_adds_up(moves: list[tuple[str, int]]) -> None:
    account = given(BankAccount, OPENED).aggregate
    expected = 1000
    for kind, amount in moves:
        command = DepositMoney("A1", amount) if kind == "deposit" else WithdrawMoney("A1", amount)
        outcome = Scenario(account).when(command)
        if outcome.error is None:
            expected += amount if kind == "deposit" else -amount
        else:
            assert outcome.error.code == "insufficient_funds" and amount > account.balance
        assert account.balance == expected >= 0
