"""An admin shuts a leaver out: revokes an API token, disables the account, and sees it recorded."""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def api_status(base_url: str, token: str) -> int:
    request = urllib.request.Request(
        f"{base_url}/api/streams", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_admin_revokes_a_token_and_disables_a_leaver(
    browser, page, live_server, login_as, screenshot, csp_violations
):
    leaver = f"leaver-{secrets.token_hex(3)}"
    accounts = live_server.accounts
    accounts.ensure(leaver, "support")
    script_token, laptop_token = accounts.create_token(leaver), accounts.create_token(leaver)
    leaver_context = browser.new_context()
    leaver_page = leaver_context.new_page()
    leaver_page.goto(f"{live_server.url}/login/link/{accounts.create_login_token(leaver)}")
    leaver_page.goto(f"{live_server.url}/subjects/")
    expect(leaver_page.locator("h1")).to_have_text("Data subjects")

    login_as(page, "admin")
    page.get_by_role("link", name="Staff accounts").click()
    row = page.locator(f'[data-testid="account-row"][data-account="{leaver}"]')
    expect(row).to_contain_text("support")
    expect(row).to_have_attribute("data-state", "active")
    screenshot(page, "admin-1-accounts")

    row.get_by_role("link", name=leaver).click()
    tokens = page.get_by_test_id("token-row")
    expect(tokens).to_have_count(2)
    expect(tokens.first).to_contain_text(script_token[:8])
    tokens.first.get_by_test_id("revoke-token").click()
    expect(page.locator(".flash--ok")).to_contain_text("is revoked")
    expect(page.get_by_test_id("token-row").first).to_have_attribute("data-state", "revoked")
    assert api_status(live_server.url, script_token) == 401
    assert api_status(live_server.url, laptop_token) == 200

    page.get_by_test_id("state-reason").fill("left the team <today>")
    page.get_by_test_id("disable-submit").click()
    expect(page.locator(".flash--ok")).to_contain_text(f"{leaver} is disabled")
    expect(page.get_by_test_id("account-detail")).to_have_attribute("data-state", "disabled")
    changes = page.get_by_test_id("account-change")
    expect(changes.first).to_contain_text("disabled")
    expect(changes.first).to_contain_text("left the team <today>")
    expect(changes.nth(1)).to_contain_text("token-revoked")
    screenshot(page, "admin-2-leaver-disabled")

    assert api_status(live_server.url, laptop_token) == 401
    leaver_page.goto(f"{live_server.url}/subjects/")
    expect(leaver_page).to_have_url(f"{live_server.url}/login?next=/subjects/")
    leaver_context.close()
    assert csp_violations == []


def test_an_admin_lets_a_newcomer_in_with_a_one_time_link(
    browser, page, live_server, login_as, screenshot, csp_violations
):
    newcomer = f"newcomer-{secrets.token_hex(3)}"
    login_as(page, "admin")
    page.get_by_role("link", name="Staff accounts").click()

    page.get_by_test_id("account-add-name").fill(newcomer)
    page.get_by_test_id("account-add-role").select_option("support")
    page.get_by_test_id("account-add-submit").click()
    secret = page.get_by_test_id("account-secret-value")
    expect(secret).to_have_value(re.compile(rf"^{re.escape(live_server.url)}/login/link/"))
    screenshot(page, "admin-3-login-link-for-a-newcomer")
    link = secret.input_value()

    their_context = browser.new_context()
    theirs = their_context.new_page()
    theirs.goto(link)
    expect(theirs.locator(".whoami__name")).to_have_text(newcomer)
    theirs.goto(f"{live_server.url}/subjects/")
    expect(theirs.locator("h1")).to_have_text("Data subjects")
    their_context.close()

    page.get_by_role("link", name="Done").click()
    expect(page.get_by_test_id("account-change").first).to_contain_text("login-link-created")
    assert live_server.accounts.summary(newcomer).last_sign_in_at is not None
    assert csp_violations == []


def test_an_admin_sees_who_signed_in_and_who_was_turned_away(
    browser, page, live_server, login_as, screenshot, csp_violations
):
    person = f"guessed-{secrets.token_hex(3)}"
    accounts = live_server.accounts
    accounts.ensure(person, "viewer")
    accounts.set_password(person, "the right passphrase")
    their_context = browser.new_context()
    theirs = their_context.new_page()
    theirs.goto(f"{live_server.url}/login")
    theirs.get_by_label("Account").fill(person)
    theirs.get_by_label("Password").fill("a wrong guess")
    theirs.get_by_role("button", name="Log in").click()
    expect(theirs.locator(".flash--error, [role=alert]").first).to_contain_text("wrong password")
    theirs.get_by_label("Password").fill("the right passphrase")
    theirs.get_by_role("button", name="Log in").click()
    expect(theirs.locator(".whoami__name")).to_have_text(person)
    their_context.close()

    login_as(page, "admin")
    page.get_by_role("link", name="Sign-ins").click()
    expect(page.locator("h1")).to_have_text("Sign-ins")
    page.get_by_test_id("sign-in-account").fill(person)
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("sign-in-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-outcome", "signed-in")
    expect(rows.nth(1)).to_have_attribute("data-outcome", "wrong-password")
    expect(rows.first).to_contain_text("127.0.0.1")
    expect(page).to_have_url(re.compile(rf"/sign-ins/\?account={person}"))
    screenshot(page, "admin-4-sign-ins")

    page.get_by_test_id("sign-in-outcome").select_option("refused")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("sign-in-row")).to_have_count(1)
    page.goto(f"{live_server.url}/accounts/{person}")
    expect(page.get_by_test_id("account-sign-in")).to_have_count(2)
    assert csp_violations == []
