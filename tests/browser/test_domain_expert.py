"""A domain expert's journey: find an account, open its timeline, step through its history
and see the state and the diff change at each version; see where a snapshot was taken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def screenshot():
    """Viewport PNGs under test-artifacts/, keeping the caret as it is: Playwright's default
    (caret="hide") injects a <style> element that the CSP rightly blocks and reports."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False, caret="initial")
        return path

    return take


def longest_account(live_server) -> tuple[str, int]:
    """The seeded account with the most events (the seed has a few of 300+)."""
    streams = live_server.runtime.store.list_streams("account-", limit=1000)
    info = max(streams, key=lambda s: s.version)
    return info.stream_id, info.version


def test_a_domain_expert_steps_through_an_accounts_history(
    page, live_server, login_as, screenshot, csp_violations, htmx_settled
):
    stream_id, length = longest_account(live_server)
    assert length > 100, "the seed should hold an account long enough to be snapshotted"
    login_as(page, "viewer")

    # find the account in the streams browser (htmx live search)
    page.get_by_role("link", name="Streams", exact=True).click()
    expect(page.get_by_role("heading", name="Streams")).to_be_visible()
    htmx_settled(page)
    page.get_by_test_id("stream-search").fill(stream_id)
    results = page.get_by_test_id("streams-table")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text(stream_id)
    screenshot(page, "domain-expert-1-search")

    # open its timeline
    results.get_by_role("link", name=stream_id).click()
    expect(page.get_by_test_id("stream-id")).to_have_text(stream_id)
    expect(page.get_by_test_id("timeline")).to_contain_text("BankAccountOpened")

    # select version 1, then step forward: the state and the diff follow
    page.locator("#v1").get_by_test_id("select-version").click()
    panel = page.get_by_test_id("state-panel")
    expect(page.get_by_test_id("state-version")).to_have_text("1")
    expect(panel.get_by_test_id("diff")).to_contain_text("status")
    expect(page).to_have_url(re.compile(r"version=1"))
    screenshot(page, "domain-expert-2-version-1")

    seen_balances = []
    for version in (2, 3, 4):
        panel.get_by_test_id("step-next").click()
        expect(page.get_by_test_id("state-version")).to_have_text(str(version))
        diff = panel.get_by_test_id("diff")
        expect(diff).to_contain_text("balance")
        before = diff.locator(".diff__before").first.inner_text()
        after = diff.locator(".diff__after").first.inner_text()
        assert before != after
        if seen_balances:
            assert before == seen_balances[-1], "each diff starts where the last one ended"
        seen_balances.append(after)
        state_balance = panel.get_by_test_id("state").locator("tr", has_text="balance")
        expect(state_balance).to_contain_text(after)
        expect(state_balance).to_have_class(re.compile("is-changed"))
    screenshot(page, "domain-expert-3-version-4")
    # the event column (its line, and its payload once opened) is whole beside the state panel
    # (no other page's table rules)
    payload = page.get_by_test_id("timeline").locator("th", has_text="Event").bounding_box()
    side = panel.bounding_box()
    assert payload is not None and side is not None
    assert payload["width"] >= 150
    assert payload["x"] + payload["width"] <= side["x"]

    # jump past the first snapshot: a marker on the timeline, a load from the snapshot
    page.get_by_test_id("jump-version").fill("102")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_test_id("state-version")).to_have_text("102")
    marker = page.get_by_test_id("snapshot-marker").first
    expect(marker).to_contain_text("snapshot at version 100 (snapshot version 1, current)")
    expect(page.get_by_test_id("load-report")).to_contain_text(
        "loaded from snapshot at 100, replayed 2 events (101–102)"
    )
    marker.scroll_into_view_if_needed()
    screenshot(page, "domain-expert-4-snapshot-marker")
    assert csp_violations == []


def test_new_events_appear_live_on_the_last_page_of_a_timeline(
    page, live_server, login_as, screenshot
):
    router = live_server.runtime.router
    router.dispatch_json(
        "OpenAccount",
        {"account_number": "JOURNEY-7", "owner_id": "u-journey", "initial_balance": 100},
        metadata={"actor": "journey"},
    )
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/account-JOURNEY-7")
    expect(page.get_by_test_id("timeline")).to_contain_text("BankAccountOpened")

    router.dispatch_json(
        "DepositMoney",
        {"account_number": "JOURNEY-7", "amount": 2500},
        metadata={"actor": "teller"},
    )

    expect(page.locator("#v2")).to_contain_text("MoneyDeposited", timeout=10_000)
    expect(page.locator("#v2")).to_contain_text("2500")
    expect(page.get_by_test_id("timeline-range")).to_contain_text("versions 1–2 of 2")
    page.wait_for_timeout(2500)  # a further poll finds nothing new and adds nothing
    expect(page.locator("#v2")).to_have_count(1)
    expect(page.locator("#stream-event-count")).to_have_text("2 events")
    page.get_by_test_id("latest-state").click()
    expect(page.get_by_test_id("state-version")).to_have_text("2")
    expect(page.get_by_test_id("state")).to_contain_text("€26.00")
    screenshot(page, "domain-expert-5-live-event")


def test_the_streams_browser_filters_by_aggregate_type_and_pages(page, live_server, login_as):
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/")

    page.get_by_test_id("stream-type").select_option("User")

    links = page.get_by_test_id("streams-table").locator("tbody a")
    expect(links.first).to_have_text(re.compile(r"^user-"))
    expect(page).to_have_url(re.compile(r"type=User"))
    assert all(text.startswith("user-") for text in links.all_inner_texts())
    page.get_by_role("link", name="Next ›").click()
    expect(page.get_by_role("link", name="‹ Previous")).to_be_visible()
    assert all(text.startswith("user-") for text in links.all_inner_texts())


def test_an_account_whose_number_holds_dot_segments_opens_its_own_timeline(
    page, live_server, login_as, htmx_settled
):
    """A browser folds `/streams/account-team/../7` into `/streams/7`; the link must not."""
    number = "team/../10001"
    live_server.runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": number, "owner_id": "u001", "initial_balance": 42},
        metadata={"actor": "journey"},
    )
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/")
    htmx_settled(page)
    page.get_by_test_id("stream-search").fill(f"account-{number}")
    results = page.get_by_test_id("streams-table")
    expect(results.locator("tbody tr")).to_have_count(1)

    results.get_by_role("link", name=f"account-{number}").click()

    expect(page.get_by_test_id("stream-id")).to_have_text(f"account-{number}")
    expect(page).to_have_url(f"{live_server.url}/streams/account-team%2F..%2F10001")
    expect(page.get_by_test_id("timeline")).to_contain_text("42")
