"""The Accounts pages: admins see who may come in, revoke tokens, end sessions, disable accounts."""

from __future__ import annotations

import re

import pytest


def form(csrf, **fields) -> dict[str, str]:
    return {"csrf_token": csrf(), **fields}


def change_actions(accounts, name: str) -> list[str]:
    return [c.action for c in reversed(accounts.changes(account=name))]


@pytest.fixture
def ada(accounts) -> dict[str, str]:
    """A support account with two API tokens."""
    accounts.ensure("ada", "support")
    return {"first": accounts.create_token("ada"), "second": accounts.create_token("ada")}


def api_status(client, token: str) -> int:
    return client.get("/api/streams", headers={"Authorization": f"Bearer {token}"}).status_code


PAGES = ["/accounts/", "/accounts/ada", "/accounts/changes.csv"]
ACTIONS = [
    "/accounts/",
    "/accounts/ada/login-link",
    "/accounts/ada/tokens",
    "/accounts/ada/role",
    "/accounts/ada/tokens/1/revoke",
    "/accounts/ada/tokens/revoke-all",
    "/accounts/ada/sign-out",
    "/accounts/ada/disable",
    "/accounts/ada/enable",
]


@pytest.mark.parametrize("role", ["viewer", "support"])
@pytest.mark.parametrize("url", PAGES)
def test_only_admins_see_the_accounts_pages(client, log_in, ada, role, url):
    log_in(role)

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", ACTIONS)
def test_a_support_account_cannot_change_accounts(client, log_in, csrf, accounts, ada, url):
    log_in("support")

    response = client.post(url, data=form(csrf, role="admin"))

    assert response.status_code == 403
    assert api_status(client, ada["first"]) == 200
    assert change_actions(accounts, "ada") == ["created", "token-created", "token-created"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, ada, url):
    response = client.get(url)

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_accounts_nav_link_shows_to_admins_only(client, log_in):
    log_in("support")
    assert 'href="/accounts/"' not in client.get("/").text

    log_in("admin")
    assert 'href="/accounts/"' in client.get("/").text


def test_the_list_shows_each_account_with_role_state_and_tokens(client, log_in, accounts, ada):
    accounts.ensure("bob", "viewer")
    accounts.disable("bob", actor="root")
    log_in("admin")

    page = client.get("/accounts/").text

    assert 'data-account="ada" data-state="active"' in page
    assert 'data-account="bob" data-state="disabled"' in page
    assert 'data-account="admin" data-state="active"' in page
    assert page.count('data-testid="account-change"') == len(accounts.changes(limit=50))


def test_an_account_page_lists_tokens_by_their_first_characters_only(client, log_in, ada):
    log_in("admin")

    page = client.get("/accounts/ada").text

    assert page.count('data-testid="token-row"') == 2
    assert ada["first"][:8] + "…" in page
    assert ada["first"] not in page and ada["second"] not in page


def test_revoking_a_token_on_the_page_refuses_it_at_once(client, log_in, csrf, accounts, ada):
    log_in("admin")
    first_id = accounts.tokens("ada")[0].id

    response = client.post(f"/accounts/ada/tokens/{first_id}/revoke", data=form(csrf))

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/accounts/ada")
    assert api_status(client, ada["first"]) == 401
    assert api_status(client, ada["second"]) == 200
    (change,) = [c for c in accounts.changes(account="ada") if c.action == "token-revoked"]
    assert change.actor == "admin"
    assert "is revoked" in client.get("/accounts/ada").text


def test_revoke_all_refuses_every_token_of_the_account(client, log_in, csrf, ada):
    log_in("admin")

    response = client.post("/accounts/ada/tokens/revoke-all", data=form(csrf))

    assert response.status_code == 303
    assert api_status(client, ada["first"]) == api_status(client, ada["second"]) == 401


def test_a_token_of_another_account_cannot_be_revoked_through_this_one(
    client, log_in, csrf, accounts, ada
):
    accounts.ensure("bob", "viewer")
    bob_token = accounts.create_token("bob")
    bob_id = accounts.tokens("bob")[0].id
    log_in("admin")

    response = client.post(f"/accounts/ada/tokens/{bob_id}/revoke", data=form(csrf))

    assert response.status_code == 404
    assert api_status(client, bob_token) == 200


