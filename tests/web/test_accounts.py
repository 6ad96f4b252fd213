"""Accounts, tokens and login links behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from webapp.store import open_store
from webapp.web.accounts import AccountBook, AccountError


@pytest.fixture
def book(db_url):
    store = open_store(db_url, migrate=True)  # runs every layer's migrations, "web" included
    yield AccountBook(store.engine)
    store.close()


def test_an_account_is_created_once_and_can_change_role(book):
    first = book.ensure("ada", "viewer")
    again = book.ensure("ada", "admin")

    assert again.id == first.id
    assert book.get("ada").role == "admin"
    assert [a.name for a in book.list()] == ["ada"]


def test_tokens_identify_their_account_and_nothing_else(book):
    book.ensure("ada", "support")
    token = book.create_token("ada")

    assert book.account_for_token(token).name == "ada"
    assert book.account_for_token(token + "x") is None
    assert book.account_for_token("") is None


def test_a_login_token_is_redeemed_once(book):
    book.ensure("ada", "viewer")
    token = book.create_login_token("ada")

    assert book.redeem_login_token(token).name == "ada"
    assert book.redeem_login_token(token) is None


def test_an_expired_login_token_is_not_redeemed(book):
    book.ensure("ada", "viewer")

    assert book.redeem_login_token(book.create_login_token("ada", ttl_seconds=-1)) is None


BAD_INPUT = [
    (lambda b: b.ensure("ada", "root"), "unknown role"),
    (lambda b: b.ensure("  ", "viewer"), "account name"),
    (lambda b: b.create_token("nobody"), "no account"),
    (lambda b: b.create_login_token("nobody"), "no account"),
    (lambda b: b.set_password("nobody", "long enough pw"), "no account"),
]


def test_bad_input_is_refused_clearly_and_changes_nothing(book):
    for call, message in BAD_INPUT:
        with pytest.raises(AccountError, match=message):
            call(book)
    assert book.list() == []


def test_a_short_password_is_refused(book):
    book.ensure("ada", "viewer")

    with pytest.raises(AccountError, match="at least 8"):
        book.set_password("ada", "short")
    assert book.check_password("ada", "short") is None


def test_check_password_knows_right_from_wrong(book):
    book.ensure("ada", "viewer")
    book.set_password("ada", "a long passphrase")

    assert book.check_password("ada", "a long passphrase").name == "ada"
    assert book.check_password("ada", "a wrong passphrase") is None
    assert book.check_password("nobody", "a long passphrase") is None
