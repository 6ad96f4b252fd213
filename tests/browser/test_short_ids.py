"""An auditor pastes the 8-character correlation id a page shows into the timeline's filter
and finds the whole transfer; the whole id is on the page to copy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_short_correlation_id_finds_its_events_and_the_whole_id_is_there_to_copy(
    page, live_server, login_as, screenshot, csp_violations, accessibility_violations
):
    live_server.complete_transfer(
        "short-t1",
        ("SHORT-1", "SHORT-2"),
        owner="u-short",
        opening_balance=5_000,
        amount=1200,
        actor="teller:short-ids",
    )
    [requested] = live_server.runtime.store.read_all(
        stream_prefix="transfer-short-t1", types=["TransferRequested"]
    )
    correlation = requested.metadata["correlation_id"]
    login_as(page, "viewer")

    # the row of the transfer, opened, shows its correlation id short, the whole id one click away
    page.goto(f"{live_server.url}/timeline/?stream=transfer-short-t1&type=TransferRequested")
    row = page.get_by_test_id("timeline-row")
    expect(row).to_have_count(1)
    row.get_by_test_id("row-expander").click()
    shown = row.locator(".short-id a").text_content()
    assert shown == correlation[:8]
    whole = row.get_by_test_id("correlation-link").get_by_test_id("whole-id")
    whole.locator("summary").click()
    expect(whole.get_by_role("textbox", name="whole correlation id")).to_have_value(correlation)
    screenshot(page, "short-ids-1-whole-id")
    assert accessibility_violations(page) == []

    # a stream's page shows the causation id the same way
    page.goto(f"{live_server.url}/streams/transfer-short-t1")
    page.locator("#v1").get_by_test_id("row-expander").click()
    causation = page.locator("[data-testid=whole-id]:has(input[aria-label='whole causation id'])")
    causation.first.locator("summary").click()
    expect(causation.first.locator("input")).to_have_value(requested.metadata["causation_id"])
    screenshot(page, "short-ids-1b-stream-causation")
    assert accessibility_violations(page) == []

    # pasted into the correlation filter, the short id finds the whole transfer
    page.goto(f"{live_server.url}/timeline/")
    page.get_by_test_id("filter-correlation").fill(shown)
    page.get_by_test_id("filter-apply").click()
    rows = page.get_by_test_id("timeline-row")
    expect(rows).to_have_count(6)
    types = page.locator('[data-testid="timeline-row"] .badge--type').all_inner_texts()
    assert types[-1] == "TransferRequested" and types[0] == "TransferCompleted"
    screenshot(page, "short-ids-2-found-by-short-id")

    # fewer than 8 characters is refused with a message, in place of the results
    page.get_by_test_id("filter-correlation").fill(shown[:6])
    page.get_by_test_id("filter-apply").click()
    expect(page.locator("#timeline-results")).to_contain_text("at least 8 characters")
    screenshot(page, "short-ids-3-too-short")
    assert csp_violations == []