def test_revoking_a_revoked_token_says_so_and_records_nothing(client, log_in, csrf, accounts, ada):
    log_in("admin")
    first_id = accounts.tokens("ada")[0].id
    client.post(f"/accounts/ada/tokens/{first_id}/revoke", data=form(csrf))
    changes = len(accounts.changes())

    response = client.post(f"/accounts/ada/tokens/{first_id}/revoke", data=form(csrf))

    assert response.status_code == 400
    assert "already revoked" in response.text
    assert len(accounts.changes()) == changes


def test_disabling_an_account_logs_its_browser_out_and_refuses_its_tokens(
    app, client, log_in, csrf, accounts, ada
):
    ada_browser = app.test_client()
    ada_browser.get(f"/login/link/{accounts.create_login_token('ada')}")
    assert ada_browser.get("/subjects/").status_code == 200
    log_in("admin")

    response = client.post("/accounts/ada/disable", data=form(csrf, reason="left the team"))

    assert response.status_code == 303
    assert ada_browser.get("/subjects/").status_code == 302  # sent to log in
    assert api_status(client, ada["first"]) == 401
    page = client.get("/accounts/ada").text
    assert 'data-state="disabled"' in page and "left the team" in page
    assert "refused while disabled" in page


def test_enabling_lets_the_account_in_again(client, log_in, csrf, accounts, ada):
    accounts.disable("ada", actor="root")
    log_in("admin")

    response = client.post("/accounts/ada/enable", data=form(csrf, reason="back"))

    assert response.status_code == 303
    assert api_status(client, ada["first"]) == 200
    assert change_actions(accounts, "ada")[-1] == "enabled"


def test_sign_out_everywhere_ends_sessions_but_keeps_tokens(
    app, client, log_in, csrf, accounts, ada
):
    ada_browser = app.test_client()
    ada_browser.get(f"/login/link/{accounts.create_login_token('ada')}")
    log_in("admin")

    response = client.post("/accounts/ada/sign-out", data=form(csrf))

    assert response.status_code == 303
    assert ada_browser.get("/subjects/").status_code == 302
    assert api_status(client, ada["first"]) == 200
    ada_browser.get(f"/login/link/{accounts.create_login_token('ada')}")
    assert ada_browser.get("/subjects/").status_code == 200  # a new login works


def test_an_admin_can_change_a_role_which_applies_at_the_next_request(
    app, client, log_in, csrf, accounts, ada
):
    ada_browser = app.test_client()
    ada_browser.get(f"/login/link/{accounts.create_login_token('ada')}")
    log_in("admin")

    response = client.post("/accounts/ada/role", data=form(csrf, role="viewer"))

    assert response.status_code == 303
    assert accounts.get("ada").role == "viewer"
    assert ada_browser.get("/subjects/").status_code == 403


def test_an_admin_cannot_disable_or_demote_their_own_account(client, log_in, csrf, accounts):
    log_in("admin")
    changes = len(accounts.changes())

    disabled = client.post("/accounts/admin/disable", data=form(csrf))
    demoted = client.post("/accounts/admin/role", data=form(csrf, role="viewer"))

    assert disabled.status_code == demoted.status_code == 400
    assert "cannot disable your own account" in disabled.text
    assert "cannot demote your own account" in demoted.text
    assert accounts.get("admin").role == "admin" and not accounts.get("admin").disabled
    assert len(accounts.changes()) == changes
    assert client.get("/accounts/").status_code == 200


def test_signing_out_ones_own_sessions_sends_one_to_log_in(client, log_in, csrf):
    log_in("admin")

    response = client.post("/accounts/admin/sign-out", data=form(csrf))

    assert response.status_code == 303
    assert "/login" in response.headers["Location"]
    assert client.get("/accounts/").status_code == 302


@pytest.mark.parametrize(
    ("url", "fields", "status", "message"),
    [
        ("/accounts/ada/role", {"role": "root"}, 400, "Unknown role"),
        ("/accounts/ada/disable", {"reason": "x" * 501}, 400, "limited to 500"),
        ("/accounts/ada/enable", {}, 400, "is not disabled"),
        ("/accounts/nobody/disable", {}, 404, "No account named"),
        ("/accounts/ada/tokens/999/revoke", {}, 404, "no API token with id 999"),
    ],
)
def test_bad_requests_get_a_clear_error_and_change_nothing(
    client, log_in, csrf, accounts, ada, url, fields, status, message
):
    log_in("admin")
    changes = len(accounts.changes())

    response = client.post(url, data=form(csrf, **fields))

    assert response.status_code == status
    assert message in response.text
    assert len(accounts.changes()) == changes
    assert not accounts.get("ada").disabled and accounts.get("ada").role == "support"


