"""An engineer watches a projection rebuild complete and a live aggregate expire."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from webapp.demo.queries import get_account_summary

pytestmark = pytest.mark.browser


def test_an_engineer_rebuilds_a_projection_and_watches_it_complete(
    page, live_server, login_as, screenshot, csp_violations
):
    live_server.ensure_worker()
    runtime = live_server.runtime
    before = runtime.projections.status_of("account_summary")
    login_as(page, "admin")

    page.get_by_role("link", name="Projections").click()
    row = page.locator('[data-testid="projection-row"][data-name="account_summary"]')
    expect(row).to_contain_text(f"gen {before['generation']}")
    screenshot(page, "engineer-1-projections")

    row.get_by_test_id("rebuild-account_summary").click()
    expect(page.get_by_test_id("rebuild-panel")).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)  # the page itself, not nested in the table
    page.get_by_test_id("rebuild-confirm").check()
    page.get_by_test_id("rebuild-submit").click()
    expect(page.locator(".flash--ok")).to_contain_text("Rebuild of account_summary requested")
    screenshot(page, "engineer-2-rebuild-requested")

    # the status table polls itself: the new generation goes live without a reload
    row = page.locator('[data-testid="projection-row"][data-name="account_summary"]')
    # (generous: a SQLite lease renewal inside an open write transaction can stall the worker)
    expect(row).to_contain_text(f"gen {before['generation'] + 1}", timeout=75_000)
    expect(row.get_by_test_id("rebuild-state")).to_have_text("—", timeout=10_000)
    expect(row).not_to_contain_text("is-lagging")
    screenshot(page, "engineer-3-rebuild-complete")
    summary = get_account_summary(runtime.projections, "AUD-1") or {}
    assert runtime.projections.status_of("account_summary")["rebuild"] is None
    assert summary == {} or summary["balance"] >= 0
    assert csp_violations == []


def test_an_engineer_watches_a_live_aggregate_expire(
    page, live_server, login_as, screenshot, csp_violations
):
    runtime = live_server.runtime
    runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": "ENG-1", "owner_id": "u-engineer", "initial_balance": 10},
        metadata={"actor": "journey"},
    )
    login_as(page, "admin")
    page.get_by_role("link", name="Live aggregates").click()
    row = page.get_by_test_id("live-aggregates").locator("tr", has_text="account-ENG-1")
    expect(row).to_be_visible()

    entry = runtime.registry.peek("account-ENG-1")
    runtime.registry.touched(entry, timedelta(seconds=3))  # as a short lifespan would decide

    expect(row).to_contain_text(re.compile(r"in [0-9] s"), timeout=5_000)
    screenshot(page, "engineer-4-aggregate-about-to-expire")
    expect(row).to_have_count(0, timeout=12_000)
    assert "account-ENG-1" not in runtime.registry
    screenshot(page, "engineer-5-aggregate-expired")
    assert csp_violations == []


def test_an_engineer_finds_a_transfer_process_by_its_id(
    page, live_server, login_as, screenshot, csp_violations
):
    live_server.complete_transfer(
        "eng-t1",
        ("ENGX-1", "ENGX-2"),
        owner="u-engineer",
        opening_balance=5_000,
        amount=700,
        actor="teller:engineer-journey",
    )
    login_as(page, "viewer")

    page.get_by_role("link", name="Projections").click()
    page.get_by_test_id("instances-link").click()
    expect(page.get_by_role("heading", name="Process-manager instances")).to_be_visible()
    page.get_by_test_id("instances-id").fill("eng-t1")
    page.get_by_role("button", name="Show").click()
    row = page.get_by_test_id("instance-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("transfer_money")
    expect(row).to_contain_text("finished")
    expect(row).to_contain_text('"status": "completed"')
    assert "instance=eng-t1" in page.url
    screenshot(page, "engineer-6-process-instance")
    assert csp_violations == []


def test_an_engineer_skips_the_event_a_process_manager_stopped_at(
    page, live_server, login_as, screenshot, csp_violations
):
    from webapp.store import NewEvent

    live_server.ensure_worker()
    service = live_server.runtime.projections
    [poison] = live_server.runtime.store.append(
        "transfer-eng-poison",
        [NewEvent("TransferRequested", {"transfer_id": "eng-poison", "from_account": "ENG-1"})],
    ).events
    try:
        deadline = time.monotonic() + 30
        while service.status_of("transfer_money")["state"] != "stopped":
            if time.monotonic() > deadline:
                pytest.fail("transfer_money did not stop at the malformed request")
            time.sleep(0.1)
        login_as(page, "admin")

        page.get_by_role("link", name="Projections").click()
        expect(page.get_by_test_id("projection-status")).to_contain_text(
            f"Last error at position {poison.position}"
        )
        page.get_by_test_id("resume-transfer_money").click()
        expect(page.get_by_test_id("resume-error")).to_contain_text("KeyError")
        # a whole page, not one swapped into the polled status table
        expect(page.locator("h1")).to_have_count(1)
        assert page.url.endswith("/projections/transfer_money/resume")
        screenshot(page, "engineer-7-resume-choices")
        page.get_by_test_id("skip-confirm").check()
        page.get_by_test_id("resume-skip").click()
        expect(page.locator(".flash--ok")).to_contain_text(
            f"transfer_money: the worker will skip event {poison.position} and go on"
        )
        row = page.locator('[data-testid="process-row"][data-name="transfer_money"]')
        expect(row).not_to_contain_text("stopped", timeout=15_000)  # the table polls itself
        screenshot(page, "engineer-8-resumed")
        [skipped] = [e for e in service.errors("transfer_money") if e["outcome"] == "skipped"]
        assert skipped["position"] == poison.position
        assert csp_violations == []
    finally:  # later journeys need the process manager running
        if service.status_of("transfer_money")["state"] == "stopped":
            service.request_resume(
                "transfer_money", actor="test-cleanup", skip_position=poison.position
            )
