"""Support staff: find a user by e-mail, download their export, forget them, see them forgotten."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NAME = "Grace Journeyhopper"
EMAIL = "grace.journey@example.org"


def test_support_finds_exports_and_forgets_a_user_then_sees_them_forgotten_everywhere(
    page, live_server, login_as, screenshot, csp_violations, tmp_path
):
    runtime = live_server.runtime
    live_server.ensure_worker()
    runtime.router.dispatch_json(
        "RegisterUser",
        {"user_id": "u-journey", "name": NAME, "email": EMAIL},
        metadata={"actor": "journey"},
    )
    opened = runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": "J-1", "owner_id": "u-journey", "initial_balance": 500},
        metadata={"actor": "journey"},
    )
    runtime.projections.wait_until_projected(
        opened.events[-1].position, ["user_directory", "account_summary"], timeout=60
    )
    login_as(page, "support")

    # find them by e-mail
    page.get_by_role("link", name="Subjects").click()
    page.get_by_test_id("subject-query").fill("Grace.Journey@example.org")
    page.get_by_test_id("subject-find").click()
    expect(page.get_by_test_id("subject-id")).to_have_text("u-journey")
    expect(page.get_by_test_id("subject-streams")).to_contain_text("user-u-journey")
    expect(page.get_by_test_id("subject-page")).not_to_contain_text(NAME)
    screenshot(page, "support-1-subject-found")

    # download the export: the request it answers is required
    page.get_by_test_id("subject-export-panel").get_by_test_id("export-purpose").fill(
        "SAR ticket 4710"
    )
    with page.expect_download() as download_info:
        page.get_by_test_id("subject-export").click()
    download = download_info.value
    assert download.suggested_filename == "subject-u-journey-export.json"
    saved = tmp_path / "export.json"
    download.save_as(saved)
    document = json.loads(saved.read_text())
    assert any(event["data"].get("name") == NAME for event in document["events"])

    # forget, with a reason and an explicit confirmation
    page.get_by_test_id("subject-forget").click()
    page.get_by_test_id("forget-reason").fill("Erasure request by e-mail, ticket 4711")
    page.get_by_test_id("forget-confirm-id").fill("u-journey")
    page.get_by_test_id("forget-submit").click()
    # the browser refuses the form until the box is ticked
    expect(page.get_by_test_id("forget-panel")).to_be_visible()
    assert not runtime.privacy.is_forgotten("u-journey")
    page.get_by_test_id("forget-understood").check()
    screenshot(page, "support-2-forget-confirmation")
    page.get_by_test_id("forget-submit").click()

    expect(page.get_by_test_id("subject-forgotten")).to_be_visible()
    expect(page.get_by_test_id("forgotten-reason")).to_have_text(
        "Erasure request by e-mail, ticket 4711"
    )
    expect(page.get_by_test_id("forgotten-by")).to_have_text("support")
    expect(page.locator(".flash--ok")).to_contain_text("has been forgotten")
    screenshot(page, "support-3-forgotten")
    subject_page = page.url

    # the stream timeline shows them as forgotten
    page.get_by_test_id("forgotten-stream").first.click()
    expect(page.get_by_test_id("stream-id")).to_have_text("user-u-journey")
    expect(page.locator("#content")).to_contain_text("[forgotten]")
    expect(page.locator("#content")).not_to_contain_text(NAME)
    screenshot(page, "support-4-timeline-forgotten")

    # so does the aggregate state
    page.goto(subject_page)
    page.get_by_test_id("forgotten-state").first.click()
    expect(page.locator("#content")).to_contain_text("[forgotten]")
    expect(page.locator("#content")).not_to_contain_text(NAME)
    screenshot(page, "support-5-state-forgotten")

    # and the user directory projection
    page.goto(subject_page)
    page.get_by_test_id("forgotten-directory").click()
    row = page.locator('[data-testid="user-row"][data-user="u-journey"]')
    expect(row.get_by_test_id("user-name")).to_have_text("Deleted Account")
    expect(page.locator("#content")).not_to_contain_text(EMAIL)
    screenshot(page, "support-6-directory-forgotten")

    # the access log has the whole story
    page.get_by_role("link", name="Access log").click()
    page.get_by_test_id("access-subject").fill("u-journey")
    page.get_by_role("button", name="Filter").click()
    for action in ("export", "forget"):
        expect(
            page.locator(f'[data-testid="access-row"][data-action="{action}"]').first
        ).to_be_visible()
    expect(page.get_by_test_id("access-table")).to_contain_text("SAR ticket 4710")
    screenshot(page, "support-7-access-log")
    assert csp_violations == []


def test_an_admin_re_registers_a_forgotten_user_who_came_back(
    page, live_server, login_as, screenshot, csp_violations
):
    runtime = live_server.runtime
    runtime.router.dispatch_json(
        "RegisterUser",
        {"user_id": "u-returning", "name": "Rita Returner", "email": "rita@example.org"},
        metadata={"actor": "journey"},
    )
    runtime.privacy.forget("u-returning", reason="erasure #9", actor="support", role="support")
    login_as(page, "admin")

    page.goto(f"{live_server.url}/subjects/u-returning")
    expect(page.get_by_test_id("subject-forgotten")).to_be_visible()
    page.get_by_test_id("subject-reregister").click()
    page.get_by_test_id("reregister-reason").fill("came back as a customer")
    page.get_by_test_id("reregister-confirm-id").fill("u-return")
    page.get_by_test_id("reregister-submit").click()
    expect(page.get_by_test_id("reregister-errors")).to_contain_text("Type the subject id")
    page.get_by_test_id("reregister-confirm-id").fill("u-returning")
    screenshot(page, "support-8-reregister-confirmation")
    page.get_by_test_id("reregister-submit").click()

    expect(page.locator(".flash--ok")).to_contain_text("has been re-registered")
    expect(page.get_by_test_id("subject-forgotten")).to_have_count(0)
    expect(page.get_by_test_id("subject-event-count")).to_have_text("0")
    expect(page.get_by_test_id("subject-earlier-event-count")).to_contain_text("1")
    screenshot(page, "support-9-reregistered")
    runtime.router.dispatch_json(
        "ChangeEmail",
        {"user_id": "u-returning", "email": "rita@new.example.org"},
        metadata={"actor": "journey"},
    )
    page.goto(f"{live_server.url}/subjects/u-returning")
    page.get_by_test_id("subject-reveal").get_by_test_id("reveal-purpose").fill("ticket 9, new address")
    page.get_by_test_id("subject-reveal").get_by_test_id("reveal-submit").click()
    expect(page.locator("main")).to_contain_text("rita@new.example.org")
    expect(page.locator("main")).not_to_contain_text("rita@example.org")
    assert csp_violations == []


PAGES_SUPPORT_BROWSES = (
    "/",
    "/streams/",
    "/streams/user-u-reveal",
    "/streams/user-u-reveal?version=1",
    "/timeline/",
    "/catalog/",
    "/projections/",
    "/projections/users",
    "/subjects/u-reveal",
    "/subjects/u-reveal/data",
    "/access-log/",
)


def test_support_browses_without_a_trace_and_reveals_one_subject_on_purpose(
    page, live_server, login_as, screenshot, csp_violations
):
    runtime = live_server.runtime
    live_server.ensure_worker()
    registered = runtime.router.dispatch_json(
        "RegisterUser",
        {"user_id": "u-reveal", "name": "Vera Revealed", "email": "vera@example.org"},
        metadata={"actor": "journey"},
    )
    runtime.projections.wait_until_projected(
        registered.events[-1].position, ["user_directory"], timeout=60
    )
    logged_before = runtime.privacy.access_log(actor="support", limit=500).entries
    login_as(page, "support")

    # every page, as support, shows the person masked and writes nothing to the access log
    for path in PAGES_SUPPORT_BROWSES:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("main")).not_to_contain_text("Vera Revealed")
        expect(page.locator("main")).not_to_contain_text("vera@example.org")
    assert runtime.privacy.access_log(actor="support", limit=500).entries == logged_before

    # a masked value offers the reveal; the reveal asks why and for how long
    page.goto(f"{live_server.url}/streams/user-u-reveal?version=1")
    expect(page.locator("main")).to_contain_text("•••")
    screenshot(page, "reveal-1-masked-for-support")
    page.locator("[data-testid=reveal-link]:visible").first.click()
    expect(page.get_by_test_id("reveal-form")).to_be_visible()
    page.get_by_test_id("reveal-purpose").fill("x")
    page.get_by_test_id("reveal-submit").click()  # too short: the browser refuses it
    assert runtime.privacy.revealed_to("support") == []
    page.get_by_test_id("reveal-purpose").fill("Ticket SUP-2048: customer asks for their data")
    page.get_by_test_id("reveal-minutes").select_option("5")
    screenshot(page, "reveal-2-form")
    page.get_by_test_id("reveal-submit").click()

    # back where it started, in clear, with a banner that says until when and why
    expect(page).to_have_url(f"{live_server.url}/streams/user-u-reveal?version=1")
    expect(page.locator("main")).to_contain_text("Vera Revealed")
    expect(page.get_by_test_id("reveal-banner")).to_contain_text("u-reveal")
    expect(page.get_by_test_id("reveal-banner")).to_contain_text("Ticket SUP-2048")
    screenshot(page, "reveal-3-shown-on-purpose")
    page.goto(f"{live_server.url}/projections/users")
    expect(page.locator("main")).to_contain_text("Vera Revealed")

    new = runtime.privacy.access_log(actor="support", limit=500).entries[
        : -len(logged_before) or None
    ]
    assert [(e.action, e.subject_id, e.purpose) for e in new] == [
        ("reveal", "u-reveal", "Ticket SUP-2048: customer asks for their data")
    ]

    # the access log finds it by purpose; masking again ends it
    page.goto(f"{live_server.url}/access-log/")
    page.get_by_test_id("access-purpose").fill("sup-2048")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("access-row")).to_have_count(1)
    screenshot(page, "reveal-4-access-log-by-purpose")
    page.goto(f"{live_server.url}/subjects/u-reveal")
    page.get_by_test_id("reveal-hide").click()
    expect(page.get_by_test_id("reveal-banner")).to_have_count(0)
    page.goto(f"{live_server.url}/streams/user-u-reveal?version=1")
    expect(page.locator("main")).not_to_contain_text("Vera Revealed")
    assert csp_violations == []