def test_changes_without_the_csrf_token_are_refused(client, log_in, accounts, ada):
    log_in("admin")

    response = client.post("/accounts/ada/disable", data={"reason": "forged"})

    assert response.status_code == 400
    assert not accounts.get("ada").disabled


def test_names_and_reasons_are_escaped(client, log_in, csrf, accounts):
    accounts.ensure("<script>x</script>", "viewer")
    log_in("admin")
    client.post(
        "/accounts/%3Cscript%3Ex%3C%2Fscript%3E/disable",
        data=form(csrf, reason="<img src=x onerror=alert(1)>"),
    )

    listing = client.get("/accounts/").text
    page = client.get("/accounts/%3Cscript%3Ex%3C%2Fscript%3E").text

    assert "<script>x</script>" not in listing and "<script>x</script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert accounts.get("<script>x</script>").disabled


def test_a_name_holding_a_slash_has_its_own_page(client, log_in, accounts):
    accounts.ensure("team/ops", "viewer")
    log_in("admin")

    response = client.get("/accounts/team%2Fops")

    assert response.status_code == 200
    assert 'action="/accounts/team%2Fops/disable"' in response.text


def test_an_expired_token_shows_as_expired_without_a_revoke_button(client, log_in, accounts, ada):
    from datetime import timedelta

    token = accounts.create_token("ada", expires_in=timedelta(days=1))
    expiring_id = accounts.tokens("ada")[-1].id
    with accounts.engine.begin() as conn:  # as if a day had passed
        conn.exec_driver_sql(f"UPDATE web_api_tokens SET expires_at = 1 WHERE id = {expiring_id}")
    log_in("admin")

    page = client.get("/accounts/ada").text

    assert api_status(client, token) == 401
    assert f'data-token-id="{expiring_id}" data-state="expired"' in page
    assert page.count('data-testid="revoke-token"') == 2  # only ada's two lasting tokens
    assert 'data-account="ada"' in client.get("/accounts/").text


def test_the_last_sign_in_is_shown_to_find_unused_accounts(app, client, log_in, accounts, ada):
    assert accounts.summary("ada").last_sign_in_at is None
    app.test_client().get(f"/login/link/{accounts.create_login_token('ada')}")
    log_in("admin")

    signed_in = accounts.summary("ada").last_sign_in_at
    page = client.get("/accounts/ada").text

    assert signed_in is not None
    assert signed_in.isoformat() in page
    assert accounts.summary("admin").last_sign_in_at >= signed_in


def test_a_password_sign_in_is_recorded_too(client, accounts, csrf):
    accounts.ensure("ada", "viewer")
    accounts.set_password("ada", "a long passphrase")

    client.post(
        "/login", data={"csrf_token": csrf(), "name": "ada", "password": "a long passphrase"}
    )

    assert accounts.summary("ada").last_sign_in_at is not None


def test_accounts_unused_for_90_days_are_marked_idle(client, log_in, accounts, ada):
    import time

    accounts.ensure("stale", "viewer")
    with accounts.engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE web_accounts SET created_at = {time.time() - 91 * 86_400} "
            "WHERE name IN ('stale', 'ada')"
        )
    client.get("/api/streams", headers={"Authorization": f"Bearer {ada['first']}"})
    log_in("admin")

    page = client.get("/accounts/").text

    stale_row = page.split('data-account="stale"')[1].split("</tr>")[0]
    ada_row = page.split('data-account="ada"')[1].split("</tr>")[0]
    assert 'data-testid="account-idle"' in stale_row
    assert 'data-testid="account-idle"' not in ada_row  # its token was just used
    assert page.count('data-testid="account-idle"') == 1


def test_every_change_downloads_as_csv_newest_first(client, log_in, accounts, ada):
    from .conftest import csv_rows

    for _ in range(3):
        accounts.end_sessions("ada", actor="=cmd|' /C calc'!A0")
    log_in("admin")

    response = client.get("/accounts/changes.csv")

    rows = csv_rows(response)
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="eventscope-account-changes-'
    )
    assert rows[0] == ["id", "at", "actor", "action", "account", "detail"]
    assert [int(r[0]) for r in rows[1:]] == [c.id for c in accounts.changes(limit=1000)]
    actors = {row[2] for row in rows[1:]}
    assert "'=cmd|' /C calc'!A0" in actors  # not run as a formula by a spreadsheet
    assert "=cmd|' /C calc'!A0" not in actors
    assert 'href="/accounts/changes.csv"' in client.get("/accounts/").text


