"""Pages that link and fit: support follows an account's owner to the person's stream and on
to their subject page; a domain expert goes from an event type in the catalog to the
timeline of that type; and over a store past 100,000 events no position, stream id or
actor is cut or wrapped mid-word, at 1400 px and on a narrow screen."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, LiveServer, serving
from webapp.config import Settings
from webapp.demo.seed import load_seed

pytestmark = pytest.mark.browser

WIDE = {"width": 1400, "height": 900}
NARROW = {"width": 700, "height": 900}
SYNTHETIC = 98_000
"""With the seed's ~2,300 events, positions reach six digits."""

CUT_TEXT = """
(selector) => {
  // text of `selector` that the page cuts: clipped by its box (an ellipsis or hidden
  // overflow) or wrapped inside a word (a line break not next to - : _ . @ / or a space)
  const SEPARATOR = /[-:_.@\\/\\s]/;
  const cut = [];
  for (const el of document.querySelectorAll(selector)) {
    const text = el.textContent.trim();
    if (!text || el.getClientRects().length === 0) continue;
    for (let node = el, up = 0; node && up < 3; node = node.parentElement, up++) {
      const style = getComputedStyle(node);
      const hides = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
      if (hides && node.scrollWidth > node.clientWidth + 1) {
        cut.push(`clipped: ${text}`);
        break;
      }
    }
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let top = null, previous = ' ';
    outer: while (walker.nextNode()) {
      const node = walker.currentNode;
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = range.getClientRects()[0];
        const char = node.data[i];
        if (box && box.width > 0) {
          const atBreak = SEPARATOR.test(previous) || SEPARATOR.test(char);
          if (top !== null && box.top > top + 2 && !atBreak) {
            cut.push(`broken mid-word: ${text}`);
            break outer;
          }
          top = box.top;
        }
        previous = char;
      }
    }
  }
  return cut;
}
"""

OWNER = "[data-testid='reference'][data-field='owner_id']"
WATCHED = ", ".join(
    (
        "td.num",  # positions and versions
        "a.mono[href^='/streams/']",  # stream ids
        "[data-testid='stream-id']",
        ".event-actor",
    )
)


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo's seed and 98,000 synthetic bank events, the worker caught up."""
    folder = tmp_path_factory.mktemp("big")
    settings = Settings(
        db_url=f"sqlite:///{folder / 'eventscope.db'}", secret_key=secrets.token_urlsafe(32)
    )

    def fill(runtime: Any) -> None:
        load_seed(runtime.router)
        runtime.seeder.synthetic(SYNTHETIC)

    with serving(settings, fill) as live:
        live.ensure_worker(timeout=300)
        yield live


def log_in(page: Any, live: LiveServer, role: str) -> None:
    page.goto(live.login_url(role))
    page.wait_for_url(f"{live.url}/")


def test_support_follows_an_owner_to_their_stream_accounts_and_subject_page(
    page, big_server, screenshot, csp_violations
):
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.set_viewport_size(WIDE)
    log_in(page, big_server, "support")
    page.goto(f"{big_server.url}/streams/account-10072?version=1")

    owner = page.get_by_test_id("state-panel").locator(OWNER).first
    expect(owner.get_by_test_id("reference-subject")).to_have_attribute("href", "/subjects/u018")
    screenshot(page, "related-1-account-owner")
    owner.get_by_test_id("reference-stream").click()

    expect(page).to_have_url(f"{big_server.url}/streams/user-u018")
    related = page.get_by_test_id("related")
    expect(related.get_by_test_id("related-account")).to_contain_text(["10058", "10072"])
    screenshot(page, "related-2-user-stream")
    related.get_by_test_id("related-subject").click()

    expect(page).to_have_url(f"{big_server.url}/subjects/u018")
    expect(page.get_by_test_id("subject-id")).to_have_text("u018")
    screenshot(page, "related-3-subject-page")
    assert csp_violations == []
    assert failed == []  # no 404 for an icon, or anything else


def test_a_viewer_follows_the_owner_but_is_offered_no_subject_page(page, big_server):
    log_in(page, big_server, "viewer")
    page.goto(f"{big_server.url}/streams/account-10072?version=1")

    page.get_by_test_id("state-panel").locator(OWNER).first.get_by_test_id(
        "reference-stream"
    ).click()

    expect(page).to_have_url(f"{big_server.url}/streams/user-u018")
    expect(page.get_by_test_id("related-account").first).to_be_visible()
    expect(page.locator("a[href^='/subjects/']")).to_have_count(0)


