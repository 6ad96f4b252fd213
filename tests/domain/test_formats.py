"""How fields read: the kinds a domain declares beside its personal data, where they are
looked up, and the refusals worded from their details."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import webapp.demo  # noqa: F401 - registers the demo types
from webapp.demo.bank import MAX_CENTS, BankAccount, DepositMoney, WithdrawMoney
from webapp.domain import DomainError, event
from webapp.domain.catalog import declaring_class, field_format
from webapp.domain.formats import (
    MINUS,
    charted_fields,
    date_only,
    date_time,
    enum,
    money,
    number,
    short_text,
    text,
)
from webapp.domain.history import field_history

# --- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "reads"),
    [
        (1020879, "€10,208.79"),
        (0, "€0.00"),
        (5, "€0.05"),
        (-1020879, f"{MINUS}€10,208.79"),
        (-5, f"{MINUS}€0.05"),
        (MAX_CENTS, "€90,071,992,547,409.91"),
        (1200.0, "€12.00"),  # a whole number that came as a float
    ],
)
def test_money_in_cents_reads_as_euros(cents, reads):
    assert money("EUR").text(cents) == reads


def test_a_currency_without_a_symbol_is_written_with_its_code():
    assert money("chf").text(1250) == "CHF 12.50"
    assert money("CHF").text(-1250) == f"{MINUS}CHF 12.50"


def test_a_currency_without_minor_units_has_no_decimals():
    assert money("JPY", minor_digits=0).text(1500) == "¥1,500"


@pytest.mark.parametrize("odd", ["1200", 12.5, True, None, {"cents": 1}, float("inf")])
def test_what_is_not_a_whole_number_of_cents_is_not_money(odd):
    assert money("EUR").text(odd) is None


def test_an_axis_label_leaves_out_zero_cents():
    assert short_text(money("EUR"), 1_200_000) == "€12,000"
    assert short_text(money("EUR"), 1250.0) == "€12.50"
    assert short_text(money("EUR"), -500_000) == f"{MINUS}€5,000"


# --- words, text, numbers, dates -----------------------------------------------------------


def test_an_enum_reads_as_its_word_and_refuses_a_word_it_does_not_list():
    status = enum("open", "closed")

    assert status.text("open") == "open"
    assert status.text("frozen") is None
    assert status.text(1) is None
    assert enum().text("anything") == "anything"


def test_text_reads_as_written_without_quotes():
    assert text().text('say "hi"') == 'say "hi"'
    assert text().text(3) is None


def test_a_number_has_its_thousands_separated_and_its_unit():
    assert number().text(1234567) == "1,234,567"
    assert number("items").text(-3) == f"{MINUS}3 items"
    assert number().text(2.5) == "2.5"
    assert number().text("3") is None


def test_a_date_reads_as_a_date_and_a_moment_in_utc():
    assert date_only().text("2024-03-01") == "2024-03-01"
    assert date_only().text("2024-03-01T23:30:00-02:00") == "2024-03-01"
    assert date_time().text("2024-03-01T09:30:00+02:00") == "2024-03-01 07:30:00 UTC"
    assert date_time().text("2024-03-01T09:30:00Z") == "2024-03-01 09:30:00 UTC"
    assert date_time().text("2024-03-01T09:30:00") == "2024-03-01 09:30:00 UTC"
    assert date_time().text("next Tuesday") is None
    assert date_only().text(20240301) is None


# --- declarations and lookups ----------------------------------------------------------------


def test_the_bank_declares_its_money_and_its_status(domain):
    router = domain.router

    assert field_format(router, "BankAccount", "balance").text(1020879) == "€10,208.79"
    assert field_format(router, "BankAccount", "status").text("closed") == "closed"
    assert field_format(router, "MoneyDeposited", "amount").text(75) == "€0.75"
    assert field_format(router, "BankAccountOpened", "initial_balance").text(0) == "€0.00"
    assert field_format(router, "WithdrawMoney", "amount").text(100) == "€1.00"


def test_an_aggregate_this_domain_does_not_route_has_no_formats(domain):
    assert field_format(domain.router, "Transfer", "refunded") is None  # transfers not routed


@pytest.mark.parametrize(
    ("owner", "path"),
    [
        ("BankAccount", "account_number"),  # declared nowhere
        ("BankAccount", "nope"),
        ("NoSuchType", "balance"),
        ("BankAccount", "balance.cents"),  # a path into a field, not declared
    ],
)
def test_a_field_nothing_is_declared_for_has_no_format(domain, owner, path):
    assert field_format(domain.router, owner, path) is None


def test_owners_are_found_by_type_name(domain):
    assert declaring_class(domain.router, "BankAccount") is BankAccount
    assert declaring_class(domain.router, "DepositMoney") is DepositMoney
    assert declaring_class(domain.router, "MoneyDeposited").__event_type__ == "MoneyDeposited"


def test_a_format_for_a_field_the_event_does_not_have_is_refused():
    with pytest.raises(ValueError, match="format of 'amount' names an unknown field"):

        @event("TestMisdeclaredFormat")
        @dataclass(frozen=True)
        class Misdeclared:
            __formats__ = {"amount": money("EUR")}

            value: int


def test_a_format_that_is_no_kind_is_refused():
    with pytest.raises(ValueError, match="is not a kind"):

        @event("TestFormatNoKind")
        @dataclass(frozen=True)
        class NoKind:
            __formats__ = {"value": "EUR"}

            value: int


# --- charts ---------------------------------------------------------------------------------


def test_the_account_charts_its_balance():
    assert charted_fields(BankAccount) == ("balance",)


def test_the_balance_history_is_folded_version_by_version(sqlite_domain):
    router = sqlite_domain.router
    router.dispatch_json(
        "OpenAccount", {"account_number": "H-1", "owner_id": "u-1", "initial_balance": 1000}
    )
    router.dispatch_json("DepositMoney", {"account_number": "H-1", "amount": 250})
    router.dispatch_json("WithdrawMoney", {"account_number": "H-1", "amount": 50})

    every = field_history(sqlite_domain.repository, BankAccount, "account-H-1", ("balance",))
    latest = field_history(
        sqlite_domain.repository, BankAccount, "account-H-1", ("balance",), from_version=2
    )

    assert every == [(1, {"balance": 1000}), (2, {"balance": 1250}), (3, {"balance": 1200})]
    assert latest == every[1:]


# --- refusals worded from their details ----------------------------------------------------


def test_a_worded_refusal_reads_as_before_and_keeps_its_template():
    account = BankAccount()
    account.status, account.balance = "open", 418882

    with pytest.raises(DomainError) as refused:
        account.withdraw_money(WithdrawMoney("A-1", 1020879))

    error = refused.value
    assert error.code == "insufficient_funds"
    assert error.message == "account 'A-1' holds 418882, cannot withdraw 1020879"
    assert error.template == "account {account_number!r} holds {balance}, cannot withdraw {amount}"
    assert error.details == {"account_number": "A-1", "balance": 418882, "amount": 1020879}


def test_a_detail_that_is_no_field_says_how_it_reads():
    account = BankAccount()
    account.status, account.balance = "open", MAX_CENTS

    with pytest.raises(DomainError) as refused:
        account.deposit_money(DepositMoney("A-1", 1))

    assert refused.value.reads["largest"].text(MAX_CENTS) == "€90,071,992,547,409.91"


def test_a_plain_refusal_has_no_template():
    assert DomainError("no", "nope").template is None
