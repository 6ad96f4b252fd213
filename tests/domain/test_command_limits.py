"""Limits are declared once on the commands' fields, and the read models hold what they allow.

Every text a caller sends has a longest length and every number a range; the columns the
demo's read models keep those values in are sized from the same declarations.
"""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from webapp import demo
from webapp.demo.bank import MAX_CENTS, DepositMoney, OpenAccount
from webapp.demo.identity import RegisterUser
from webapp.domain import CommandValidationError, Limits, command_types, is_internal_command
from webapp.domain.messages import field_specs, parse_command

DEMO_MODULES = ("webapp.demo.identity", "webapp.demo.bank", "webapp.demo.transfers")
PUBLIC_COMMANDS = sorted(
    (name, cls)
    for name, cls in command_types().items()
    if cls.__module__ in DEMO_MODULES and not is_internal_command(cls)
)
STORED_IN = {
    # read model column: the command field whose values it keeps
    ("user_directory", "user_id"): (RegisterUser, "user_id"),
    ("account_summary", "account_number"): (OpenAccount, "account_number"),
    ("account_summary", "owner_id"): (OpenAccount, "owner_id"),
    ("transfer_summary", "transfer_id"): ("TransferMoney", "transfer_id"),
    ("transfer_summary", "from_account"): ("TransferMoney", "from_account"),
    ("transfer_summary", "to_account"): ("TransferMoney", "to_account"),
}


def demo_columns() -> dict[tuple[str, str], sa.Column]:
    metadata = sa.MetaData()
    columns = {}
    for projection in demo.projections():
        for table in projection.define_tables(metadata, 1).values():
            for column in table.columns:
                columns[(projection.name, column.name)] = column
    return columns


@pytest.mark.parametrize(("name", "cls"), PUBLIC_COMMANDS, ids=[n for n, _ in PUBLIC_COMMANDS])
def test_every_text_and_number_a_caller_sends_has_a_declared_limit(name: str, cls: type) -> None:
    for spec in field_specs(cls):
        if spec.type == "str":
            assert spec.max_length is not None, f"{name}.{spec.name} declares no max_length"
        if spec.type == "int":
            assert spec.maximum is not None, f"{name}.{spec.name} declares no maximum"


@pytest.mark.parametrize("where", sorted(STORED_IN), ids="/".join)
def test_each_read_model_column_holds_the_longest_value_its_command_accepts(where) -> None:
    command, field_name = STORED_IN[where]
    cls = command_types()[command] if isinstance(command, str) else command
    [spec] = [s for s in field_specs(cls) if s.name == field_name]

    column = demo_columns()[where]

    assert isinstance(column.type, sa.String)
    assert column.type.length is not None
    assert column.type.length >= spec.max_length


def test_balances_kept_in_64_bit_columns_hold_twice_the_largest_amount() -> None:
    """A balance stays within MAX_CENTS, except for refunds of money that left the account
    (never refused, so money is never lost): at most twice the limit."""
    columns = demo_columns()
    for where in [("account_summary", "balance"), ("transfer_summary", "amount")]:
        assert isinstance(columns[where].type, sa.BigInteger)
    assert 2 * MAX_CENTS < 2**63
    assert MAX_CENTS == 2**53 - 1


@pytest.mark.parametrize(
    ("command", "data", "field"),
    [
        ("RegisterUser", {"user_id": "u" * 150, "name": "Ada", "email": "a@x.org"}, "user_id"),
        ("DepositMoney", {"account_number": "A-1", "amount": 10**30}, "amount"),
        ("DepositMoney", {"account_number": "A-1", "amount": 2**63}, "amount"),
        ("OpenAccount", {"account_number": "A-1", "owner_id": "u", "initial_balance": 10**25}, "initial_balance"),
    ],
)  # fmt: skip
def test_parse_command_refuses_a_value_outside_its_limits(command, data, field) -> None:
    with pytest.raises(CommandValidationError) as refused:
        parse_command(command, data)

    assert refused.value.code == "invalid_value"
    assert refused.value.details["field"] == field


def test_limits_become_field_metadata_the_catalog_shows() -> None:
    @dataclasses.dataclass(frozen=True)
    class Probe:
        code: str = Limits(max_length=8, pattern="[A-Z]+", description="a code").field()

    [spec] = field_specs(Probe)
    assert (spec.max_length, spec.pattern, spec.description) == (8, "[A-Z]+", "a code")
    assert field_specs(DepositMoney)[1].to_dict()["maximum"] == MAX_CENTS


def test_a_text_outside_its_declared_pattern_is_refused() -> None:
    from webapp.domain import command

    @command("ProbePatternCommand")
    @dataclasses.dataclass(frozen=True)
    class ProbePatternCommand:
        code: str = Limits(max_length=8, pattern="[A-Z]+").field()

    assert parse_command("ProbePatternCommand", {"code": "ABC"}).code == "ABC"
    with pytest.raises(CommandValidationError, match="expected format"):
        parse_command("ProbePatternCommand", {"code": "abc"})
