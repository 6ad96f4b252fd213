"""Journeys of a review session: an admin tries a command in the console, a reviewer pins notes."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def checked_screenshot(page, csp_violations: list[str], name: str) -> None:
    """Assert the page so far broke no CSP rule, then save test-artifacts/<name>.png.

    `caret="initial"`: Playwright's default caret hiding injects a <style> element,
    which this CSP refuses (and reports on the next page as a violation).
    """
    assert csp_violations == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")


def test_an_admin_dry_runs_a_deposit_then_dispatches_it_and_follows_the_link_to_the_timeline(
    page, live_server, login_as, csp_violations
):
    runtime = live_server.runtime
    login_as(page, "admin")
    runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": "CONSOLE-1", "owner_id": "u-console", "initial_balance": 1000},
        metadata={"actor": "journey"},
    )

    page.get_by_role("link", name="Console").click()
    page.get_by_role("link", name="WithdrawMoney").click()
    page.get_by_label("account_number").fill("CONSOLE-1")
    page.get_by_label("amount").fill("999999")
    before = runtime.store.count_events()
    page.get_by_role("button", name="Dispatch").click()
    result = page.locator("#console-result")
    expect(result.get_by_role("alert")).to_contain_text("Refused by the domain")
    expect(result.get_by_role("alert")).to_contain_text("Nothing was stored")
    assert runtime.store.count_events() == before
    checked_screenshot(page, csp_violations, "console-refused")

    page.get_by_role("link", name="DepositMoney").click()
    expect(page.get_by_role("heading", name="DepositMoney")).to_be_visible()
    page.get_by_label("account_number").fill("CONSOLE-1")
    page.get_by_label("amount").fill("250")
    page.get_by_role("button", name="Dry run").click()
    expect(result).to_contain_text("Dry run")
    expect(result).to_contain_text("MoneyDeposited")
    expect(result).to_contain_text("nothing stored")
    assert runtime.store.count_events() == before
    checked_screenshot(page, csp_violations, "console-dry-run")

    page.get_by_role("button", name="Dispatch").click()
    expect(result).to_contain_text("Confirm dispatch")
    assert runtime.store.count_events() == before  # nothing stored before the confirmation
    result.get_by_role("button", name="Store 1 event in account-CONSOLE-1").click()
    expect(result).to_contain_text("Dispatched")
    expect(result).to_contain_text("account-CONSOLE-1")
    stored = runtime.store.read_stream("account-CONSOLE-1")
    assert [e.type for e in stored] == ["BankAccountOpened", "MoneyDeposited"]
    assert stored[-1].data["amount"] == 250
    checked_screenshot(page, csp_violations, "console-dispatched")

    link = result.get_by_role("link", name="Open the stream timeline")
    if importlib.util.find_spec("webapp.web.views.streams") is not None:
        link.click()
        expect(page).to_have_url(re.compile(r"/streams/account-CONSOLE-1"), timeout=10_000)
        expect(page.locator("body")).to_contain_text("MoneyDeposited")
        checked_screenshot(page, csp_violations, "console-followed-to-timeline")
    else:
        expect(link).to_have_count(0)
    assert csp_violations == []


def test_a_reviewer_pins_a_note_to_an_event_type_and_sees_it_inline_in_the_catalog(
    page, live_server, login_as, csp_violations
):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login_as(page, "viewer")

    page.get_by_role("link", name="Catalog").click()
    expect(page.get_by_role("heading", name="Event catalog")).to_be_visible()
    expect(page.locator("svg.domain-map")).to_be_visible()
    card = page.locator("#type-MoneyDeposited")
    notes = card.locator(".pinned-notes")
    expect(notes).to_contain_text("No notes on this event type yet")
    body = "Amounts are in cents <b>always</b>?"
    notes.get_by_text("Add a note").click()
    notes.get_by_placeholder("Add a note on this event type").fill(body)
    notes.get_by_placeholder("review session").fill("Q4 review")
    notes.get_by_role("button", name="Pin note").click()
    expect(notes.locator(".note")).to_contain_text(body)
    expect(notes.locator(".note")).to_contain_text("Q4 review")
    assert card.locator(".note b").count() == 0
    card.scroll_into_view_if_needed()
    checked_screenshot(page, csp_violations, "catalog-note-pinned")

    page.reload()
    expect(page.locator("#type-MoneyDeposited .note")).to_contain_text(body)
    expect(page.locator("#type-MoneyWithdrawn .note")).to_have_count(0)
    page.goto(f"{live_server.url}/notes/?session=Q4+review")
    expect(page.locator("#notes-list")).to_contain_text(body)
    checked_screenshot(page, csp_violations, "notes-session")
    page.goto(f"{live_server.url}/catalog/")
    checked_screenshot(page, csp_violations, "catalog-viewer")
    assert dialogs == []
    assert csp_violations == []
