"""Reading an account as a person: its balance as money in the state panel, the raw cents a
click away, and its balance drawn at every version beside the timeline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def open_account(live_server, number: str) -> str:
    """account-<number>: opened with €10,208.79, then three deposits and a withdrawal."""
    router = live_server.runtime.router
    metadata = {"actor": "teller:readable"}
    router.dispatch_json(
        "OpenAccount",
        {"account_number": number, "owner_id": "u-readable", "initial_balance": 1020879},
        metadata=metadata,
    )
    for command, amount in (
        ("DepositMoney", 250000),
        ("DepositMoney", 12345),
        ("WithdrawMoney", 600000),
        ("DepositMoney", 99),
    ):
        router.dispatch_json(
            command, {"account_number": number, "amount": amount}, metadata=metadata
        )
    return f"account-{number}"


def chart_points(page) -> int:
    line = page.get_by_test_id("state-chart-line").get_attribute("points") or ""
    return len(line.split())


def test_an_accounts_balance_reads_as_money_and_is_charted_at_every_version(
    page, live_server, login_as, screenshot, csp_violations, accessibility_violations
):
    stream_id = open_account(live_server, "READ-1")
    login_as(page, "viewer")

    page.goto(f"{live_server.url}/streams/{stream_id}?version=5")

    balance = page.get_by_test_id("state").locator("tr", has_text="balance").locator("td")
    expect(balance).to_have_text("€6,833.23")
    expect(balance.locator(".value--money")).to_have_attribute("title", "raw: 683323")
    status = page.get_by_test_id("state").locator("tr", has_text="status").locator("td")
    expect(status).to_have_text("open")  # a word, not quoted JSON
    raw = page.get_by_test_id("state-raw")
    expect(raw.locator("pre")).to_be_hidden()
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_contain_text('"balance": 683323')

    chart = page.get_by_test_id("state-chart")
    expect(chart).to_have_attribute("data-field", "balance")
    expect(chart).to_have_attribute("data-points", "5")
    assert chart_points(page) == 5
    expect(chart.locator("circle")).to_have_count(5)
    expect(chart.locator("figcaption")).to_contain_text("now €6,833.23")
    axis = [t.strip() for t in chart.locator("svg text").all_text_contents()]
    assert any(re.fullmatch(r"€[\d,]+", label) for label in axis), axis  # a y axis in money
    assert {"v1", "v5"} <= set(axis)
    label = chart.locator("svg").get_attribute("aria-label") or ""
    assert "lowest €6,832.24" in label and "highest €12,832.24" in label
    chart.scroll_into_view_if_needed()
    screenshot(page, "h1-balance-chart")
    assert accessibility_violations(page) == []
    assert csp_violations == []


def test_a_long_accounts_chart_draws_each_version_up_to_the_limit(page, live_server, login_as):
    streams = live_server.runtime.store.list_streams("account-", limit=1000)
    longest = max(streams, key=lambda s: s.version)
    login_as(page, "viewer")

    page.goto(f"{live_server.url}/streams/{longest.stream_id}")

    chart = page.get_by_test_id("state-chart")
    expect(chart).to_have_attribute("data-points", str(min(longest.version, 500)))
    assert chart_points(page) == min(longest.version, 500)
    if longest.version > 500:
        expect(page.get_by_test_id("state-chart-note")).to_contain_text("The latest 500")
