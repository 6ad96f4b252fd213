"""`eventscope accounts ...` and `eventscope token list|revoke`: access managed from a shell."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from webapp.cli import cli
from webapp.store import open_store
from webapp.web.accounts import AccountBook


def run(db: str, *args: str):
    return CliRunner().invoke(cli, ["--db", db, *args])


@pytest.fixture
def book(sqlite_url):
    """The store's accounts, with ada (support, two tokens) and bob (admin, one token)."""
    assert run(sqlite_url, "token", "create", "ada", "--role", "support").exit_code == 0
    store = open_store(sqlite_url)
    book = AccountBook(store.engine)
    book.create_token("ada")
    book.ensure("bob", "admin")
    book.create_token("bob")
    yield book
    store.close()


def test_accounts_list_shows_every_account_with_its_state(sqlite_url, book):
    book.disable("bob", actor="root")

    result = run(sqlite_url, "accounts", "list")

    assert result.exit_code == 0
    header, ada, bob = result.output.splitlines()
    assert header.split()[:7] == ["NAME", "ROLE", "STATE", "PASSWORD", "SIGNED", "IN", "(UTC)"]
    assert ada.split()[:6] == ["ada", "support", "active", "no", "-", "2"]
    assert bob.split()[:3] == ["bob", "admin", "disabled"]


def test_token_list_shows_ids_and_first_characters_never_a_whole_token(sqlite_url, book):
    result = run(sqlite_url, "token", "list", "ada")

    assert result.exit_code == 0
    rows = result.output.splitlines()[1:]
    assert [row.split()[:2] for row in rows] == [["1", "ada"], ["2", "ada"]]
    assert all(row.split()[2].startswith("es_") and "…" in row for row in rows)


def test_token_revoke_refuses_the_token_and_records_the_operator(sqlite_url, book):
    result = run(sqlite_url, "token", "revoke", "1")

    assert result.exit_code == 0
    assert "Revoked token 1 of ada" in result.output
    assert [t.active for t in book.tokens("ada")] == [False, True]
    change = book.changes(limit=1)[0]
    assert (change.action, change.account) == ("token-revoked", "ada")
    assert change.actor.startswith("cli")
    listed = run(sqlite_url, "token", "list").output.splitlines()[1:]
    listed_all = run(sqlite_url, "token", "list", "--all").output.splitlines()[1:]
    assert [row.split()[0] for row in listed] == ["2", "3"]
    assert [row.split()[0] for row in listed_all] == ["1", "2", "3"]
    assert "revoked" in listed_all[0]


def test_token_revoke_checks_every_id_before_revoking_any(sqlite_url, book):
    result = run(sqlite_url, "token", "revoke", "2", "99")

    assert result.exit_code == 1
    assert "no API token with id 99" in result.output
    assert all(t.active for t in book.tokens())


def test_token_revoke_all_of_one_account(sqlite_url, book):
    result = run(sqlite_url, "token", "revoke", "--all", "ada")

    assert result.exit_code == 0
    assert "Revoked 2 token(s) of ada" in result.output
    assert [t.account for t in book.tokens() if t.active] == ["bob"]


@pytest.mark.parametrize(
    "args", [("token", "revoke"), ("token", "revoke", "1", "--all", "ada")], ids=["none", "both"]
)
def test_token_revoke_needs_ids_or_all_not_both(sqlite_url, book, args):
    result = run(sqlite_url, *args)

    assert result.exit_code == 2
    assert "give token ids or --all NAME" in result.output
    assert all(t.active for t in book.tokens())


def test_disable_and_enable_an_account_with_a_reason(sqlite_url, book):
    disabled = run(sqlite_url, "accounts", "disable", "ada", "--reason", "left the team")
    again = run(sqlite_url, "accounts", "disable", "ada")
    assert book.get("ada").disabled
    enabled = run(sqlite_url, "accounts", "enable", "ada")

    assert disabled.exit_code == 0 and enabled.exit_code == 0
    assert again.exit_code == 1 and "already disabled" in again.output
    assert not book.get("ada").disabled
    assert [c.action for c in book.changes(limit=2)] == ["enabled", "disabled"]
    assert book.changes(limit=2)[1].detail == "left the team"


def test_role_and_sign_out(sqlite_url, book):
    epoch = book.get("ada").session_epoch

    role = run(sqlite_url, "accounts", "role", "ada", "viewer")
    sign_out = run(sqlite_url, "accounts", "sign-out", "ada")

    assert role.exit_code == 0 and sign_out.exit_code == 0
    assert book.get("ada").role == "viewer"
    assert book.get("ada").session_epoch == epoch + 1


