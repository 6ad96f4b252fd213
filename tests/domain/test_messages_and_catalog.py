"""Events and commands: registration, JSON input, and the catalogue the dashboard shows."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import webapp.demo  # noqa: F401 - registers the demo types
from webapp.domain import (
    CommandValidationError,
    build_catalog,
    command,
    command_class,
    event,
    event_class,
    parse_command,
)
from webapp.domain.messages import from_data


def test_demo_types_are_registered_by_name() -> None:
    for name in [
        "UserRegistered",
        "EmailChanged",
        "BankAccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn",
        "BankAccountClosed",
    ]:
        assert event_class(name).__event_type__ == name
    for name in [
        "RegisterUser",
        "ChangeEmail",
        "OpenAccount",
        "DepositMoney",
        "WithdrawMoney",
        "CloseAccount",
    ]:
        assert command_class(name).__command_type__ == name
    assert event_class("NoSuchEvent") is None


def test_other_modules_can_register_their_own_types() -> None:
    @event("TestTransferDebited", version=3, personal_data=None)
    @dataclass(frozen=True)
    class TransferDebited:
        transfer_id: str
        amount: int

    @command("TestDebitForTransfer")
    @dataclass(frozen=True)
    class DebitForTransfer:
        transfer_id: str
        amount: int = field(metadata={"minimum": 1})

    assert event_class("TestTransferDebited") is TransferDebited
    assert TransferDebited.__schema_version__ == 3
    assert parse_command("TestDebitForTransfer", {"transfer_id": "t", "amount": 3}).amount == 3


def test_types_must_be_frozen_dataclasses() -> None:
    with pytest.raises(TypeError, match="frozen"):

        @event("TestMutable")
        @dataclass
        class Mutable:
            x: int


def test_a_type_name_cannot_be_taken_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @event("MoneyDeposited")
        @dataclass(frozen=True)
        class Impostor:
            amount: int


def test_form_strings_are_coerced_to_the_declared_types() -> None:
    cmd = parse_command("DepositMoney", {"account_number": "10001", "amount": "250"})
    assert cmd.amount == 250


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("DepositMoney", {"account_number": "1"}, "missing_field"),
        ("DepositMoney", {"account_number": "1", "amount": "ten"}, "wrong_type"),
        ("DepositMoney", {"account_number": "1", "amount": 1.5}, "wrong_type"),
        ("DepositMoney", {"account_number": "1", "amount": True}, "wrong_type"),
        ("DepositMoney", {"account_number": 7, "amount": 5}, "wrong_type"),
        ("DepositMoney", {"account_number": "1", "amount": -5}, "invalid_value"),
        ("DepositMoney", {"account_number": "1", "amount": 5, "extra": 1}, "unknown_field"),
        ("LaunchRocket", {}, "unknown_command"),
        ("RegisterUser", {"user_id": "u", "name": "N", "email": "nope"}, "invalid_value"),
    ],
)
def test_bad_input_gives_a_clear_validation_error(name: str, data: dict, code: str) -> None:
    with pytest.raises(CommandValidationError) as caught:
        parse_command(name, data)
    assert caught.value.code == code
    assert str(caught.value)


def test_stored_data_rebuilds_events_tolerantly() -> None:
    ev = from_data("MoneyDeposited", {"account_number": "1", "amount": 5, "later_field": 1})
    assert (ev.account_number, ev.amount) == ("1", 5)
    assert from_data("MoneyDeposited", {}).amount is None
    assert from_data("Mystery", {"a": 1}).type == "Mystery"


def test_the_catalogue_lists_fields_versions_personal_data_upcasters_and_emitters(
    sqlite_domain,
) -> None:
    catalog = build_catalog(sqlite_domain.router)
    events = {e["name"]: e for e in catalog["events"]}
    commands = {c["name"]: c for c in catalog["commands"]}
    deposited = events["MoneyDeposited"]
    assert deposited["schema_version"] == 2
    assert deposited["schema_versions"] == [1, 2]
    assert deposited["upcasters"][0]["from_version"] == 1
    assert deposited["emitted_by"] == ["DepositMoney"]
    assert events["UserRegistered"]["personal_data"] == {"name": "user_id", "email": "user_id"}
    email = next(f for f in events["UserRegistered"]["fields"] if f["name"] == "email")
    assert email["personal_of"] == "user_id"
    deposit = commands["DepositMoney"]
    assert deposit["emits"] == ["MoneyDeposited"]
    assert (deposit["aggregate"], deposit["identity"], deposit["prefix"]) == (
        "BankAccount",
        "account_number",
        "account-",
    )
    amount = next(f for f in deposit["fields"] if f["name"] == "amount")
    assert (amount["type"], amount["required"], amount["minimum"]) == ("int", True, 1)
    routes = {r["aggregate"]: r for r in catalog["routes"]}
    assert routes["BankAccount"]["lifespan"] == "BankAccountLifespan"
    assert routes["BankAccount"]["snapshot_every"] == 100
