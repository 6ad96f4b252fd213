"""Pages that fit: a stream of 300 events and the global timeline show one line per event, a
line opens in place (mouse or keyboard) to the event's metadata and whole payload, and the
pages can be turned from the top and from the bottom."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, _seed, serving
from webapp.bootstrap import Runtime
from webapp.config import Settings

pytestmark = pytest.mark.browser

WIDE = {"width": 1400, "height": 900}
NARROW = {"width": 700, "height": 900}
MAX_HEIGHT = 3000
ACCOUNT = "FIT-300"
STREAM = f"account-{ACCOUNT}"
EVENTS = 300
FIRST_DAY = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _long_stream(runtime: Runtime) -> None:
    """The demo seed, then an account with 300 events: opened, then 299 deposits, each with
    when it happened (business time) one hour after the last."""
    _seed(runtime)
    teller = {"actor": "teller:fit"}
    runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": ACCOUNT, "owner_id": "u-fit", "initial_balance": 0},
        metadata=teller,
    )
    for n in range(1, EVENTS):
        happened = FIRST_DAY + timedelta(hours=n)
        runtime.router.dispatch_json(
            "DepositMoney",
            {"account_number": ACCOUNT, "amount": 100 + n},
            metadata={**teller, "occurred_at": happened.isoformat()},
        )


@pytest.fixture(scope="module")
def fit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("fit")
    settings = Settings(
        db_url=f"sqlite:///{folder / 'eventscope.db'}", secret_key=secrets.token_urlsafe(32)
    )
    with serving(settings, _long_stream) as live:
        yield live


def _log_in(page, live: LiveServer, role: str = "viewer") -> None:
    page.goto(live.login_url(role))
    page.wait_for_url(f"{live.url}/")


def _height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def _row(page, version: int):
    return page.locator(f"#v{version}")


def test_a_300_event_stream_and_the_global_timeline_fit_in_3000_pixels(
    page, fit_server, screenshot, csp_violations
):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)

    page.goto(f"{fit_server.url}/streams/{STREAM}")
    rows = page.locator("tr.timeline-row")
    expect(rows).to_have_count(50)
    expect(page.get_by_test_id("timeline-range")).to_have_text("versions 1–50 of 300")
    stream_height = _height(page)
    screenshot(page, "h2-stream-timeline")

    page.goto(f"{fit_server.url}/timeline/")
    expect(page.get_by_test_id("timeline-row")).to_have_count(50)
    timeline_height = _height(page)
    screenshot(page, "h2-global-timeline")

    assert stream_height <= MAX_HEIGHT, stream_height
    assert timeline_height <= MAX_HEIGHT, timeline_height
    assert csp_violations == []


def test_a_line_names_its_clock_and_shows_the_fields(page, fit_server):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)
    page.goto(f"{fit_server.url}/streams/{STREAM}")

    opened, deposit = _row(page, 1), _row(page, 2)
    # the opening has no business time: the line says it is when it was recorded
    expect(opened.locator(".event-line .clock__name")).to_have_text("recorded")
    expect(deposit.locator(".event-line .clock__name")).to_have_text("happened")
    expect(deposit.locator(".event-line time")).to_have_attribute(
        "datetime", re.compile(r"^2024-05-01T10:00:00")
    )
    # the fields as `name value`; the account's own number is the row's stream already
    summary = deposit.get_by_test_id("payload-summary")
    expect(summary).to_contain_text("amount")
    expect(summary).not_to_contain_text("account_number")
    expect(deposit.locator(".event-line")).to_be_visible()
    expect(deposit.get_by_test_id("event-happened")).to_be_hidden()


def test_a_line_opens_in_place_to_its_metadata_and_payload_and_closes_again(
    page, fit_server, screenshot, accessibility_violations, csp_violations
):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)
    page.goto(f"{fit_server.url}/streams/{STREAM}")
    url = page.url
    row = _row(page, 3)
    before = row.bounding_box()
    payload = row.locator(".event-more__payload .payload")
    expect(payload).to_be_hidden()

    row.get_by_test_id("row-expander").click()

    expect(row.get_by_test_id("row-details")).to_have_attribute("open", "")
    expect(payload).to_be_visible()
    expect(payload).to_contain_text('"amount": 102')
    expect(payload).to_contain_text('"account_number": "FIT-300"')
    meta = row.locator(".event-meta")
    for name in ("recorded", "happened", "actor", "correlation", "causation"):
        expect(meta.get_by_text(name, exact=True)).to_be_visible()
    expect(meta).to_contain_text("teller:fit")
    expect(row.get_by_role("link", name="chain")).to_be_visible()
    assert page.url == url  # in place: no navigation
    assert row.bounding_box()["y"] == pytest.approx(before["y"], abs=1)
    assert row.bounding_box()["height"] > before["height"] + 50
    screenshot(page, "h2-stream-row-expanded")
    assert accessibility_violations(page) == []

    row.get_by_test_id("row-expander").click()

    expect(payload).to_be_hidden()
    assert row.bounding_box()["height"] == pytest.approx(before["height"], abs=1)
    assert csp_violations == []


def test_the_global_timeline_opens_a_line_in_place(
    page, fit_server, screenshot, accessibility_violations
):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)
    page.goto(f"{fit_server.url}/timeline/?stream={STREAM}")
    row = page.get_by_test_id("timeline-row").first
    expect(row.get_by_test_id("row-happened")).to_be_visible()
    expect(row.get_by_test_id("chain-link")).to_be_hidden()

    row.get_by_test_id("row-expander").click()

    expect(row.locator(".event-more__payload .payload")).to_contain_text('"amount": 399')
    expect(row.get_by_test_id("row-recorded")).to_be_visible()
    expect(row.get_by_test_id("correlation-link")).to_be_visible()
    expect(row.get_by_test_id("chain-link")).to_be_visible()
    screenshot(page, "h2-global-row-expanded")
    assert accessibility_violations(page) == []
    row.get_by_test_id("chain-link").click()
    expect(page.get_by_role("heading", name="Causation chain of event")).to_be_visible()


def test_the_expander_is_reached_with_tab_and_toggles_with_enter_and_space(page, fit_server):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)
    page.goto(f"{fit_server.url}/streams/{STREAM}")
    row = _row(page, 5)
    details = row.get_by_test_id("row-details")

    row.get_by_test_id("select-version").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => ({testid: document.activeElement.dataset.testid,
                   row: document.activeElement.closest('tr').id,
                   name: document.activeElement.textContent,
                   outline: getComputedStyle(document.activeElement).outlineStyle})"""
    )
    assert focused == {
        "testid": "row-expander",
        "row": "v5",
        "name": "Details of version 5",
        "outline": "solid",
    }

    page.keyboard.press("Enter")
    expect(details).to_have_attribute("open", "")
    expect(row.locator(".event-more__payload .payload")).to_be_visible()
    page.keyboard.press("Space")
    expect(details).not_to_have_attribute("open", "")
    page.keyboard.press("Space")
    expect(details).to_have_attribute("open", "")
    # the next Tab goes into what opened (the correlation link), not past the row
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('tr').id") == "v5"


