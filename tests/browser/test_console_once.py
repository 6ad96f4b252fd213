"""The console in a review session: an admin's deposit is stored once however often its form
is submitted; a viewer dry-runs and cannot dispatch."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def open_account(runtime, number: str) -> None:
    runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": number, "owner_id": "u-console", "initial_balance": 1000},
        metadata={"actor": "journey"},
    )


def deposits(runtime, number: str) -> list:
    return [e for e in runtime.store.read_stream(f"account-{number}") if e.type == "MoneyDeposited"]


def test_an_admin_confirms_a_deposit_and_submitting_it_again_stores_nothing_more(
    page, live_server, login_as, screenshot, csp_violations, accessibility_violations
):
    runtime = live_server.runtime
    open_account(runtime, "ONCE-1")
    login_as(page, "admin")

    page.get_by_role("link", name="Console", exact=True).click()
    page.get_by_role("link", name="DepositMoney").click()
    page.get_by_label("account_number").fill("ONCE-1")
    page.get_by_label("amount").fill("250")
    page.get_by_role("button", name="Dispatch…").click()
    result = page.locator("#console-result")
    confirm = result.locator("form.console__confirm")
    expect(result).to_contain_text("Confirm dispatch")
    screenshot(page, "console-confirm-dispatch")
    assert accessibility_violations(page) == []
    assert deposits(runtime, "ONCE-1") == []  # asking stores nothing
    submitted = {
        field.get_attribute("name"): field.get_attribute("value")
        for field in confirm.locator("input[type=hidden]").all()
    }

    # a person double-clicks the confirmation
    confirm.get_by_role("button", name="Store 1 event in account-ONCE-1").dblclick()
    expect(result).to_contain_text("Dispatched")
    # and the browser sends the same form again (a reload that re-posts it)
    again = page.request.post(
        f"{live_server.url}/console/run", form={**submitted, "action": "dispatch"}
    )

    assert again.status == 200
    assert "Already submitted" in again.text() and "nothing new was stored" in again.text()
    stored = deposits(runtime, "ONCE-1")
    assert [e.data["amount"] for e in stored] == [250]
    assert stored[0].metadata["command_id"] == submitted["form_id"]
    # the form on the page has a fresh id: the next deposit is a new command
    assert page.locator("#console-form-id").get_attribute("value") != submitted["form_id"]
    screenshot(page, "console-dispatched-once")
    assert csp_violations == []


def test_reloading_the_page_a_dispatch_answered_stores_nothing_more(
    browser, live_server, screenshot
):
    """Without script the forms post as plain HTML; reloading the answer re-posts the form."""
    runtime = live_server.runtime
    open_account(runtime, "ONCE-3")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.login_url("admin"))
        page.goto(f"{live_server.url}/console/?command=DepositMoney")
        page.get_by_label("account_number").fill("ONCE-3")
        page.get_by_label("amount").fill("40")
        page.get_by_role("button", name="Dispatch…").click()
        page.get_by_role("button", name="Store 1 event in account-ONCE-3").click()
        expect(page.locator("#console-result")).to_contain_text("Dispatched")

        page.reload()  # the browser sends the same form again

        expect(page.get_by_test_id("console-already-submitted")).to_contain_text(
            "nothing new was stored"
        )
        screenshot(page, "console-reloaded-already-submitted")
        assert [e.data["amount"] for e in deposits(runtime, "ONCE-3")] == [40]
    finally:
        context.close()


def test_a_viewer_dry_runs_a_deposit_and_cannot_dispatch_it(
    page, live_server, login_as, screenshot, csp_violations, accessibility_violations
):
    runtime = live_server.runtime
    open_account(runtime, "ONCE-2")
    login_as(page, "viewer")

    page.get_by_role("link", name="Console", exact=True).click()
    page.get_by_role("link", name="DepositMoney").click()
    page.get_by_label("account_number").fill("ONCE-2")
    page.get_by_label("amount").fill("75")
    expect(page.get_by_role("button", name="Dispatch…")).to_have_count(0)
    expect(page.get_by_test_id("console-dry-run-only")).to_contain_text("Dispatching is for admins")
    page.get_by_role("button", name="Dry run").click()
    result = page.locator("#console-result")
    expect(result).to_contain_text("nothing stored")
    expect(result).to_contain_text("MoneyDeposited")
    expect(result).to_contain_text("€10.75")  # the balance the deposit would make
    screenshot(page, "console-viewer-dry-run")
    assert accessibility_violations(page) == []

    form = {
        field.get_attribute("name"): field.get_attribute("value")
        for field in page.locator("form.console__form input[type=hidden]").all()
    }
    refused = page.request.post(
        f"{live_server.url}/console/run",
        form={**form, "action": "dispatch", "field.account_number": "ONCE-2", "field.amount": "75"},
    )
    assert refused.status == 403
    assert deposits(runtime, "ONCE-2") == []
    assert csp_violations == []
