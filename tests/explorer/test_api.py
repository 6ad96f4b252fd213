"""The JSON API over stores other tools wrote: the same routes and reply shapes as over
eventscope's own store, with what each source has, and nothing that would write."""

from __future__ import annotations

import pytest

from tests.explorer.stores import CORRELATION, sqlite_source_url
from tests.sources.eventsourcing_stores import OPENED_ON, Written

EVENT_KEYS = {
    "position",
    "stream_id",
    "stream_version",
    "type",
    "data",
    "metadata",
    "recorded_at",
    "occurred_at",
    "event_id",
    "schema_version",
}


# --- the eventsourcing library's SQLite file ---------------------------------------------------


@pytest.fixture
def library(browse, eventsourcing_file: Written):
    return browse(sqlite_source_url(eventsourcing_file))


def test_streams_list_by_the_stored_originator_id_and_page_by_it(library, eventsourcing_file):
    written = eventsourcing_file
    status, first = library.get_json("/api/streams?limit=2")
    assert status == 200
    status, rest = library.get_json(f"/api/streams?limit=2&after={first['next']}")
    ids = [s["stream_id"] for s in first["streams"] + rest["streams"]]
    assert ids == sorted([written.ann.hex, written.bob.hex, written.transfer.hex])
    assert rest["next"] is None
    kinds = {s["stream_id"]: s["type"] for s in first["streams"] + rest["streams"]}
    assert kinds[written.ann.hex] == "Account"
    assert kinds[written.transfer.hex] == "Transfer"


def test_a_streams_events_read_with_positions_types_topics_and_typed_values(
    library, eventsourcing_file
):
    written = eventsourcing_file
    status, body = library.get_json(f"/api/streams/{written.ann.hex}/events")
    assert status == 200
    opened, deposit, usd = body["events"]
    assert set(opened) == EVENT_KEYS
    assert [e["type"] for e in body["events"]] == ["Opened", "Deposited", "Deposited"]
    assert opened["metadata"]["topic"].endswith(":Account.Opened")
    assert opened["data"] == {
        "owner": "ann",
        "ref": str(written.ann_ref),
        "opened_on": OPENED_ON.isoformat(),
    }
    assert (deposit["schema_version"], deposit["data"]) == (
        2,
        {"amount": "10.50", "currency": "EUR"},
    )
    assert usd["data"] == {"amount": "0.25", "currency": "USD"}
    positions = {n[0] for n in written.notifications if n[1] == written.ann.hex}
    assert {e["position"] for e in body["events"]} == positions
    assert body["next"] is None


def test_the_global_log_is_the_notification_log_and_filters_within_a_budget(
    library, eventsourcing_file
):
    written = eventsourcing_file
    status, body = library.get_json("/api/events?limit=100")
    assert status == 200
    assert [(e["position"], e["stream_id"], e["stream_version"]) for e in body["events"]] == [
        (n[0], n[1], n[2]) for n in written.notifications
    ]
    status, deposits = library.get_json("/api/events?type=Deposited")
    assert [e["position"] for e in deposits["events"]] == [2, 4, 6]
    status, paged = library.get_json("/api/events?limit=2")
    assert (paged["next"], [e["position"] for e in paged["events"]]) == (2, [1, 2])


def test_filters_the_library_does_not_record_are_refused_with_a_clear_error(library):
    for query in ("correlation_id=x", "actor=ann", "data=owner%3Dann"):
        response = library.client.get(f"/api/events?{query}", headers=library.headers("viewer"))
        assert response.status_code == 400, query
        assert "error" in response.get_json()