def test_the_pages_turn_from_the_top_and_from_the_bottom(page, fit_server):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)
    page.goto(f"{fit_server.url}/streams/{STREAM}")
    top = page.get_by_role("navigation", name="Pages of this stream", exact=True)
    bottom = page.get_by_role("navigation", name="Pages of this stream, below its events")
    expect(top.get_by_role("link", name="Later ›")).to_be_visible()
    expect(bottom.get_by_role("link", name="Later ›")).to_be_visible()
    expect(bottom.get_by_test_id("timeline-range-bottom")).to_have_text("versions 1–50 of 300")
    table = page.get_by_test_id("timeline").bounding_box()
    assert top.bounding_box()["y"] < table["y"]
    assert bottom.bounding_box()["y"] >= table["y"] + table["height"]

    bottom.get_by_role("link", name="Later ›").click()

    page.wait_for_url(re.compile(r"from=51"))
    expect(page.get_by_test_id("timeline-range")).to_have_text("versions 51–100 of 300")
    expect(page.locator("tr.timeline-row").first).to_have_id("v51")
    bottom = page.get_by_role("navigation", name="Pages of this stream, below its events")
    for name in ("« First", "‹ Earlier", "Later ›", "Last »"):
        expect(bottom.get_by_role("link", name=name)).to_be_visible()

    # the global timeline: the same links above and below the events
    page.goto(f"{fit_server.url}/timeline/")
    top = page.get_by_role("navigation", name="Pages of the global timeline", exact=True)
    bottom = page.get_by_role("navigation", name="Pages of the global timeline, below its events")
    expect(top.get_by_test_id("page-older")).to_be_visible()
    newest = page.get_by_test_id("timeline-row").first.get_attribute("data-position")
    bottom.get_by_role("link", name="Older ›").click()
    page.wait_for_url(re.compile(r"before="))
    expect(page.get_by_test_id("timeline-row")).to_have_count(50)
    first = page.get_by_test_id("timeline-row").first.get_attribute("data-position")
    assert int(first) == int(newest) - 50
    expect(
        page.get_by_role("navigation", name="Pages of the global timeline, below its events")
    ).to_contain_text("Newer")