def test_an_event_type_in_the_catalog_opens_the_timeline_of_that_type(page, big_server, screenshot):
    page.set_viewport_size(WIDE)
    log_in(page, big_server, "viewer")
    page.get_by_role("link", name="Catalog", exact=True).click()

    card = page.locator("#type-TransferRequested")
    card.screenshot(path=str(ARTIFACTS / "related-4-catalog-type.png"))
    card.get_by_test_id("type-timeline").click()

    expect(page).to_have_url(re.compile(r"/timeline/\?type=TransferRequested$"))
    rows = page.get_by_test_id("timeline-row")
    expect(rows.first).to_be_visible()
    types = rows.locator(".badge--type").all_inner_texts()
    assert types and set(types) == {"TransferRequested"}
    screenshot(page, "related-5-type-timeline")


def test_the_people_list_is_one_click_from_every_page(page, big_server):
    log_in(page, big_server, "viewer")

    page.get_by_role("link", name="People", exact=True).click()

    expect(page).to_have_url(f"{big_server.url}/projections/users")
    expect(page.get_by_test_id("user-row").first).to_be_visible()
    expect(page.locator(".nav__link.is-active")).to_have_text("People")


@pytest.mark.parametrize("size", [WIDE, NARROW], ids=["1400px", "700px"])
@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/timeline/",
        "/timeline/?type=TransferRequested",
        "/streams/account-10023",
        "/streams/transfer-seed-001",
        "/projections/processes",
        "/streams/",
        "/snapshots/",
        "/aggregates/",
    ],
)
def test_no_position_stream_id_or_actor_is_cut(page, big_server, screenshot, size, path):
    page.set_viewport_size(size)
    log_in(page, big_server, "admin")
    page.goto(f"{big_server.url}{path}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    watched = page.locator(WATCHED)
    cut = page.evaluate(CUT_TEXT, WATCHED)

    assert watched.count() > 0
    assert cut == []
    name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "overview"
    screenshot(page, f"fit-{name}-{size['width']}")


def test_the_overview_shows_six_digit_positions_whole(page, big_server):
    page.set_viewport_size(WIDE)
    log_in(page, big_server, "viewer")

    positions = page.locator(".table--events tbody td.num:first-child")
    expect(positions.first).to_be_visible()
    texts = positions.all_inner_texts()

    assert texts and all(re.fullmatch(r"\d{6}", t.strip()) for t in texts), texts
    for cell in positions.all():
        assert cell.evaluate("c => c.scrollWidth <= c.clientWidth")
        assert cell.evaluate("c => getComputedStyle(c).textOverflow") != "ellipsis"


def test_a_process_actor_reads_whole_on_a_stream_page(page, big_server, screenshot):
    page.set_viewport_size(NARROW)
    log_in(page, big_server, "viewer")
    page.goto(f"{big_server.url}/streams/account-10023?from=301")  # the newest page

    actors = page.locator(".event-actor", has_text="process:transfer_money")
    # the actor is in the event's metadata: open the line of the first such event
    page.locator("tr.timeline-row", has=actors).first.get_by_test_id("row-expander").click()

    expect(actors.first).to_be_visible()
    assert page.evaluate(CUT_TEXT, ".event-actor") == []
    actors.first.scroll_into_view_if_needed()
    screenshot(page, "fit-process-actor-700")


def test_the_cut_check_sees_a_clipped_value_and_a_word_wrapped_inside(page, big_server):
    log_in(page, big_server, "viewer")
    page.evaluate(
        """() => {
          for (const [text, clip] of [["100364", true], ["process:transfer_money", false]]) {
            const probe = document.createElement("div");
            probe.className = "cut-probe";
            probe.textContent = text;
            probe.style.width = "3ch";
            probe.style.overflowWrap = "anywhere";
            if (clip) { probe.style.overflow = "hidden"; probe.style.whiteSpace = "nowrap"; }
            document.querySelector("main").append(probe);
          }
        }"""
    )

    cut = page.evaluate(CUT_TEXT, ".cut-probe")

    assert cut == ["clipped: 100364", "broken mid-word: process:transfer_money"]
