"""An engineer opens the health page: the last hour as charts, kept fresh by itself."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from webapp.projections.unit import record_progress

pytestmark = pytest.mark.browser


def _a_past_half_hour(runtime) -> None:
    """Progress as the worker would have recorded it over the last half hour (ten minutes
    of it without a worker), below what the live worker records now."""
    now = time.time()
    head = runtime.store.head_position()
    with runtime.store.engine.begin() as conn:
        for ago in range(30, 1, -1):
            if 12 <= ago < 22:
                continue
            at = (int(now // 60) - ago) * 60 + 20
            for name, share in (("account_summary", 1.0), ("user_directory", 0.8)):
                position = int(head * share * (30 - ago) / 30)
                record_progress(conn, name, "projection", position, int(head * (30 - ago) / 28), at)


def _command(page, live_server, token: str, command: str, data: dict) -> int:
    response = page.request.post(
        f"{live_server.url}/api/commands",
        headers={"Authorization": f"Bearer {token}"},
        data={"command": command, "data": data},
    )
    return response.status


def test_an_engineer_reads_the_last_hour_on_the_health_page(
    page, live_server, login_as, screenshot, csp_violations
):
    live_server.ensure_worker()
    _a_past_half_hour(live_server.runtime)
    live_server.accounts.ensure("admin", "admin")
    token = live_server.accounts.create_token("admin")
    for n in range(3):
        opened = {"account_number": f"HEALTH-{n}", "owner_id": "u-health", "initial_balance": 5}
        assert _command(page, live_server, token, "OpenAccount", opened) == 201
    refused = {"account_number": "HEALTH-0", "amount": -1}
    assert _command(page, live_server, token, "DepositMoney", refused) == 400
    login_as(page, "viewer")

    page.get_by_role("link", name="Health", exact=True).click()

    expect(page.locator("h1")).to_have_text("Health")
    for key in ("events", "commands", "throughput", "lag"):
        expect(page.get_by_test_id(f"health-chart-{key}")).to_be_visible()
    throughput = page.get_by_test_id("health-chart-throughput")
    # the half hour's two runs (the live worker's minutes may add one more)
    assert throughput.locator('g[data-series="account_summary"] polyline').count() >= 2
    expect(throughput.locator(".legend")).to_contain_text("user_directory")
    accepted = int(page.get_by_test_id("commands-accepted").inner_text())
    assert accepted >= 3
    assert int(page.get_by_test_id("commands-refused").inner_text()) >= 1
    expect(page.get_by_test_id("metrics-link")).to_have_text("/metrics")  # a viewer: no link
    screenshot(page, "health-1-last-hour")

    # the page refreshes itself: two more commands show without a reload
    for n in (3, 4):
        opened = {"account_number": f"HEALTH-{n}", "owner_id": "u-health", "initial_balance": 5}
        assert _command(page, live_server, token, "OpenAccount", opened) == 201
    expect(page.get_by_test_id("commands-accepted")).to_have_text(str(accepted + 2), timeout=25_000)
    assert csp_violations == []
