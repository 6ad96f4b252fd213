"""Everyone who reviews can use the dashboard: axe-core's WCAG 2.1 A and AA rules find no
violation on any page a role reaches, and the main journeys work by keyboard alone."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DETAIL_PAGES = {
    # one page of each kind a role reaches from the navigation, by the link that leads there
    "/streams/": 'table a[href^="/streams/account-"]',
    "/timeline/": 'a[href^="/events/"]',
    "/catalog/": 'a[href^="/catalog/types/"]',
    "/snapshots/": 'a[href^="/streams/"]',
    "/subjects/": 'a[href^="/subjects/"]',
    "/projections/": 'a[href^="/projections/"]',
    "/accounts/": 'a[href^="/accounts/"]',
}


def _pages_of(page, live_server) -> list[str]:
    """The navigation's pages, then one detail page reached from each where there is one."""
    hrefs = page.locator("nav.sidebar .nav a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    pages = list(hrefs)
    for listing, selector in DETAIL_PAGES.items():
        if listing not in hrefs:
            continue
        page.goto(live_server.url + listing)
        link = page.locator(f"#content {selector}").first
        if link.count():
            pages.append(urlparse(link.get_attribute("href")).path)
    return list(dict.fromkeys(pages))


def _report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{path}: {line}" for path, lines in found.items() for line in lines)


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_no_page_a_role_reaches_breaks_a_wcag_rule(
    page, live_server, login_as, role, accessibility_violations
):
    live_server.ensure_worker()
    login_as(page, role)
    found = {}
    for path in _pages_of(page, live_server):
        page.goto(live_server.url + path)
        expect(page.locator("main#content")).to_be_visible()
        violations = accessibility_violations(page)
        if violations:
            found[path] = violations

    assert not found, _report(found)


def test_the_login_and_error_pages_break_no_wcag_rule(page, live_server, accessibility_violations):
    found = {}
    for path in ("/login", "/no-such-page"):
        page.goto(live_server.url + path)
        violations = accessibility_violations(page)
        if violations:
            found[path] = violations

    assert not found, _report(found)


def _focused(page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {tag: el.tagName, id: el.id, testid: el.dataset ? el.dataset.testid : null,
                    href: el.getAttribute("href"), outline: style.outlineStyle,
                    top: el.getBoundingClientRect().top};
        }"""
    )


def test_a_keyboard_user_skips_to_the_content_and_opens_a_stream(page, live_server, login_as):
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/streams/")

    page.keyboard.press("Tab")
    skip = _focused(page)
    assert skip["testid"] == "skip-link"
    assert skip["top"] >= 0 and skip["outline"] != "none"  # shown, and visibly focused
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "content"

    for _ in range(60):
        page.keyboard.press("Tab")
        focused = _focused(page)
        assert focused["outline"] != "none", focused
        if (focused["href"] or "").startswith("/streams/account-"):
            break
    else:
        pytest.fail("Tab never reached a stream in the list")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}{focused['href']}")
    expect(page.locator("h1")).to_contain_text(focused["href"].rsplit("/", 1)[-1])


def test_tab_goes_through_a_stream_page_and_out_again(page, live_server, login_as):
    login_as(page, "admin")
    page.goto(f"{live_server.url}/streams/")
    stream = page.locator('#content table a[href^="/streams/account-"]').first.get_attribute("href")
    page.goto(f"{live_server.url}{stream}")

    seen, previous, stuck = [], None, 0
    for _ in range(400):
        page.keyboard.press("Tab")
        focused = _focused(page)
        key = (focused["tag"], focused["id"], focused["href"], focused["testid"])
        stuck = stuck + 1 if key == previous else 0
        assert stuck < 5, f"focus is trapped on {focused}"  # (a date field takes 3 or 4 tabs)
        previous = key
        seen.append(key)
        if focused["testid"] == "skip-link" and len(seen) > 1:
            break  # round the whole page and back to its start: no trap
        if focused["tag"] == "BODY":
            break
    else:
        pytest.fail("400 tabs did not go round the page")
    assert len(set(seen)) > 10
