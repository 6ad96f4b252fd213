"""Errors reach the person who clicked: htmx shows error pages instead of doing nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def add_boosted_link(page, href: str) -> None:
    """A link like the dashboard's own (boosted by htmx), to `href`."""
    page.evaluate(
        """href => {
            const a = document.createElement('a');
            a.href = href; a.id = 'probe-link'; a.textContent = 'probe';
            document.querySelector('main').prepend(a);
            htmx.process(a);
        }""",
        href,
    )


def test_a_boosted_link_to_a_missing_stream_shows_the_not_found_page(
    page, live_server, login_as, csp_violations
):
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/")
    add_boosted_link(page, "/streams/no-such-stream")

    page.locator("#probe-link").click()

    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator(".error-page")).to_contain_text("no-such-stream")
    expect(page).to_have_url(f"{live_server.url}/streams/no-such-stream")
    assert csp_violations == []


def test_a_page_above_ones_role_says_not_allowed(page, live_server, login_as):
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/")
    add_boosted_link(page, "/access-log/")

    page.locator("#probe-link").click()

    expect(page.locator("h1")).to_have_text("Not allowed")