def test_accounts_changes_lists_the_newest_first(sqlite_url, book):
    run(sqlite_url, "accounts", "disable", "bob", "--reason", "audit")

    result = run(sqlite_url, "accounts", "changes", "--limit", "2")

    assert result.exit_code == 0
    header, newest, older = result.output.splitlines()
    assert header.split()[:4] == ["AT", "(UTC)", "BY", "CHANGE"]
    assert newest.split()[3:] == ["disabled", "bob", "audit"]
    assert "token-created" in older


@pytest.mark.parametrize(
    "args",
    [
        ("accounts", "disable", "nobody"),
        ("accounts", "enable", "nobody"),
        ("accounts", "role", "nobody", "viewer"),
        ("accounts", "sign-out", "nobody"),
        ("token", "list", "nobody"),
        ("token", "revoke", "--all", "nobody"),
    ],
)
def test_an_unknown_account_is_a_one_line_error(sqlite_url, book, args):
    changes = len(book.changes())

    result = run(sqlite_url, *args)

    assert result.exit_code == 1
    assert result.output.strip() == "Error: no account named 'nobody'"
    assert len(book.changes()) == changes


def test_a_disabled_account_gets_no_login_link(sqlite_url, book):
    book.disable("ada", actor="root")

    result = run(sqlite_url, "login-link", "ada")

    assert result.exit_code == 1
    assert "disabled" in result.output and "/login/link/" not in result.output


def test_token_create_can_set_an_expiry_shown_by_token_list(sqlite_url, book):
    created = run(sqlite_url, "token", "create", "ada", "--role", "support", "--expires-in", "30")

    assert created.exit_code == 0
    token = created.output.strip()
    assert token.startswith("es_") and "\n" not in token
    newest = book.tokens("ada")[-1]
    assert newest.hint == token[:8] and (newest.expires_at - newest.created_at).days == 30
    row = run(sqlite_url, "token", "list", "ada").output.splitlines()[-1]
    assert newest.expires_at.strftime("%Y-%m-%d") in row


@pytest.mark.parametrize("days", ["0", "3651", "soon"])
def test_token_create_refuses_a_bad_expiry(sqlite_url, book, days):
    tokens = len(book.tokens())

    result = run(sqlite_url, "token", "create", "ada", "--role", "support", "--expires-in", days)

    assert result.exit_code == 2
    assert "--expires-in" in result.output
    assert len(book.tokens()) == tokens


def test_token_create_for_a_disabled_account_is_refused_and_changes_nothing(sqlite_url, book):
    book.disable("ada", actor="root")
    changes = len(book.changes())

    result = run(sqlite_url, "token", "create", "ada", "--role", "admin")

    assert result.exit_code == 1
    assert "disabled; enable it first" in result.output
    assert book.get("ada").role == "support"
    assert len(book.changes()) == changes and len(book.tokens("ada")) == 2


def test_accounts_list_idle_finds_old_accounts_nobody_uses(sqlite_url, book):
    import time

    day = 86_400
    now = time.time()
    for name in ("stale", "signs-in", "scripted", "disabled-old"):
        book.ensure(name, "viewer")
    book.create_token("scripted")
    book.disable("disabled-old", actor="root")
    with book.engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE web_accounts SET created_at = {now - 200 * day} WHERE name != 'ada'"
        )
        conn.exec_driver_sql(
            f"UPDATE web_accounts SET last_sign_in_at = {now - 10 * day} WHERE name = 'signs-in'"
        )
        conn.exec_driver_sql(
            f"UPDATE web_api_tokens SET last_used_at = {now - 10 * day} "
            "WHERE account_id = (SELECT id FROM web_accounts WHERE name = 'scripted')"
        )

    idle = run(sqlite_url, "accounts", "list", "--idle", "90")
    idle_long = run(sqlite_url, "accounts", "list", "--idle", "365")

    assert idle.exit_code == 0
    assert [line.split()[0] for line in idle.output.splitlines()[1:]] == ["bob", "stale"]
    assert idle_long.output.strip() == "No account has been idle that long."


def test_accounts_list_json_has_the_api_shape(sqlite_url, book):
    import json

    result = run(sqlite_url, "accounts", "list", "--json")

    assert result.exit_code == 0
    accounts = json.loads(result.output)["accounts"]
    assert [a["name"] for a in accounts] == ["ada", "bob"]
    assert set(accounts[0]) == {
        "name",
        "role",
        "state",
        "created_at",
        "has_password",
        "disabled_at",
        "active_tokens",
        "last_used_at",
        "last_sign_in_at",
    }
