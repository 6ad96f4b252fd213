"""An engineer on call pauses a projection, works through its dead letters and resets it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, serving
from tests.web.test_projection_controls_api import Choosy
from webapp.bootstrap import Runtime
from webapp.config import Settings
from webapp.projections import Projections
from webapp.store import NewEvent

pytestmark = pytest.mark.browser


@pytest.fixture
def parked_server(tmp_path) -> Iterator[tuple[LiveServer, Choosy]]:
    """The dashboard over a store of three notes whose projection `choosy` parked the
    second one (its 'park' failure policy), with the worker running."""
    choosy = Choosy()

    def fill(runtime: Runtime) -> None:
        runtime.projections = Projections(runtime.store, [choosy])
        runtime.store.append(
            "notes-1",
            [NewEvent("Noted", {}), NewEvent("Noted", {"boom": True}), NewEvent("Noted", {})],
        )

    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'eventscope.db'}", secret_key=secrets.token_urlsafe(32)
    )
    with serving(settings, fill) as live:
        live.ensure_worker(timeout=30)
        yield live, choosy


def test_an_engineer_pauses_retries_a_parked_event_and_resets_a_projection(
    page, parked_server, screenshot, csp_violations
):
    live, choosy = parked_server
    projections = live.runtime.projections
    page.goto(live.login_url("admin"))
    page.get_by_role("link", name="Projections").click()

    row = page.locator('[data-testid="projection-row"][data-name="choosy"]')
    expect(row.get_by_test_id("dead-letters-choosy")).to_have_text("1 parked")
    row.get_by_test_id("pause-choosy").click()
    expect(page.locator(".flash--ok")).to_contain_text("choosy is paused")
    row = page.locator('[data-testid="projection-row"][data-name="choosy"]')
    expect(row.get_by_test_id("paused-by-choosy")).to_contain_text("by admin")
    screenshot(page, "operator-1-paused")
    assert projections.status_of("choosy")["paused"]["by"] == "admin"

    row.get_by_test_id("unpause-choosy").click()
    expect(page.locator(".flash--ok")).to_contain_text("choosy resumed")
    assert projections.status_of("choosy")["paused"] is None

    # paused again, the worker applies nothing: the retry asked below stays pending until
    # the projection resumes, however quick the worker is
    row = page.locator('[data-testid="projection-row"][data-name="choosy"]')
    row.get_by_test_id("pause-choosy").click()
    expect(page.locator(".flash--ok")).to_contain_text("choosy is paused")
    page.get_by_test_id("dead-letters-choosy").click()
    letter = page.locator('[data-testid="dead-letter"][data-position="2"]')
    expect(letter).to_contain_text("ValueError")
    screenshot(page, "operator-2-dead-letters")
    choosy.fixed = True  # the handler is mended; the parked event can be applied now
    letter.get_by_test_id("retry-2").click()
    expect(page.locator(".flash--ok")).to_contain_text("will apply event 2 again")
    expect(page.get_by_test_id("retry-pending")).to_contain_text("retry asked by admin")
    assert projections.dead_letters("choosy")[0]["retry_requested"]["by"] == "admin"
    projections.request_resume("choosy", actor="admin")  # resumed from elsewhere (the CLI)
    # the list follows the worker while a retry is pending: the event leaves it once applied
    expect(page.get_by_test_id("no-dead-letters")).to_be_visible(timeout=30_000)
    log = page.get_by_test_id("operator-log")
    expect(log).to_contain_text("retry")
    expect(log).to_contain_text("pause")
    screenshot(page, "operator-3-retried")

    page.goto(f"{live.url}/projections/")
    page.get_by_test_id("reset-choosy").click()
    page.get_by_test_id("reset-position").fill("1")
    page.get_by_test_id("reset-submit").click()  # not confirmed: the browser asks first
    expect(page.get_by_test_id("reset-panel")).to_be_visible()
    page.get_by_test_id("reset-confirm").check()
    page.get_by_test_id("reset-submit").click()
    expect(page.locator(".flash--ok")).to_contain_text("Reset of choosy to position 1 requested")
    screenshot(page, "operator-4-reset")
    assert csp_violations == []
