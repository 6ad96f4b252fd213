"""First journeys: log in with a one-time link, watch the overview, and stay safe from markup."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from webapp.store import NewEvent

pytestmark = pytest.mark.browser


def test_an_engineer_logs_in_by_link_and_watches_the_overview_update_live(
    page, live_server, login_as, screenshot, csp_violations
):
    login_as(page, "admin")

    events = live_server.runtime.store.count_events()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_test_id("event-count")).to_have_text(f"{events:,}")
    expect(page.get_by_test_id("stream-count")).to_have_text(
        f"{live_server.runtime.store.count_streams():,}"
    )
    expect(page.locator(".whoami")).to_contain_text("admin")
    screenshot(page, "overview-admin")

    live_server.runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": "LIVE-1", "owner_id": "u-live", "initial_balance": 4200},
        metadata={"actor": "journey"},
    )

    # htmx polls the fragment every 3 s: the new event shows without a reload
    expect(page.locator("#overview-live")).to_contain_text("account-LIVE-1", timeout=10_000)
    expect(page.get_by_test_id("event-count")).not_to_have_text(f"{events:,}")
    screenshot(page, "overview-after-live-update")
    assert csp_violations == []


def test_an_event_payload_carrying_markup_is_shown_as_text_and_runs_nothing(
    page, live_server, login_as, screenshot, csp_violations
):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    live_server.runtime.store.append(
        "note-hostile",
        [
            NewEvent(
                "NotePinned",
                {
                    "script": "<script>window.pwned = 1; alert('script')</script>",
                    "image": "<img src=x onerror=\"window.pwned = 2; alert('img')\">",
                },
                {"actor": "<b onmouseover=alert(3)>mallory</b>"},
            )
        ],
    )
    live_server.runtime.router.dispatch_json(
        "RegisterUser",
        {
            "user_id": "u-hostile",
            "name": "<img src=x onerror=\"window.pwned = 3; alert('name')\">",
            "email": "mallory@example.org",
        },
    )

    login_as(page, "admin")

    live = page.locator("#overview-live")
    expect(live).to_contain_text("<script>window.pwned = 1; alert('script')</script>")
    expect(live).to_contain_text("<img src=x onerror=")
    expect(live).to_contain_text("<b onmouseover=alert(3)>mallory</b>")
    page.wait_for_timeout(3500)  # let one htmx refresh swap the fragment in again
    expect(live).to_contain_text("<script>window.pwned = 1;")
    assert page.evaluate("() => window.pwned") is None
    assert dialogs == []
    assert page.locator("#overview-live img").count() == 0
    assert page.locator("#overview-live script").count() == 0
    screenshot(page, "overview-hostile-payload")
    assert [v for v in csp_violations if not re.search(r"img-src", v)] == []


def test_a_viewer_sees_personal_data_masked_on_the_overview(page, live_server, login_as):
    live_server.runtime.router.dispatch_json(
        "RegisterUser",
        {"user_id": "u-private", "name": "Grace Hopper", "email": "grace@example.org"},
    )

    login_as(page, "viewer")

    live = page.locator("#overview-live")
    expect(live).to_contain_text("u-private")
    expect(live).not_to_contain_text("Grace Hopper")
    expect(live).not_to_contain_text("grace@example.org")


def test_with_the_worker_running_the_overview_charts_activity_and_shows_no_lag(
    page, live_server, login_as, screenshot, csp_violations
):
    live_server.ensure_worker()

    login_as(page, "viewer")

    expect(page.locator("svg.bar-chart rect").first).to_be_attached()
    expect(page.get_by_test_id("projection-lag")).to_have_text("0", timeout=10_000)
    screenshot(page, "overview-with-worker")
    assert csp_violations == []