def test_the_changes_download_pages_through_many_changes(client, log_in, accounts, ada):
    import webapp.web.views.accounts as view

    for _ in range(7):
        accounts.end_sessions("ada", actor="root")
    log_in("admin")
    original, view.EXPORT_PAGE = view.EXPORT_PAGE, 3
    try:
        rows = client.get("/accounts/changes.csv").get_data(as_text=True).splitlines()[1:]
    finally:
        view.EXPORT_PAGE = original

    assert len(rows) == len(accounts.changes(limit=1000)) > 3 * 3


# --- letting people in from the page ---


def secret_on(page: str) -> str:
    """The credential a page shows once."""
    match = re.search(r'value="([^"]+)" readonly data-testid="account-secret-value"', page)
    assert match, "no credential on the page"
    return match.group(1)


def test_an_admin_adds_a_person_who_logs_in_once_with_the_link(app, client, log_in, csrf, accounts):
    log_in("admin")

    response = client.post("/accounts/", data=form(csrf, name="newcomer", role="support"))

    assert response.status_code == 200
    link = secret_on(response.text)
    assert link.startswith("http://localhost/login/link/")
    assert "only time it is shown" in response.text
    newcomer = app.test_client()
    assert newcomer.get(link.removeprefix("http://localhost")).status_code == 302
    assert newcomer.get("/subjects/").status_code == 200
    assert app.test_client().get(link.removeprefix("http://localhost")).status_code == 403
    assert change_actions(accounts, "newcomer") == ["created", "login-link-created"]
    assert accounts.changes(account="newcomer")[0].actor == "admin"
    assert link.rsplit("/", 1)[1] not in str(accounts.changes(limit=1000))


def test_adding_an_existing_or_badly_named_account_changes_nothing(
    client, log_in, csrf, accounts, ada
):
    log_in("admin")
    changes = len(accounts.changes(limit=1000))

    taken = client.post("/accounts/", data=form(csrf, name="ada", role="admin"))
    blank = client.post("/accounts/", data=form(csrf, name="  ", role="viewer"))
    no_role = client.post("/accounts/", data=form(csrf, name="bob", role="root"))

    assert taken.status_code == blank.status_code == no_role.status_code == 400
    assert "already exists" in taken.text and accounts.get("ada").role == "support"
    assert "account name must be" in blank.text
    assert "Unknown role" in no_role.text and accounts.get("bob") is None
    assert len(accounts.changes(limit=1000)) == changes


def test_a_new_login_link_for_an_existing_account(app, client, log_in, csrf, accounts, ada):
    log_in("admin")

    response = client.post("/accounts/ada/login-link", data=form(csrf))

    link = secret_on(response.text)
    browser = app.test_client()
    assert browser.get(link.removeprefix("http://localhost")).status_code == 302
    assert browser.get("/subjects/").status_code == 200


def test_a_new_api_token_is_shown_once_and_works(client, log_in, csrf, accounts, ada):
    log_in("admin")

    lasting = client.post("/accounts/ada/tokens", data=form(csrf))
    expiring = client.post("/accounts/ada/tokens", data=form(csrf, expires_in_days="30"))

    token = secret_on(lasting.text)
    assert api_status(client, token) == 200
    assert "works until revoked" in lasting.text
    newest = accounts.tokens("ada")[-1]
    assert (newest.expires_at - newest.created_at).days == 30
    assert "refused after" in expiring.text
    assert token not in client.get("/accounts/ada").text


@pytest.mark.parametrize("days", ["0", "3651", "soon", "-5"])
def test_a_bad_token_lifetime_is_refused_and_creates_nothing(
    client, log_in, csrf, accounts, ada, days
):
    log_in("admin")

    response = client.post("/accounts/ada/tokens", data=form(csrf, expires_in_days=days))

    assert response.status_code == 400
    assert "days" in response.text
    assert len(accounts.tokens("ada")) == 2


def test_a_disabled_account_gets_neither_link_nor_token(client, log_in, csrf, accounts, ada):
    accounts.disable("ada", actor="root")
    log_in("admin")

    link = client.post("/accounts/ada/login-link", data=form(csrf))
    token = client.post("/accounts/ada/tokens", data=form(csrf))

    assert link.status_code == token.status_code == 400
    assert "enable it first" in link.text and "enable it first" in token.text
    assert len(accounts.tokens("ada")) == 2
