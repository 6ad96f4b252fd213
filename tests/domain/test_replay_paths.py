"""A full replay folds the same state whichever read path the repository takes.

The repository folds lean (version, type, schema version, data) rows when the codec is
the identity or can say which payloads it would change; pages holding encrypted fields
are read again in full and decoded. These specifications pin that the shortcut never
changes what an aggregate sees.
"""

from __future__ import annotations

import base64
import os

import pytest

from webapp.bootstrap import open_privacy
from webapp.config import Settings
from webapp.demo.bank import BankAccount
from webapp.demo.identity import User
from webapp.domain import Repository
from webapp.domain import repository as repository_module
from webapp.domain.messages import from_data
from webapp.store import NewEvent


def opened() -> NewEvent:
    data = {"account_number": "7", "owner_id": "u7", "initial_balance": 5}
    return NewEvent("BankAccountOpened", data)


def deposit(amount: int) -> NewEvent:
    return NewEvent("MoneyDeposited", {"account_number": "7", "amount": amount}, schema_version=2)


def legacy_deposit(value: str) -> NewEvent:
    return NewEvent("MoneyDeposited", {"account_number": "7", "value": value}, schema_version=1)


def fold_one_by_one(repository: Repository, stream_id: str, upto: int | None = None) -> int:
    account = BankAccount()
    for event in repository.read_events(stream_id, 1, upto):
        account.apply(from_data(event.type, event.data))
    return account.balance


@pytest.mark.parametrize("page", [3, 5000])
def test_lean_replay_upcasts_old_events_and_pages_like_the_full_read(
    sqlite_store, monkeypatch, page
) -> None:
    monkeypatch.setattr(repository_module, "READ_PAGE", page)
    events = [opened()] + [deposit(n) for n in range(1, 8)] + [legacy_deposit("1.25")]
    events += [deposit(100), legacy_deposit("0.75")]
    sqlite_store.append("account-7", events)
    repository = Repository(sqlite_store, snapshots=False)

    account, version, report = repository.load(BankAccount, "account-7")
    assert (version, report.events_replayed) == (11, 11)
    assert account.balance == 5 + 28 + 125 + 100 + 75 == fold_one_by_one(repository, "account-7")

    earlier, version, report = repository.load(BankAccount, "account-7", max_version=9)
    assert (version, report.events_replayed) == (9, 9)
    assert earlier.balance == 5 + 28 + 125 == fold_one_by_one(repository, "account-7", 9)


def test_the_lean_read_returns_what_read_stream_returns(store) -> None:
    store.append("account-7", [opened(), deposit(3), legacy_deposit("2.50")])
    full = store.read_stream("account-7", 2, limit=5)
    lean = store.read_stream_payloads("account-7", 2, limit=5)
    assert lean == [(e.stream_version, e.type, e.schema_version, e.data) for e in full]
    assert store.read_stream_payloads("account-7", 1, limit=1)[0][1] == "BankAccountOpened"
    assert store.read_stream_payloads("account-7", 4) == []
    assert store.read_stream_payloads("missing") == []


def test_pages_with_encrypted_fields_are_decoded_before_folding(
    sqlite_store, sqlite_url, monkeypatch
) -> None:
    monkeypatch.setattr(repository_module, "READ_PAGE", 2)
    key = base64.b64encode(os.urandom(32)).decode()
    privacy = open_privacy(Settings(db_url=sqlite_url, master_key=key), store=sqlite_store)
    try:
        repository = Repository(sqlite_store, codec=privacy.codec, snapshots=False)
        registered = NewEvent(
            "UserRegistered", {"user_id": "u1", "name": "Ada", "email": "ada@example.org"}
        )
        plain = [NewEvent("SomethingElse", {"note": n}) for n in ("plain", "still plain")]
        changed = NewEvent("EmailChanged", {"user_id": "u1", "email": "ada@example.com"})
        repository.append("user-u1", [registered, *plain, changed], 0)
        stored = sqlite_store.read_stream("user-u1")
        assert stored[0].data["name"] != "Ada"  # encrypted at rest

        user, version, _ = repository.load(User, "user-u1")
        assert (user.name, user.email, version) == ("Ada", "ada@example.com", 4)

        privacy.forget("u1", reason="test", actor="tester")
        forgotten, _, _ = repository.load(User, "user-u1")
        assert forgotten.name != "Ada" and forgotten.email != "ada@example.com"
    finally:
        privacy.close()
