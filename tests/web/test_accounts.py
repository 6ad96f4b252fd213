"""Accounts, tokens and login links behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from webapp.bootstrap import open_migrated_store
from webapp.web.accounts import AccountBook, AccountError


@pytest.fixture
def book(db_url):
    store = open_migrated_store(db_url)  # runs every layer's migrations, "web" included
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


# --- revoking, disabling, signing out, and the record of changes ---


def test_a_revoked_token_is_refused_and_the_others_still_work(book):
    book.ensure("ada", "support")
    first, second = book.create_token("ada"), book.create_token("ada")
    first_id, second_id = (t.id for t in book.tokens("ada"))

    revoked = book.revoke_token(first_id, actor="root")

    assert revoked.revoked_at is not None and not revoked.active
    assert book.account_for_token(first) is None
    assert book.account_for_token(second).name == "ada"
    assert [t.active for t in book.tokens("ada")] == [False, True]
    assert [t.id for t in book.tokens("ada") if t.active] == [second_id]


def test_a_token_is_listed_by_its_first_characters_never_by_itself(book):
    book.ensure("ada", "viewer")
    token = book.create_token("ada")

    (info,) = book.tokens()

    assert info.hint == token[:8] and info.hint.startswith("es_")
    assert token not in repr(info)
    assert info.account == "ada" and info.last_used_at is None


def test_revoking_an_unknown_or_revoked_token_is_refused_and_changes_nothing(book):
    book.ensure("ada", "viewer")
    token = book.create_token("ada")
    (info,) = book.tokens()
    book.revoke_token(info.id, actor="root")
    changes_before = len(book.changes())

    with pytest.raises(AccountError, match="no API token with id 999"):
        book.revoke_token(999, actor="root")
    with pytest.raises(AccountError, match="already revoked"):
        book.revoke_token(info.id, actor="root")

    assert len(book.changes()) == changes_before
    assert book.account_for_token(token) is None


def test_revoke_all_tokens_of_one_account_leaves_other_accounts_alone(book):
    book.ensure("ada", "viewer")
    book.ensure("bob", "viewer")
    ada_tokens = [book.create_token("ada") for _ in range(3)]
    bob_token = book.create_token("bob")

    assert book.revoke_all_tokens("ada", actor="root") == 3
    assert book.revoke_all_tokens("ada", actor="root") == 0

    assert all(book.account_for_token(t) is None for t in ada_tokens)
    assert book.account_for_token(bob_token).name == "bob"


def test_a_disabled_account_is_refused_every_way_in_until_enabled(book):
    book.ensure("ada", "support")
    book.set_password("ada", "a long passphrase")
    token = book.create_token("ada")
    link = book.create_login_token("ada")

    book.disable("ada", actor="root", reason="left the team")

    assert book.get("ada").disabled
    assert book.account_for_token(token) is None
    assert book.check_password("ada", "a long passphrase") is None
    assert book.redeem_login_token(link) is None
    with pytest.raises(AccountError, match="disabled"):
        book.create_token("ada")
    with pytest.raises(AccountError, match="disabled"):
        book.create_login_token("ada")
    assert [t.account_disabled for t in book.tokens("ada")] == [True]

    book.enable("ada", actor="root")

    assert not book.get("ada").disabled
    assert book.account_for_token(token).name == "ada"
    assert book.check_password("ada", "a long passphrase").name == "ada"
    assert book.redeem_login_token(link) is None  # a link is used up even when refused


def test_disabling_twice_or_enabling_an_active_account_is_refused(book):
    book.ensure("ada", "viewer")

    with pytest.raises(AccountError, match="is not disabled"):
        book.enable("ada", actor="root")
    book.disable("ada", actor="root")
    with pytest.raises(AccountError, match="already disabled"):
        book.disable("ada", actor="root")
    with pytest.raises(AccountError, match="no account"):
        book.disable("nobody", actor="root")


def test_ending_sessions_disabling_and_a_new_password_each_move_the_session_epoch(book):
    epoch = book.ensure("ada", "viewer").session_epoch

    book.end_sessions("ada", actor="root")
    after_sign_out = book.get("ada").session_epoch
    book.set_password("ada", "a long passphrase")
    after_password = book.get("ada").session_epoch
    book.disable("ada", actor="root")
    after_disable = book.get("ada").session_epoch

    assert epoch < after_sign_out < after_password < after_disable


def test_every_change_to_who_may_do_what_is_recorded_with_its_actor(book):
    book.ensure("ada", "viewer", actor="cli:ops")
    book.set_role("ada", "support", actor="root")
    book.set_password("ada", "a long passphrase", actor="root")
    book.create_token("ada", actor="cli:ops")
    (token,) = book.tokens("ada")
    book.revoke_token(token.id, actor="root")
    book.end_sessions("ada", actor="root")
    book.disable("ada", actor="root", reason="on leave")
    book.enable("ada", actor="root", reason="back")

    changes = list(reversed(book.changes(account="ada")))

    assert [(c.actor, c.action) for c in changes] == [
        ("cli:ops", "created"),
        ("root", "role-changed"),
        ("root", "password-set"),
        ("cli:ops", "token-created"),
        ("root", "token-revoked"),
        ("root", "sessions-ended"),
        ("root", "disabled"),
        ("root", "enabled"),
    ]
    assert changes[1].detail == "viewer -> support"
    assert changes[6].detail == "on leave"
    assert f"token {token.id}" in changes[4].detail
    assert "a long passphrase" not in repr(changes)


def test_setting_the_same_role_again_records_nothing(book):
    book.ensure("ada", "viewer")
    book.ensure("ada", "viewer")
    book.set_role("ada", "viewer", actor="root")

    assert [c.action for c in book.changes()] == ["created"]


def test_a_token_records_its_last_use_at_most_once_a_minute(book, monkeypatch):
    import webapp.web.api_tokens as tokens_module

    book.ensure("ada", "viewer")
    token = book.create_token("ada")
    clock = [1_000_000.0]
    monkeypatch.setattr(tokens_module.time, "time", lambda: clock[0])

    book.account_for_token(token)
    first_use = book.tokens()[0].last_used_at
    clock[0] += 30
    book.account_for_token(token)
    after_30_s = book.tokens()[0].last_used_at
    clock[0] += 31
    book.account_for_token(token)
    after_61_s = book.tokens()[0].last_used_at

    assert first_use is not None
    assert after_30_s == first_use
    assert (after_61_s - first_use).total_seconds() == pytest.approx(61)


def test_summaries_show_each_account_at_a_glance(book):
    book.ensure("ada", "support")
    book.ensure("bob", "admin")
    book.set_password("bob", "a long passphrase")
    kept, revoked = book.create_token("ada"), book.create_token("ada")
    book.revoke_token(book.tokens("ada")[1].id, actor="root")
    book.account_for_token(kept)
    book.disable("bob", actor="root")

    ada, bob = book.summaries()

    assert (ada.name, ada.role, ada.active_tokens, ada.has_password) == ("ada", "support", 1, False)
    assert ada.disabled_at is None and ada.last_used_at is not None
    assert (bob.name, bob.active_tokens, bob.has_password) == ("bob", 0, True)
    assert bob.disabled_at is not None and bob.last_used_at is None
    assert book.account_for_token(revoked) is None


def test_an_expiring_token_works_until_its_time_and_is_refused_after(book, monkeypatch):
    import webapp.web.api_tokens as tokens_module

    book.ensure("ada", "viewer")
    token = book.create_token("ada", expires_in=timedelta(days=30), actor="root")
    lasting = book.create_token("ada")
    (info, _) = book.tokens("ada")
    assert book.account_for_token(token).name == "ada"
    assert info.expires_at is not None and info.active and not info.expired
    assert (info.expires_at - info.created_at).days == 30
    assert "expires" in book.changes(limit=2)[1].detail

    later = time.time() + timedelta(days=31).total_seconds()
    monkeypatch.setattr(tokens_module.time, "time", lambda: later)

    assert book.account_for_token(token) is None
    assert book.account_for_token(lasting).name == "ada"
    assert book.summaries()[0].active_tokens == 1
    with pytest.raises(AccountError, match="already expired"):
        book.revoke_token(info.id, actor="root")
    assert book.revoke_all_tokens("ada", actor="root") == 1


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(days=-1), timedelta(days=3651)])
def test_a_token_lifetime_out_of_range_is_refused(book, lifetime):
    book.ensure("ada", "viewer")

    with pytest.raises(AccountError, match="lifetime"):
        book.create_token("ada", expires_in=lifetime)
    assert book.tokens() == []


def test_concurrent_disables_record_one_change_and_refuse_the_other(book):
    import threading

    book.ensure("ada", "viewer")
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def disable() -> None:
        start.wait()
        try:
            book.disable("ada", actor="root")
            outcomes.append("disabled")
        except AccountError:
            outcomes.append("refused")

    threads = [threading.Thread(target=disable) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["disabled", "refused", "refused", "refused"]
    assert [c.action for c in book.changes()].count("disabled") == 1
