"""Time people can trust: a review session finds March 2024 by when things happened, reads
the chart on a real time axis, asks for an account as of a date, compares two versions,
and a viewer's diffs show masks that fit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from webapp.queries import occurred_time

pytestmark = pytest.mark.browser


def _happened(event) -> datetime:
    return occurred_time(event.metadata) or event.recorded_at


def _busy_account(runtime) -> tuple[str, list]:
    """A seeded account stream with at least four events, and its events."""
    for info in runtime.store.list_streams("account-", limit=200):
        if info.version >= 4:
            return info.stream_id, runtime.store.read_stream(info.stream_id)
    raise AssertionError("the seed has no account with four events")


def test_a_march_2024_filter_finds_what_happened_then_not_what_was_recorded(
    page, live_server, login_as, screenshot, csp_violations, htmx_settled
):
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/timeline/")
    htmx_settled(page)
    expect(page.get_by_test_id("filter-clock")).to_have_value("happened")

    page.get_by_test_id("filter-since").fill("2024-03-01T00:00:00")
    page.get_by_test_id("filter-until").fill("2024-04-01T00:00:00")
    page.get_by_test_id("filter-apply").click()
    htmx_settled(page)

    rows = page.get_by_test_id("timeline-row")
    expect(rows.first).to_be_visible()
    expect(page.get_by_test_id("filter-clock-note")).to_have_text("happened")
    for text in rows.locator('[data-testid="row-happened"] time').all_inner_texts()[:10]:
        assert text.startswith("2024-03"), text
    screenshot(page, "time-timeline-march-2024-happened")

    page.get_by_test_id("filter-clock").select_option("recorded")
    page.get_by_test_id("filter-apply").click()
    htmx_settled(page)

    expect(page.get_by_test_id("timeline-row")).to_have_count(0)
    expect(page.get_by_test_id("timeline-results")).to_contain_text("No events match")
    expect(page.get_by_test_id("filter-clock-note")).to_have_text("recorded")
    assert csp_violations == []


def test_the_chart_is_a_time_axis_with_gaps_a_break_and_bars_that_open_their_day(
    page, live_server, login_as, screenshot, csp_violations
):
    runtime = live_server.runtime
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).replace(hour=12, minute=0)
    runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": "AXIS-1", "owner_id": "u-axis", "initial_balance": 100},
        metadata={"actor": "journey", "occurred_at": three_days_ago.isoformat()},
    )
    runtime.router.dispatch_json(
        "DepositMoney", {"account_number": "AXIS-1", "amount": 5}, metadata={"actor": "journey"}
    )
    live_server.ensure_worker()
    login_as(page, "viewer")

    chart = page.get_by_test_id("events-per-day")
    expect(chart.get_by_test_id("chart-break").first).to_be_attached(timeout=15_000)
    expect(chart.get_by_test_id("chart-clock")).to_contain_text("when events happened")
    gap_days = chart.get_by_test_id("chart-gap").evaluate_all("els => els.map(e => e.dataset.day)")
    assert (three_days_ago + timedelta(days=1)).date().isoformat() in gap_days
    assert chart.get_by_test_id("chart-break-note").count() >= 1
    screenshot(page, "time-overview-chart")

    bars = chart.get_by_test_id("chart-bar")
    day = bars.first.get_attribute("data-day")
    assert day is not None and day.startswith("2024-")
    bars.first.click()
    page.wait_for_url("**/timeline/**")

    assert f"since={day}" in page.url and "clock=happened" in page.url
    expect(page.get_by_test_id("filter-clock")).to_have_value("happened")
    happened = page.get_by_test_id("timeline-row").locator('[data-testid="row-happened"] time')
    expect(happened.first).to_be_visible()
    assert {text[:10] for text in happened.all_inner_texts()} == {day}
    assert csp_violations == []


def test_an_account_as_of_a_date_and_two_versions_compared(
    page, live_server, login_as, screenshot, csp_violations
):
    stream_id, events = _busy_account(live_server.runtime)
    day = _happened(events[1]).date()
    expected = max(e.stream_version for e in events if _happened(e).date() <= day)
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/{stream_id}")

    page.get_by_test_id("as-of-date").fill(day.isoformat())
    expect(page.get_by_test_id("as-of-clock")).to_have_value("happened")
    page.get_by_test_id("as-of-go").click()

    panel = page.get_by_test_id("state-panel")
    expect(panel).to_have_attribute("data-version", str(expected))
    expect(page.get_by_test_id("as-of-note")).to_contain_text(f"As of {day.isoformat()}")
    as_of_state = page.get_by_test_id("state").inner_text()
    screenshot(page, "time-stream-as-of-date")
    page.goto(f"{live_server.url}/streams/{stream_id}?version={expected}")
    assert page.get_by_test_id("state").inner_text() == as_of_state

    page.get_by_test_id("compare-a").fill("1")
    page.get_by_test_id("compare-b").fill(str(len(events)))
    page.get_by_test_id("compare-go").click()

    diff = page.get_by_test_id("compare-diff")
    expect(
        page.get_by_role("heading", name=f"Version 1 against version {len(events)}")
    ).to_be_visible()
    expect(diff.locator('tr[data-field="balance"]')).to_be_visible()
    screenshot(page, "time-stream-compare")
    assert csp_violations == []


def test_a_viewer_sees_masks_in_the_diff_that_fit_their_panel(
    page, live_server, login_as, screenshot, csp_violations
):
    login_as(page, "viewer")
    user = live_server.runtime.store.list_streams("user-", limit=1)[0].stream_id
    page.goto(f"{live_server.url}/streams/{user}?version=1")

    diff = page.get_by_test_id("diff")
    masks = diff.get_by_test_id("placeholder-masked")
    expect(masks.first).to_have_text("••• masked")
    assert "\\u2022" not in diff.inner_text()
    panel = page.get_by_test_id("state-panel").bounding_box()
    for box in [masks.nth(i).bounding_box() for i in range(masks.count())]:
        assert box is not None and panel is not None
        assert box["x"] + box["width"] <= panel["x"] + panel["width"]
    screenshot(page, "time-viewer-diff-masks")
    assert csp_violations == []
