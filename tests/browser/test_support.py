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

    # download the export
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
    for action in ("view", "export", "forget"):
        expect(
            page.locator(f'[data-testid="access-row"][data-action="{action}"]').first
        ).to_be_visible()
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
    page.get_by_test_id("subject-reveal").click()
    expect(page.locator("main")).to_contain_text("rita@new.example.org")
    expect(page.locator("main")).not_to_contain_text("rita@example.org")
    assert csp_violations == []