def test_the_selected_version_stays_open_and_a_click_on_a_version_still_selects_it(
    page, fit_server
):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)
    page.goto(f"{fit_server.url}/streams/{STREAM}?version=120")
    selected = _row(page, 120)
    expect(selected).to_have_class(re.compile(r"\bis-selected\b"))
    expect(selected.get_by_test_id("row-details")).to_have_attribute("open", "")
    expect(page.locator("tr.timeline-row details[open]")).to_have_count(1)
    expect(page.get_by_test_id("state-version")).to_have_text("120")

    _row(page, 103).get_by_test_id("select-version").click()

    expect(page.get_by_test_id("state-version")).to_have_text("103")
    expect(_row(page, 103)).to_have_class(re.compile(r"\bis-selected\b"))
    expect(_row(page, 103).get_by_test_id("row-details")).to_have_attribute("open", "")
    expect(_row(page, 120)).not_to_have_class(re.compile(r"\bis-selected\b"))


def test_new_events_arrive_as_lines_on_the_last_page(page, fit_server):
    page.set_viewport_size(WIDE)
    _log_in(page, fit_server)
    page.goto(f"{fit_server.url}/streams/{STREAM}?from=251")
    expect(page.get_by_test_id("timeline-range")).to_contain_text("new events appear live")

    fit_server.runtime.router.dispatch_json(
        "DepositMoney", {"account_number": ACCOUNT, "amount": 4242}, metadata={"actor": "live"}
    )

    arrived = page.locator(".timeline-new tr.timeline-row")
    expect(arrived).to_have_count(1, timeout=10_000)  # polled every two seconds
    expect(arrived.get_by_test_id("payload-summary")).to_contain_text("amount")
    expect(arrived.get_by_test_id("row-expander")).to_have_count(1)
    expect(page.get_by_test_id("timeline-range")).to_have_text(
        "versions 251–301 of 301 · new events appear live"
    )
    expect(page.get_by_test_id("timeline-range-bottom")).to_have_text(
        "versions 251–301 of 301 · new events appear live"
    )


def _cut_pieces(page) -> list[str]:
    """The names and values on the lines that the line shows only in part (cut, not hidden)."""
    return page.evaluate(
        """() => {
            const cut = [];
            for (const box of document.querySelectorAll('.payload-summary')) {
                const edge = box.getBoundingClientRect();
                for (const piece of box.querySelectorAll(
                        '.payload-summary__name, .payload-summary__value')) {
                    for (const r of piece.getClientRects()) {
                        const hidden = r.top >= edge.bottom - 1;
                        const inside = r.right <= edge.right + 1 && r.bottom <= edge.bottom + 1;
                        if (!hidden && !inside) cut.push(piece.textContent);
                    }
                }
            }
            return cut;
        }"""
    )


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["wide", "narrow"])
def test_no_line_cuts_a_word_and_nothing_overflows(page, fit_server, screenshot, viewport):
    page.set_viewport_size(viewport)
    _log_in(page, fit_server, "support")
    name = "wide" if viewport is WIDE else "narrow"
    for path, shot in (
        (f"/streams/{STREAM}", "stream"),
        ("/timeline/", "global"),
        ("/streams/user-u001", "person"),
    ):
        page.goto(f"{fit_server.url}{path}")
        expect(page.get_by_test_id("payload-summary").first).to_be_visible()
        if shot == "stream":
            _row(page, 1).get_by_test_id("row-expander").click()
        screenshot(page, f"h2-{name}-{shot}")
        assert _cut_pieces(page) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        # the summaries that open the lines hold no link or other control
        assert page.locator("summary.event-more__toggle :is(a, button, input)").count() == 0
