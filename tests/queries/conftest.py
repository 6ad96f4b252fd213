"""Fixtures for the read side: a runtime on a fresh SQLite store holding a user and an account."""

from __future__ import annotations

from typing import Any

import pytest

from webapp.bootstrap import Runtime


@pytest.fixture
def runtime(fresh_sqlite_runtime: Runtime) -> Runtime:
    """A fully wired runtime on a fresh, migrated, empty SQLite store of this test's own."""
    return fresh_sqlite_runtime


def dispatch(runtime: Runtime, command: str, **data: Any):
    return runtime.router.dispatch_json(command, data, metadata={"actor": "test"})


@pytest.fixture
def bank(runtime: Runtime) -> None:
    """User u-1 (who changed e-mail once) owning account A-100 with four events."""
    dispatch(runtime, "RegisterUser", user_id="u-1", name="Ada Lovelace", email="ada@example.org")
    dispatch(runtime, "ChangeEmail", user_id="u-1", email="ada@new.example")
    dispatch(runtime, "OpenAccount", account_number="A-100", owner_id="u-1", initial_balance=1000)
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=250)
    dispatch(runtime, "WithdrawMoney", account_number="A-100", amount=50)