def test_state_is_the_fields_as_last_set_and_says_so(library, eventsourcing_file):
    written = eventsourcing_file
    status, body = library.get_json(f"/api/streams/{written.ann.hex}/state?version=2")
    assert status == 200
    assert body["kind"] == "fields_as_last_set"
    assert (body["stream_id"], body["version"]) == (written.ann.hex, 2)
    assert body["state"]["owner"] == "ann"
    assert body["state"]["amount"] == "10.50"
    assert body["snapshot"] is None  # the library's snapshot is at version 3
    status, latest = library.get_json(f"/api/streams/{written.ann.hex}/state")
    assert latest["version"] == 3
    assert latest["snapshot"]["version"] == 3
    # the library's own snapshot, taken after version 3, holds the aggregate's balance
    assert latest["snapshot"]["data"]["balance"] == "10.75"
    assert latest["state"]["balance"] == "10.75"
    assert latest["set_at"]["balance"] == 3
    status, missing = library.get_json(f"/api/streams/{written.ann.hex}/state?version=9")
    assert status == 400 and "error" in missing


def test_payload_views_are_in_eventscopes_own_access_log(library, eventsourcing_file):
    written = eventsourcing_file
    library.get_json(f"/api/streams/{written.bob.hex}/events", role="support")
    entries = library.access_log()
    assert any(
        e["actor"] == "support" and e["subject_id"] == written.bob.hex and e["action"] == "view"
        for e in entries
    )


def test_routes_that_act_through_eventscopes_domain_are_absent(library, eventsourcing_file):
    head = library.runtime.source.head_position()
    for method, path, role in (
        ("post", "/api/commands", "admin"),
        ("post", "/api/subjects/lookup", "support"),
        ("post", "/api/subjects/u-1/forget", "support"),
        ("get", "/api/projections", "viewer"),
        ("post", "/api/projections/x/rebuild", "admin"),
        ("get", "/api/read/accounts/A-1", "viewer"),
    ):
        response = getattr(library.client, method)(
            path, headers=library.headers(role), json={"command": "X", "reason": "r"}
        )
        assert response.status_code == 404, path
        assert "read-only" in response.get_json()["error"]
    assert library.runtime.source.head_position() == head


def test_roles_still_apply(library):
    assert library.client.get("/api/streams").status_code == 401
    response = library.client.get("/api/access-log", headers=library.headers("viewer"))
    assert response.status_code == 403


def test_without_the_key_events_list_and_payloads_say_encrypted(browse, encrypted_file):
    keyless = browse(sqlite_source_url(encrypted_file))
    status, body = keyless.get_json("/api/events")
    assert status == 200
    assert [e["type"] for e in body["events"]][:2] == ["Opened", "Deposited"]
    assert all("encrypted" in str(e["data"]) for e in body["events"])
    with_key = browse(sqlite_source_url(encrypted_file), cipher_key=encrypted_file.cipher_key)
    status, body = with_key.get_json(f"/api/streams/{encrypted_file.ann.hex}/events")
    assert body["events"][0]["data"]["owner"] == "ann"


# --- Commanded's EventStore -------------------------------------------------------------------


@pytest.fixture
def commanded(browse, commanded_bank):
    return browse(commanded_bank.url)


def test_commanded_streams_events_and_positions(commanded, commanded_bank):
    status, body = commanded.get_json("/api/streams")
    assert status == 200
    ids = [s["stream_id"] for s in body["streams"]]
    assert ids == sorted(["account-1", "account-2", "transfer-9", "audit"])
    status, events = commanded.get_json("/api/streams/account-1/events")
    assert [e["data"] for e in events["events"]] == commanded_bank.data["account-1"]
    assert [e["type"] for e in events["events"]] == [
        "MyApp.Opened",
        "MyApp.Deposited",
        "MyApp.Deposited",
    ]
    written = {w.event_id: w for w in commanded_bank.store.written}
    for event in events["events"]:
        source = written[__import__("uuid").UUID(event["event_id"])]
        assert (event["position"], event["stream_version"]) == (
            source.position,
            source.stream_version,
        )
        assert event["recorded_at"].startswith(source.created_at.isoformat()[:19])


