"""Browsing stores other tools wrote, in chromium: an `eventsourcing` SQLite file, Commanded's
EventStore and the `eventsourcing` library's PostgreSQL tables, read-only, with what each
source can show and nothing that would change it."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, _served
from tests.explorer.stores import commanded_bank, eventsourcing_file, sqlite_source_url
from tests.sources.eventsourcing_stores import write_postgres_store
from webapp.bootstrap import build_browse_runtime
from webapp.config import Settings
from webapp.sources.urls import open_source, parse_source_url

pytestmark = pytest.mark.browser

__all__ = ["commanded_bank", "eventsourcing_file"]

DOMAIN_AREAS = ("Live aggregates", "Subjects", "Projections", "Console")
READ_AREAS = ("Overview", "Streams", "Global timeline", "Snapshots", "Subscriptions", "Catalog")


@contextmanager
def browsing(source_url: str, folder: Path) -> Iterator[LiveServer]:
    """What `eventscope browse SOURCE_URL` serves, on a free loopback port."""
    parsed = parse_source_url(source_url)
    settings = Settings(
        db_url=f"sqlite:///{folder / 'eventscope.db'}", secret_key=secrets.token_urlsafe(32)
    )
    runtime = build_browse_runtime(settings, open_source(parsed), source_name=parsed.display)
    try:
        with _served(runtime) as live:
            yield live
    finally:
        runtime.close()


def log_in(page, live: LiveServer, role: str = "viewer") -> None:
    page.goto(live.login_url(role))
    page.wait_for_url(f"{live.url}/")


def nav_labels(page) -> list[str]:
    return [label.strip() for label in page.locator("nav.sidebar .nav__link").all_inner_texts()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_domain_expert_walks_an_eventsourcing_file_without_changing_it(
    page, eventsourcing_file, tmp_path, screenshot, csp_violations
):
    written = eventsourcing_file
    store = written.path
    before = sha256(store)
    with browsing(sqlite_source_url(written), tmp_path) as live:
        log_in(page, live)
        labels = nav_labels(page)
        assert all(area in labels for area in READ_AREAS)
        assert not any(area in labels for area in DOMAIN_AREAS)
        expect(page.get_by_test_id("source-banner")).to_contain_text("eventsourcing+sqlite")
        expect(page.get_by_test_id("event-count")).to_have_text("7")
        screenshot(page, "explorer-eventsourcing-1-overview")

        # the streams, typed by their events' topics; one account's history
        page.get_by_role("link", name="Streams", exact=True).click()
        table = page.get_by_test_id("streams-table")
        expect(table.locator("tbody tr")).to_have_count(3)
        expect(table).to_contain_text("Account")
        expect(table).to_contain_text("Transfer")
        table.get_by_role("link", name=written.ann.hex).click()
        expect(page.get_by_test_id("stream-id")).to_have_text(written.ann.hex)
        expect(page.locator("tr.timeline-row")).to_have_count(3)
        expect(page.get_by_test_id("snapshot-marker")).to_be_visible()

        # a version: the fields as last set, honestly labelled
        page.get_by_test_id("select-version").nth(1).click()
        panel = page.get_by_test_id("state-panel")
        expect(panel.get_by_test_id("state-version")).to_have_text("2")
        expect(panel.get_by_test_id("fields-honesty")).to_contain_text("not the aggregate's state")
        state = panel.get_by_test_id("state")
        expect(state).to_contain_text('"ann"')
        expect(state).to_contain_text('"10.50"')
        screenshot(page, "explorer-eventsourcing-2-fields-as-last-set")

        # the global timeline by type; the actor and correlation filters are not offered
        page.get_by_role("link", name="Global timeline").click()
        expect(page.get_by_test_id("filter-actor")).to_have_count(0)
        expect(page.get_by_test_id("filter-correlation")).to_have_count(0)
        page.get_by_test_id("filter-type").fill("Deposited")
        page.get_by_test_id("filter-apply").click()
        expect(page.get_by_test_id("timeline-row")).to_have_count(3)
        screenshot(page, "explorer-eventsourcing-3-timeline")

        # the catalog inferred from the data, and the library's trackers
        page.get_by_role("link", name="Catalog").click()
        deposited = page.locator("#type-Deposited")
        expect(deposited.get_by_test_id("type-count")).to_have_text("3 events")
        expect(deposited.get_by_test_id("inferred-fields")).to_contain_text("currency")
        screenshot(page, "explorer-eventsourcing-4-catalog")
        page.get_by_role("link", name="Subscriptions").click()
        expect(page.get_by_test_id("subscription")).to_contain_text("Upstream")

        # what the library never wrote is not there
        assert page.request.get(f"{live.url}/console/").status == 404
    assert csp_violations == []
    assert sha256(store) == before
    assert not list(store.parent.glob("*-wal")) and not list(store.parent.glob("*-shm"))


@pytest.mark.parametrize("commanded_bank", ["jsonb"], indirect=True)
def test_an_auditor_follows_a_correlation_through_commandeds_eventstore(
    page, commanded_bank, tmp_path, screenshot, csp_violations
):
    with browsing(commanded_bank.url, tmp_path) as live:
        log_in(page, live, "support")
        page.get_by_role("link", name="Streams", exact=True).click()
        page.get_by_test_id("stream-search").fill("")
        deleted = page.locator("tr", has=page.get_by_role("link", name="account-2"))
        expect(deleted.get_by_test_id("deleted-badge")).to_be_visible()

        # a stream of links: each marked with the stream it was written to
        page.get_by_role("link", name="audit").click()
        links = page.get_by_test_id("linked-event")
        expect(links).to_have_count(2)
        expect(links.first).to_contain_text("account-1")
        screenshot(page, "explorer-commanded-1-links")

        # payload text is shown as text, never as markup
        page.goto(f"{live.url}/streams/account-1")
        expect(page.locator("tr.timeline-row").first).to_contain_text("<b>opened</b>")
        assert page.locator(".payload-cell b").count() == 0

        # the correlation on the global timeline, then one event's causation chain
        page.get_by_role("link", name="Global timeline").click()
        page.get_by_test_id("filter-correlation").fill("11111111-1111-4111-8111-111111111111")
        page.get_by_test_id("filter-apply").click()
        rows = page.get_by_test_id("timeline-row")
        expect(rows).to_have_count(3)
        screenshot(page, "explorer-commanded-2-correlation")
        rows.first.get_by_test_id("row-expander").click()  # the line opens to its ids and links
        rows.first.get_by_role("link", name="chain").click()
        expect(page.locator("body")).to_contain_text("MyApp.Opened")
        screenshot(page, "explorer-commanded-3-chain")

        # the one snapshot it keeps, and the subscriptions with their lag
        page.get_by_role("link", name="Snapshots").click()
        expect(page.get_by_test_id("snapshot-streams")).to_contain_text("account-1")
        page.get_by_role("link", name="Subscriptions").click()
        lags = page.get_by_test_id("subscription")
        expect(lags).to_have_count(2)
        expect(page.locator("body")).to_contain_text("projector")
        screenshot(page, "explorer-commanded-4-subscriptions")
    assert csp_violations == []


def test_an_engineer_browses_the_eventsourcing_librarys_postgresql_tables(
    page, postgresql_url, tmp_path, screenshot, csp_violations
):
    schema = postgresql_url.rsplit("%3D", 1)[1]
    written = write_postgres_store(postgresql_url, schema, "plain")
    base = postgresql_url.split("?", 1)[0].replace("postgresql+psycopg://", "")
    url = f"eventsourcing+postgresql://{base}?schema={schema}"
    with browsing(url, tmp_path) as live:
        log_in(page, live)
        expect(page.get_by_test_id("event-count")).to_have_text("7")
        page.get_by_role("link", name="Streams", exact=True).click()
        page.get_by_test_id("streams-table").get_by_role("link", name=written.transfer.hex).click()
        expect(page.locator("tr.timeline-row")).to_have_count(2)
        expect(page.locator("tr.timeline-row").last).to_contain_text("Completed")
        page.get_by_test_id("latest-state").click()
        expect(page.get_by_test_id("state")).to_contain_text('"5.00"')
        screenshot(page, "explorer-eventsourcing-postgresql")
    assert csp_violations == []
