"""Fixtures for the read side: a runtime on a fresh SQLite store holding a user and an account."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webapp.bootstrap import Runtime, build_runtime
from webapp.config import Settings, sqlite_path


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated, empty deployment folder; each test starts from a copy of it."""
    folder = tmp_path_factory.mktemp("queries-template")
    build_runtime(Settings(db_url=f"sqlite:///{folder / 'eventscope.db'}")).close()
    return folder


@pytest.fixture
def runtime(sqlite_url: str, migrated_template: Path) -> Iterator[Runtime]:
    target = sqlite_path(sqlite_url)
    assert target is not None
    for item in migrated_template.iterdir():
        shutil.copy2(item, target.parent / item.name.replace("eventscope.db", target.name))
    built = build_runtime(
        Settings(db_url=sqlite_url, secret_key=secrets.token_urlsafe(32)), migrate=False
    )
    yield built
    built.close()


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