def test_commanded_global_log_filters_by_correlation_and_type(commanded, commanded_bank):
    status, body = commanded.get_json(f"/api/events?correlation_id={CORRELATION}")
    assert status == 200
    assert [e["stream_id"] for e in body["events"]] == ["account-1", "account-1", "transfer-9"]
    assert all(e["metadata"]["correlation_id"] == str(CORRELATION) for e in body["events"])
    status, opened = commanded.get_json("/api/events?type=MyApp.Opened")
    assert [e["stream_id"] for e in opened["events"]] == ["account-1", "account-2", "transfer-9"]


def test_commanded_links_read_in_the_stream_they_were_linked_into(commanded):
    status, body = commanded.get_json("/api/streams/audit/events")
    assert status == 200
    linked = [e["metadata"]["linked_from"] for e in body["events"]]
    assert linked == [
        {"stream_id": "account-1", "stream_version": 1},
        {"stream_id": "account-2", "stream_version": 1},
    ]
    assert [e["stream_version"] for e in body["events"]] == [1, 2]


def test_commanded_state_starts_from_the_one_snapshot_it_keeps(commanded, commanded_bank):
    status, body = commanded.get_json("/api/streams/account-1/state")
    assert status == 200
    assert body["kind"] == "fields_as_last_set"
    assert body["snapshot"] == {"version": 2, "data": {"balance": 3, "owner": "ann"}}
    assert body["version"] == 3
    assert body["state"]["balance"] == 3  # from the snapshot
    for name, value in commanded_bank.data["account-1"][-1].items():
        assert body["state"][name] == value  # the event after it
    status, early = commanded.get_json("/api/streams/account-1/state?version=1")
    assert early["snapshot"] is None  # the version-1 snapshot was overwritten
    assert early["state"] == {k: v for k, v in commanded_bank.data["account-1"][0].items()}


def test_a_filter_the_file_cannot_index_scans_a_budget_and_hands_back_a_cursor(
    library, monkeypatch
):
    from webapp.sources.eventsourcing import sqlite

    monkeypatch.setattr(sqlite, "SCAN_BUDGET", 2)
    status, body = library.get_json("/api/events?type=Completed&limit=5")
    assert status == 200
    assert (body["events"], body["next"]) == ([], 2)  # rows 1-2 looked at, none matched
    found, after = [], body["next"]
    while after is not None:
        status, body = library.get_json(f"/api/events?type=Completed&limit=5&after={after}")
        found += [e["position"] for e in body["events"]]
        after = body["next"]
    assert found == [7]


# --- the eventsourcing library's PostgreSQL tables ---------------------------------------------


def test_the_librarys_postgresql_tables_answer_the_same_routes(browse, postgresql_url):
    from tests.sources.eventsourcing_stores import write_postgres_store

    schema = postgresql_url.rsplit("%3D", 1)[1]
    written = write_postgres_store(postgresql_url, schema, "zlib")
    base = postgresql_url.split("?", 1)[0].replace("postgresql+psycopg://", "")
    shown = browse(f"eventsourcing+postgresql://{base}?app=bank&schema={schema}")
    status, log = shown.get_json("/api/events")
    assert status == 200
    assert [(e["position"], e["stream_id"], e["stream_version"]) for e in log["events"]] == [
        (n[0], n[1], n[2]) for n in written.notifications
    ]
    status, events = shown.get_json(f"/api/streams/{written.ann.hex}/events")
    assert [e["data"].get("amount") for e in events["events"]] == [None, "10.50", "0.25"]
    status, state = shown.get_json(f"/api/streams/{written.bob.hex}/state?version=2")
    assert state["kind"] == "fields_as_last_set"
    assert state["snapshot"]["version"] == 2 and state["state"]["balance"] == "5.00"
    status, streams = shown.get_json("/api/streams")
    assert {s["type"] for s in streams["streams"]} == {"Account", "Transfer"}
