"""The dashboard's pages over stores other tools wrote: every read view with what the source
has, the domain's views absent rather than broken, payloads escaped, views logged."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from tests.explorer.stores import T0, sqlite_source_url
from tests.sources.eventsourcing_stores import Written

READ_PAGES = (
    "/",
    "/streams/",
    "/timeline/",
    "/snapshots/",
    "/catalog/",
    "/subscriptions/",
    "/notes/",
)
DOMAIN_PAGES = ("/console/", "/subjects/", "/projections/", "/aggregates/")


@pytest.fixture
def library(browse, eventsourcing_file: Written):
    shown = browse(sqlite_source_url(eventsourcing_file))
    shown.log_in("support")
    return shown


@pytest.fixture
def commanded(browse, commanded_bank):
    shown = browse(commanded_bank.url)
    shown.log_in("support")
    return shown


def test_every_read_view_answers_and_the_domains_views_are_absent(library):
    for path in READ_PAGES:
        status, html = library.page(path)
        assert status == 200, path
        assert "Read-only view of" in html
    for path in DOMAIN_PAGES:
        assert library.page(path)[0] == 404, path
    status, html = library.page("/")
    for absent in ("Console", "Live aggregates", "Projections", ">Subjects<"):
        assert absent not in html
    assert "Subscriptions" in html


def test_a_stream_shows_its_events_snapshot_and_fields_as_last_set(library, eventsourcing_file):
    ann = eventsourcing_file.ann.hex
    status, html = library.page(f"/streams/{ann}?version=2")
    assert status == 200
    assert html.count('class="timeline-row') == 3
    assert "snapshot at version 3 (the tool's snapshot" in html
    assert "Fields as last set at version" in html and "not the aggregate's state" in html
    assert "Account" in html  # the aggregate type, from the events' topics
    status, state = library.page(f"/streams/{ann}/state?version=3")
    assert "snapshot v3" in state  # every field comes from the library's snapshot
    assert library.page(f"/streams/{ann}?version=9")[0] == 400


def test_the_timeline_refuses_a_filter_the_source_does_not_record(library):
    status, html = library.page("/timeline/?correlation=abc")
    assert status == 400
    assert "cannot be filtered that way" in html
    status, html = library.page("/timeline/?type=Opened")
    assert status == 200 and html.count('data-testid="timeline-row"') == 2


def test_the_timeline_offers_the_one_clock_another_store_keeps(library):
    status, html = library.page("/timeline/")
    assert status == 200
    assert 'value="recorded" selected' in html and "this store's only clock" in html
    assert 'value="happened"' not in html
    assert library.page("/timeline/?clock=happened&since=2024-01-01")[0] == 400
    assert library.page("/timeline/?clock=recorded&since=2000-01-01")[0] == 200


def test_the_catalog_is_inferred_from_the_data(library):
    status, html = library.page("/catalog/")
    assert status == 200
    for name in ("Opened", "Deposited", "Requested", "Completed"):
        assert f'id="type-{name}"' in html
    assert "Inferred from the newest 7 of 7 events" in html
    status, html = library.page("/catalog/types/Deposited")
    assert "3 events" in html and "currency" in html and "schema v2" in html
    assert library.page("/catalog/types/Nope")[0] == 404


def test_snapshots_and_subscriptions_of_the_library(library, eventsourcing_file):
    status, html = library.page("/snapshots/")
    assert eventsourcing_file.ann.hex in html and eventsourcing_file.bob.hex in html
    status, html = library.page(f"/snapshots/{eventsourcing_file.ann.hex}")
    assert status == 200 and ">3</td>" in html
    status, html = library.page("/subscriptions/")
    assert "Upstream" in html


def test_payloads_shown_on_a_page_are_logged_with_who_and_where(library, eventsourcing_file):
    library.page(f"/streams/{eventsourcing_file.transfer.hex}")
    entries = [
        e for e in library.access_log() if e["subject_id"] == eventsourcing_file.transfer.hex
    ]
    assert entries and entries[0]["actor"] == "support" and entries[0]["action"] == "view"
    assert "another tool" in entries[0]["what"]
    status, html = library.page(f"/access-log/?subject_id={eventsourcing_file.transfer.hex}")
    assert status == 200 and eventsourcing_file.transfer.hex in html


def test_commanded_links_deleted_streams_and_escaped_payloads(commanded):
    status, html = commanded.page("/streams/")
    row = html.split("account-2</a>", 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="deleted-badge"' in row
    status, html = commanded.page("/streams/audit")
    assert html.count('data-testid="linked-event"') == 2
    status, html = commanded.page("/streams/account-2")
    assert "soft-deleted" in html
    for path in ("/streams/account-1", "/timeline/", "/catalog/", "/"):
        status, html = commanded.page(path)
        assert status == 200, path
        assert "<b>" not in html, path


@pytest.mark.parametrize("commanded_bank", ["jsonb"], indirect=True)
def test_commanded_chain_catalog_counts_snapshots_and_subscriptions(commanded, commanded_bank):
    first = commanded_bank.store.written[0]
    status, html = commanded.page(f"/timeline/events/{first.position}/chain")
    assert status == 200 and "Correlation tree" in html and "transfer-9" in html
    status, html = commanded.page("/catalog/")
    assert "3 events" in html  # MyApp.Opened, counted across the store
    status, html = commanded.page("/snapshots/")
    assert "account-1" in html
    status, html = commanded.page("/subscriptions/")
    assert "projector" in html and "watcher" in html


@pytest.mark.parametrize("commanded_bank", ["json"], indirect=True)
def test_a_corrupt_payload_is_a_marked_row_and_the_rest_browses(commanded, commanded_bank):
    commanded_bank.store.append(
        "account-1", [("Elixir.MyApp.Broken", b"\x83\x00not a term", None)], at=T0
    )
    status, html = commanded.page("/streams/account-1")
    assert status == 200
    assert "undecodable" in html
    assert html.count('class="timeline-row') == 4
    assert commanded.page("/timeline/")[0] == 200


@pytest.mark.parametrize("commanded_bank", ["jsonb"], indirect=True)
def test_the_live_timeline_wakes_on_commandeds_notification(commanded, commanded_bank):
    head = commanded.runtime.source.head_position()

    def append_soon() -> None:
        time.sleep(0.4)
        commanded_bank.store.append(
            "late-1", [("Elixir.MyApp.Late", {"n": 1}, None)], at=T0 + timedelta(days=2)
        )

    writer = threading.Thread(target=append_soon)
    started = time.monotonic()
    writer.start()
    try:
        status, html = commanded.page(f"/timeline/live?after={head}")
    finally:
        writer.join()
    assert status == 200
    assert "late-1" in html
    assert time.monotonic() - started < 1.5  # woken by the notification, not the timeout


def csrf_token(shown) -> str:
    shown.page("/notes/")
    with shown.client.session_transaction() as session:
        return session["csrf"]


def test_review_notes_pin_to_a_foreign_stream_and_type_in_eventscopes_database(
    library, eventsourcing_file
):
    ann = eventsourcing_file.ann.hex
    for kind, target in (("stream", ann), ("event_type", "Deposited"), ("event", "2")):
        response = library.client.post(
            "/notes/",
            data={
                "csrf_token": csrf_token(library),
                "kind": kind,
                "target": target,
                "body": f"check {kind} <script>",
            },
        )
        assert response.status_code == 302, kind
    status, html = library.page("/notes/")
    assert html.count("check ") >= 3 and "<script>" not in html
    refused = library.client.post(
        "/notes/",
        data={"csrf_token": csrf_token(library), "kind": "stream", "target": "nope", "body": "x"},
    )
    assert refused.status_code == 404
    assert library.client.post("/notes/", data={"kind": "stream", "target": ann}).status_code == 400


def test_metrics_and_readiness_answer_over_a_foreign_store(library):
    metrics = library.client.get("/metrics", headers=library.headers("viewer"))
    assert metrics.status_code == 200
    assert "eventscope_store_events 7.0" in metrics.get_data(as_text=True)
    assert library.client.get("/api/ready").status_code == 200


def test_with_a_wrong_key_every_event_still_lists_marked_encrypted(browse, encrypted_file):
    from eventsourcing.cryptography import AESCipher

    wrong = browse(sqlite_source_url(encrypted_file), cipher_key=AESCipher.create_key(num_bytes=32))
    wrong.log_in("viewer")
    status, html = wrong.page(f"/streams/{encrypted_file.ann.hex}")
    assert status == 200
    assert html.count('class="timeline-row') == 3
    assert html.count("&#34;encrypted&#34;: true") == 3
    status, html = wrong.page(f"/streams/{encrypted_file.ann.hex}?version=3")
    assert "No payload field could be read" in html


@pytest.mark.parametrize("commanded_bank", ["jsonb"], indirect=True)
def test_commanded_streams_filter_by_the_kinds_their_names_show(commanded):
    status, html = commanded.page("/streams/")
    assert '<option value="account">account</option>' in html
    assert '<option value="transfer">transfer</option>' in html
    status, html = commanded.page("/streams/?type=account&sort=id")
    listed = html.split('data-testid="streams-table"', 1)[1]
    assert "account-1" in listed and "account-2" in listed and "transfer-9" not in listed
    assert commanded.page("/streams/?type=nope")[0] == 400


def test_an_eventsourcing_store_names_streams_by_uuid_so_no_kind_filter_is_offered(library):
    status, html = library.page("/streams/")
    assert 'data-testid="stream-type"' not in html


def test_an_event_without_causation_ids_has_its_own_page_not_a_chain(library):
    status, html = library.page("/timeline/events/5/chain")
    assert status == 200
    assert "<h1>Event 5</h1>" in html and "Causation chain" not in html
    assert 'data-testid="event-metadata"' in html and "Requested" in html


def test_values_over_another_tools_store_show_as_stored(library, eventsourcing_file):
    ann = eventsourcing_file.ann.hex
    for path in (f"/streams/{ann}?version=3", f"/streams/{ann}/state?version=3", "/timeline/"):
        status, html = library.page(path)
        assert status == 200, path
        assert "value--" not in html, path  # no domain here declares how a field reads
        assert 'data-testid="state-chart"' not in html, path
