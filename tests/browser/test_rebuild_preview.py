"""An engineer deploys a new version of a read model held for preview, reads what it would
change, and switches it in; the worker carries it out."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, serving
from tests.projections.test_preview import EVENTS, ScoresV1, ScoresV2, append, expected_diff
from webapp.bootstrap import Runtime
from webapp.config import Settings
from webapp.projections import Projections

pytestmark = pytest.mark.browser


@pytest.fixture
def bumped_server(tmp_path) -> Iterator[LiveServer]:
    """The dashboard over a store whose `scores` projection is live at version 1 and whose
    worker now runs version 2 with previews of version bumps."""

    def fill(runtime: Runtime) -> None:
        append(runtime.store, EVENTS)
        Projections(runtime.store, [ScoresV1()]).runner("scores").run_until_caught_up()
        runtime.projections = Projections(runtime.store, [ScoresV2()], preview_rebuilds=True)

    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'eventscope.db'}", secret_key=secrets.token_urlsafe(32)
    )
    with serving(settings, fill) as live:
        live.ensure_worker(timeout=30)
        yield live


def test_an_engineer_previews_a_version_bump_and_switches_it_in(
    page, bumped_server, screenshot, csp_violations, accessibility_violations
):
    live = bumped_server
    expected = expected_diff(EVENTS)
    page.goto(live.login_url("admin"))
    page.get_by_role("link", name="Projections").click()

    page.get_by_test_id("preview-held-scores").click(timeout=30_000)

    expect(page.get_by_test_id("preview-summary")).to_contain_text("Generation 2")
    expect(page.get_by_test_id("count-added")).to_have_text(str(len(expected["added"])))
    expect(page.get_by_test_id("count-removed")).to_have_text(str(len(expected["removed"])))
    expect(page.get_by_test_id("count-changed")).to_have_text(str(len(expected["changed"])))
    expect(page.get_by_test_id("columns-added")).to_have_text("games")
    bob = page.locator('[data-testid="preview-row"][data-change="changed"]').filter(has_text="bob")
    expect(bob.locator('[data-column="total"]')).to_contain_text("12 → 24")
    screenshot(page, "preview-1-diff")
    assert accessibility_violations(page) == []
    page.set_viewport_size({"width": 700, "height": 900})  # a narrow screen: nothing widens
    assert page.evaluate("document.documentElement.scrollWidth") <= 700
    screenshot(page, "preview-1-narrow")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_test_id("preview-switch").click()  # not confirmed: the browser asks first
    expect(page.get_by_test_id("preview-panel")).to_be_visible()
    page.get_by_test_id("preview-switch-confirm").check()
    page.get_by_test_id("preview-switch").click()
    expect(page.locator(".flash--ok")).to_contain_text("switches the preview in")
    # the page follows the worker until the preview is gone
    expect(page.get_by_test_id("preview-none")).to_be_visible(timeout=30_000)
    screenshot(page, "preview-2-switched")
    assert live.runtime.projections.status_of("scores")["generation"] == 2
    assert csp_violations == []
