"""An auditor asks what the dashboard said at a past moment: they pick it in the selector at
the top, see the banner on the overview, the streams list, a read-model page and an account's
page with the values of then, and "Back to now" brings back the live values, no banner."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _then(runtime, position: int) -> dict:
    """The log read up to `position`, independently of the pages: counts and versions."""
    events = [e for e in runtime.store.read_all(0, limit=1_000_000) if e.position <= position]
    versions: dict[str, int] = {}
    for event in events:
        versions[event.stream_id] = event.stream_version
    return {"events": len(events), "streams": len(versions), "versions": versions}


def test_a_past_moment_shown_across_the_dashboard_and_back_to_now(
    page, live_server, login_as, screenshot, csp_violations, htmx_settled, accessibility_violations
):
    runtime = live_server.runtime
    head = runtime.store.head_position()
    # a moment after the first accounts opened but well before the head
    opened = [
        e.position for e in runtime.store.read_all(0, limit=5000) if e.type == "BankAccountOpened"
    ]
    position = opened[min(3, len(opened) - 1)] + 5
    assert position < head
    then = _then(runtime, position)
    login_as(page, "viewer")

    # the selector, at the top of every page: a position
    expect(page.get_by_test_id("moment-banner")).to_have_count(0)
    page.get_by_test_id("moment-position").fill(str(position))
    page.get_by_test_id("moment-position-go").click()
    page.wait_for_url(re.compile(rf"/\?position={position}$"))
    htmx_settled(page)

    banner = page.get_by_test_id("moment-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "status")
    expect(banner).to_contain_text(f"As of position {position:,} (")
    expect(banner).to_contain_text("not live")
    expect(page.get_by_test_id("event-count")).to_have_text(f"{then['events']:,}")
    expect(page.get_by_test_id("stream-count")).to_have_text(f"{then['streams']:,}")
    expect(page.locator("#overview-live[hx-trigger]")).to_have_count(0)  # no live refresh
    screenshot(page, "as-of-overview-banner")
    assert accessibility_violations(page) == []

    # the streams list keeps the moment: only the streams of then, with their versions then
    page.locator("nav.sidebar").get_by_role("link", name="Streams", exact=True).click()
    page.wait_for_url(re.compile(rf"/streams/\?position={position}$"))
    expect(page.get_by_test_id("moment-banner")).to_contain_text(f"As of position {position:,}")
    rows = page.get_by_test_id("stream-row")
    expect(rows.first).to_be_visible()
    shown = rows.evaluate_all("els => els.map(e => [e.dataset.stream, Number(e.dataset.version)])")
    expected = sorted(then["versions"].items())[: len(shown)]
    assert [tuple(s) for s in shown] == expected
    screenshot(page, "as-of-streams-banner")

    # a read-model page: the account summaries as they stood then
    page.locator("nav.sidebar").get_by_role("link", name="Bank accounts").click()
    page.wait_for_url(re.compile(rf"/projections/accounts\?position={position}$"))
    expect(page.get_by_test_id("moment-banner")).to_contain_text(f"As of position {position:,}")
    accounts = runtime.read_models.page("accounts", limit=50, position=position)
    account_rows = page.get_by_test_id("account-row")
    expect(account_rows).to_have_count(len(accounts))
    assert account_rows.evaluate_all(
        "els => els.map(e => [e.dataset.account, Number(e.dataset.balance)])"
    ) == [[a["account_number"], a["balance"]] for a in accounts]
    assert accessibility_violations(page) == []

    # an account's page: the state at its last version at or before the moment
    first = accounts[0]["account_number"]
    page.locator(f'[data-account="{first}"] a[href^="/streams/account-"]').first.click()
    page.wait_for_url(re.compile(rf"/streams/account-{re.escape(first)}\?position={position}$"))
    expect(page.get_by_test_id("moment-banner")).to_contain_text(f"As of position {position:,}")
    expect(page.get_by_test_id("state-version")).to_have_text(
        str(then["versions"][f"account-{first}"])
    )
    screenshot(page, "as-of-account-banner")

    # back to now: live values, no banner, and links no longer carry the moment
    page.get_by_test_id("moment-now").click()
    page.wait_for_url(re.compile(rf"/streams/account-{re.escape(first)}$"))
    expect(page.get_by_test_id("moment-banner")).to_have_count(0)
    now_version = runtime.store.stream_info(f"account-{first}").version
    expect(page.locator("#stream-event-count")).to_contain_text(f"{now_version:,} event")
    page.locator("nav.sidebar").get_by_role("link", name="Overview").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("moment-banner")).to_have_count(0)
    expect(page.get_by_test_id("event-count")).to_have_text(f"{runtime.store.count_events():,}")
    expect(page.locator("#overview-live[hx-trigger]")).to_have_count(1)
    assert csp_violations == []


def test_a_date_on_a_clock_and_a_page_that_shows_only_now(
    page, live_server, login_as, htmx_settled, screenshot
):
    runtime = live_server.runtime
    event = runtime.store.read_all(0, limit=40)[-1]
    # to the microsecond: the seed is recorded within a second or two, and a date at or
    # after the newest event would be now
    when = event.recorded_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert event.position < runtime.store.head_position()
    login_as(page, "viewer")

    page.get_by_test_id("moment-date").fill(when)
    page.get_by_test_id("moment-clock").select_option("recorded")
    page.get_by_test_id("moment-date-go").click()
    page.wait_for_url(re.compile(r"/\?as_of="))
    htmx_settled(page)
    banner = page.get_by_test_id("moment-banner")
    expect(banner).to_contain_text("the last event by")
    expect(banner).to_contain_text("recorded clock")

    page.locator("nav.sidebar").get_by_role("link", name="Console").click()
    page.wait_for_url(re.compile(r"/console/\?as_of="))
    expect(page.get_by_test_id("moment-banner")).to_contain_text("This page shows only the present")
    screenshot(page, "as-of-console-banner")
