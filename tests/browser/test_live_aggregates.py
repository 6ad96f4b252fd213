"""An engineer watches the aggregate registry: an aggregate given a short lifespan expires,
the reaper evicts it, and the page (refreshing by itself) shows it gone."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def screenshot():
    """Viewport PNGs under test-artifacts/ (caret left alone: hiding it injects inline CSS)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), caret="initial")
        return path

    return take


def test_an_engineer_watches_a_live_aggregate_expire(
    page, live_server, login_as, screenshot, csp_violations
):
    runtime = live_server.runtime
    runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": "REAP-1", "owner_id": "u-reap", "initial_balance": 10},
        metadata={"actor": "journey"},
    )
    login_as(page, "admin")
    page.get_by_role("link", name="Live aggregates").click()

    table = page.get_by_test_id("live-aggregates")
    row = table.locator("tr", has_text="account-REAP-1")
    expect(row).to_contain_text("kept (no deadline)")
    expect(page.get_by_test_id("chart-size")).to_be_visible(timeout=10_000)
    evictions_before = int(page.get_by_test_id("evictions").inner_text().replace(",", ""))

    entry = runtime.registry.peek("account-REAP-1")
    runtime.registry.touched(entry, timedelta(seconds=4))  # as a short lifespan would decide

    expect(row).to_contain_text(re.compile(r"in [0-9] s"), timeout=5_000)
    screenshot(page, "engineer-aggregate-about-to-expire")
    expect(row).to_have_count(0, timeout=12_000)
    expect(page.get_by_test_id("evictions")).not_to_have_text(str(evictions_before))
    assert "account-REAP-1" not in runtime.registry
    screenshot(page, "engineer-aggregate-expired")
    assert csp_violations == []
