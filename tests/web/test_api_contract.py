"""The JSON API keeps the shapes DESIGN.md promises, pages with cursors, and refuses bad input."""

from __future__ import annotations

import json

import pytest

from tests.web.conftest import dispatch
from webapp.store import NewEvent


def test_health_needs_no_authentication(client):
    response = client.get("/api/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_a_dispatched_command_returns_its_stream_version_and_events(client, admin, bank):
    response = client.post(
        "/api/commands",
        json={"command": "DepositMoney", "data": {"account_number": "A-100", "amount": 75}},
        headers=admin,
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["stream_id"] == "account-A-100"
    assert body["version"] == 4
    [event] = body["events"]
    assert event["type"] == "MoneyDeposited"
    assert event["stream_version"] == 4
    assert event["data"]["amount"] == 75
    assert event["metadata"]["actor"] == "admin"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"command": "NoSuchCommand", "data": {}}, 400),
        ({"command": "DepositMoney", "data": {"account_number": "A-100"}}, 400),
        ({"command": "DepositMoney", "data": {"account_number": "A-100", "amount": "ten"}}, 400),
        ({"command": "DepositMoney", "data": {"account_number": "A-100", "amount": -5}}, 400),
        ({"command": "WithdrawMoney", "data": {"account_number": "A-100", "amount": 10**9}}, 422),
        ({"command": "DepositMoney", "data": "not an object"}, 400),
        ({"data": {}}, 400),
        ({"command": "DepositMoney", "data": {}, "consistency": "sometimes"}, 400),
        ([1, 2, 3], 400),
    ],
)
def test_a_refused_command_is_a_json_error_and_appends_nothing(
    client, admin, runtime, bank, body, status
):
    head_before = runtime.store.head_position()

    response = client.post("/api/commands", json=body, headers=admin)

    assert response.status_code == status
    assert isinstance(response.get_json()["error"], str)
    assert runtime.store.head_position() == head_before


def test_a_body_that_is_not_json_is_refused(client, admin):
    response = client.post(
        "/api/commands", data="command=DepositMoney", headers=admin, content_type="text/plain"
    )

    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]


def test_streams_list_items_carry_id_version_type_and_time(client, viewer, bank):
    response = client.get("/api/streams", headers=viewer)

    assert response.status_code == 200
    body = response.get_json()
    by_id = {row["stream_id"]: row for row in body["streams"]}
    assert by_id["account-A-100"]["version"] == 3
    assert by_id["account-A-100"]["type"] == "BankAccount"
    assert by_id["user-u-1"]["type"] == "User"
    assert by_id["user-u-1"]["updated_at"]
    assert body["next"] is None


def test_streams_are_keyset_paged_by_the_next_cursor(client, viewer, runtime, bank):
    for number in range(5):
        runtime.router.dispatch_json(
            "OpenAccount",
            {"account_number": f"P-{number}", "owner_id": "u-1", "initial_balance": 0},
        )
    seen, after = [], None
    while True:
        query = {"prefix": "account-P-", "limit": 2, **({"after": after} if after else {})}
        body = client.get("/api/streams", query_string=query, headers=viewer).get_json()
        seen.extend(row["stream_id"] for row in body["streams"])
        after = body["next"]
        if after is None:
            break

    assert seen == [f"account-P-{n}" for n in range(5)]


def test_a_streams_events_come_in_order_with_the_full_event_shape(client, viewer, bank):
    response = client.get("/api/streams/account-A-100/events", headers=viewer)

    assert response.status_code == 200
    events = response.get_json()["events"]
    assert [e["stream_version"] for e in events] == [1, 2, 3]
    assert [e["type"] for e in events] == ["BankAccountOpened", "MoneyDeposited", "MoneyWithdrawn"]
    for event in events:
        assert set(event) >= {
            "position",
            "stream_id",
            "stream_version",
            "type",
            "data",
            "metadata",
            "recorded_at",
        }
        assert event["stream_id"] == "account-A-100"


def test_stream_events_page_from_a_version(client, viewer, bank):
    first = client.get(
        "/api/streams/account-A-100/events", query_string={"limit": 2}, headers=viewer
    ).get_json()
    rest = client.get(
        "/api/streams/account-A-100/events",
        query_string={"from_version": first["next"]},
        headers=viewer,
    ).get_json()

    assert [e["stream_version"] for e in first["events"]] == [1, 2]
    assert first["next"] == 3
    assert [e["stream_version"] for e in rest["events"]] == [3]
    assert rest["next"] is None


def test_state_defaults_to_the_latest_version(client, viewer, bank):
    response = client.get("/api/streams/account-A-100/state", headers=viewer)

    assert response.status_code == 200
    body = response.get_json()
    assert body["stream_id"] == "account-A-100"
    assert body["version"] == 3
    assert body["state"]["balance"] == 1200
    assert body["state"]["status"] == "open"


def test_state_at_an_earlier_version_is_time_travel(client, viewer, bank):
    body = client.get(
        "/api/streams/account-A-100/state", query_string={"version": 1}, headers=viewer
    ).get_json()

    assert body["version"] == 1
    assert body["state"]["balance"] == 1000


def test_personal_data_is_masked_for_viewers_and_shown_to_support(client, auth_headers, bank):
    as_viewer = client.get("/api/streams/user-u-1/events", headers=auth_headers("viewer"))
    as_support = client.get("/api/streams/user-u-1/events", headers=auth_headers("support"))

    viewer_data = as_viewer.get_json()["events"][0]["data"]
    support_data = as_support.get_json()["events"][0]["data"]
    assert "Ada Lovelace" not in as_viewer.get_data(as_text=True)
    assert viewer_data["user_id"] == "u-1"
    assert support_data["name"] == "Ada Lovelace"
    assert support_data["email"] == "ada@example.org"


def test_personal_data_in_state_is_masked_for_viewers(client, auth_headers, bank):
    as_viewer = client.get("/api/streams/user-u-1/state", headers=auth_headers("viewer"))
    as_support = client.get("/api/streams/user-u-1/state", headers=auth_headers("support"))

    assert "ada@example.org" not in as_viewer.get_data(as_text=True)
    assert as_support.get_json()["state"]["email"] == "ada@example.org"


def test_global_log_is_keyset_paged_by_position(client, viewer, bank):
    first = client.get("/api/events", query_string={"limit": 3}, headers=viewer).get_json()
    second = client.get(
        "/api/events", query_string={"after": first["next"], "limit": 3}, headers=viewer
    ).get_json()

    positions = [e["position"] for e in first["events"] + second["events"]]
    assert positions == sorted(positions)
    assert len(set(positions)) == 4
    assert second["next"] is None


def test_an_unfiltered_log_page_reads_the_head_only_when_it_found_nothing(
    client, viewer, runtime, bank, monkeypatch
):
    head = runtime.store.head_position()
    head_reads: list[int] = []
    read_head = runtime.source.head_position

    def counted_head_read() -> int:
        head_reads.append(read_head())
        return head_reads[-1]

    monkeypatch.setattr(runtime.source, "head_position", counted_head_read)

    def page(**query: int) -> tuple[dict, int, int]:
        head_reads.clear()
        reply = client.get("/api/events", query_string=query, headers=viewer)
        assert reply.status_code == 200
        return reply.get_json(), int(reply.headers["Complete-To"]), len(head_reads)

    full, full_to, full_reads = page(limit=2)
    last, last_to, last_reads = page(after=head - 1)
    empty, empty_to, empty_reads = page(after=head)
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=5)
    new_head = runtime.store.head_position()
    arrived, arrived_to, arrived_reads = page(after=head)

    assert full["next"] == full_to == full["events"][-1]["position"] and full_reads == 0
    assert [e["position"] for e in last["events"]] == [head]
    assert last["next"] is None and last_to == head and last_reads == 0
    assert empty["events"] == [] and empty_to == head and empty_reads == 1
    assert [e["position"] for e in arrived["events"]] == [new_head]
    assert arrived_to == new_head and arrived_reads == 0


def test_a_filtered_log_page_states_the_position_it_is_complete_to(client, viewer, runtime, bank):
    deposits = {"type": "MoneyDeposited"}
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=7)
    first = client.get("/api/events", query_string={**deposits, "limit": 1}, headers=viewer)
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=5)  # the log's tail
    last = client.get("/api/events", query_string=deposits, headers=viewer)

    assert first.get_json()["next"] is not None
    assert int(first.headers["Complete-To"]) == first.get_json()["next"]
    assert last.get_json()["next"] is None
    assert int(last.headers["Complete-To"]) == runtime.store.head_position()
    assert [e["data"]["amount"] for e in last.get_json()["events"]] == [250, 7, 5]


def test_global_log_filters_by_type_and_correlation_id(client, viewer, bank):
    deposits = client.get(
        "/api/events", query_string={"type": "MoneyDeposited"}, headers=viewer
    ).get_json()["events"]
    correlation = deposits[0]["metadata"]["correlation_id"]
    correlated = client.get(
        "/api/events", query_string={"correlation_id": correlation}, headers=viewer
    ).get_json()["events"]

    assert [e["type"] for e in deposits] == ["MoneyDeposited"]
    assert [e["position"] for e in correlated] == [deposits[0]["position"]]


def test_global_log_filters_by_several_types_a_stream_prefix_and_an_actor(
    client, viewer, runtime, bank
):
    runtime.router.dispatch_json(
        "DepositMoney", {"account_number": "A-100", "amount": 5}, metadata={"actor": "teller:amara"}
    )

    def events(**query):
        reply = client.get("/api/events", query_string=query, headers=viewer)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()["events"]

    moves = events(type=["MoneyDeposited", "MoneyWithdrawn"])
    users = events(stream_prefix="user-")
    by_teller = events(actor="teller:amara")
    teller_withdrawals = events(actor="teller:amara", type="MoneyWithdrawn")

    assert sorted(e["type"] for e in moves) == [
        "MoneyDeposited",
        "MoneyDeposited",
        "MoneyWithdrawn",
    ]
    assert users and {e["stream_id"] for e in users} == {"user-u-1"}
    assert [(e["type"], e["data"]["amount"]) for e in by_teller] == [("MoneyDeposited", 5)]
    assert teller_withdrawals == []
    assert [e["type"] for e in events(data="amount=5")] == ["MoneyDeposited"]
    assert {e["type"] for e in events(data="account_number=A-100")} == {
        "BankAccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn",
    }


def test_a_payload_filter_matches_old_events_as_read_today_and_pages_on_when_cut_short(
    client, viewer, runtime, bank, monkeypatch
):
    from webapp.domain import log_search

    def old_deposits(value: str, count: int) -> list[int]:
        data = {"account_number": "A-100", "value": value}
        old = [NewEvent("MoneyDeposited", data, schema_version=1) for _ in range(count)]
        version = runtime.store.stream_info("account-A-100").version
        return [e.position for e in runtime.store.append("account-A-100", old, version).events]

    def page(**query):
        query = {"data": "amount=250", "limit": 100, **query}
        reply = client.get("/api/events", query_string=query, headers=viewer)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    old_deposits("0.01", 20)
    [old_match] = old_deposits("2.50", 1)
    whole = page()
    monkeypatch.setattr(log_search, "SCAN_LIMIT", 8)
    pages = [page()]
    while pages[-1]["next"] is not None:
        pages.append(page(after=pages[-1]["next"]))

    assert [e["position"] for e in whole["events"]] == [3, old_match]
    assert whole["events"][1]["data"] == {"account_number": "A-100", "value": "2.50"}
    assert whole["next"] is None
    assert [[e["position"] for e in p["events"]] for p in pages] == [[3], [], [old_match]]


def test_global_log_filters_by_a_time_range_since_inclusive_until_exclusive(
    client, viewer, runtime, bank
):
    everything = client.get("/api/events", headers=viewer).get_json()["events"]
    middle = everything[len(everything) // 2]["recorded_at"]

    since = client.get("/api/events", query_string={"since": middle}, headers=viewer)
    until = client.get("/api/events", query_string={"until": middle}, headers=viewer)

    later = since.get_json()["events"]
    earlier = until.get_json()["events"]
    assert later and earlier
    assert all(e["recorded_at"] >= middle for e in later)
    assert all(e["recorded_at"] < middle for e in earlier)
    assert [e["position"] for e in earlier + later] == [e["position"] for e in everything]


def test_an_auditor_pages_through_the_access_log(client, auth_headers, runtime, bank):
    support = auth_headers("support")
    for _ in range(3):
        client.get("/api/subjects/u-1/export", headers=support)
    client.post("/api/subjects/u-1/forget", json={"reason": "erasure #4"}, headers=support)

    first = client.get(
        "/api/access-log", query_string={"subject_id": "u-1", "limit": 2}, headers=support
    ).get_json()
    second = client.get(
        "/api/access-log",
        query_string={"subject_id": "u-1", "limit": 2, "before": first["next"]},
        headers=support,
    ).get_json()
    exports = client.get(
        "/api/access-log", query_string={"action": "export"}, headers=support
    ).get_json()

    entries = first["entries"] + second["entries"]
    assert [e["action"] for e in entries] == ["forget", "export", "export", "export"]
    assert {e["subject_id"] for e in entries} == {"u-1"}
    assert set(entries[0]) == {"id", "at", "actor", "action", "subject_id", "what", "purpose"}
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert second["next"] is None
    assert [e["action"] for e in exports["entries"]] == ["export"] * 3
    assert "Ada" not in json.dumps(entries) and "ada@example.org" not in json.dumps(entries)


@pytest.mark.parametrize(
    "path",
    [
        "/api/streams?limit=0",
        "/api/streams?limit=1001",
        "/api/streams?limit=abc",
        "/api/streams?limit=1.5",
        "/api/streams/account-A-100/events?from_version=0",
        "/api/streams/account-A-100/events?from_version=x",
        "/api/streams/account-A-100/events?limit=-1",
        "/api/streams/account-A-100/state?version=0",
        "/api/streams/account-A-100/state?version=99",
        "/api/streams/account-A-100/state?version=two",
        "/api/events?after=-1",
        "/api/events?after=99999999999999999999999",
        "/api/events?limit=5000",
        "/api/events?type=" + "x" * 500,
        "/api/events?" + "&".join(f"type=T{n}" for n in range(21)),
        "/api/events?since=yesterday",
        "/api/events?data=no-equals-sign",
        "/api/events?data=a.b%3D1",
        "/api/events?since=2026-01-02&until=2026-01-01",
        "/api/access-log?action=peek",
        "/api/access-log?limit=501",
        "/api/access-log?before=0",
        "/api/access-log?until=soon",
    ],
)
def test_bad_query_parameters_are_a_400_json_error(client, auth_headers, bank, path):
    response = client.get(path, headers=auth_headers("support"))

    assert response.status_code == 400
    assert response.is_json
    assert response.get_json()["error"]


@pytest.mark.parametrize(
    "path", ["/api/streams/account-nope/events", "/api/streams/account-nope/state"]
)
def test_an_unknown_stream_is_a_404(client, viewer, path):
    response = client.get(path, headers=viewer)

    assert response.status_code == 404
    assert "account-nope" in response.get_json()["error"]


def test_export_returns_the_subjects_document(client, auth_headers, bank):
    response = client.get("/api/subjects/u-1/export", headers=auth_headers("support"))

    assert response.status_code == 200
    body = response.get_json()
    assert body["subject_id"] == "u-1"
    assert "Ada Lovelace" in response.get_data(as_text=True)


def test_forget_needs_a_reason(client, auth_headers, bank):
    response = client.post(
        "/api/subjects/u-1/forget", json={"reason": "  "}, headers=auth_headers("support")
    )

    assert response.status_code == 400


def test_after_forget_every_api_view_shows_the_subject_as_forgotten(client, auth_headers, bank):
    support = auth_headers("support")

    forgot = client.post(
        "/api/subjects/u-1/forget", json={"reason": "erasure request"}, headers=support
    )
    events = client.get("/api/streams/user-u-1/events", headers=support)
    state = client.get("/api/streams/user-u-1/state", headers=support)

    assert forgot.status_code == 200
    assert forgot.get_json()["held_data"] is True
    for response in (events, state):
        text = response.get_data(as_text=True)
        assert "Ada Lovelace" not in text
        assert "ada@example.org" not in text
        assert "[forgotten]" in text


def test_forgetting_an_id_that_held_nothing_says_so(client, auth_headers, bank):
    forgot = client.post(
        "/api/subjects/u-typo/forget",
        json={"reason": "erasure request"},
        headers=auth_headers("support"),
    )

    assert forgot.status_code == 200
    assert forgot.get_json()["held_data"] is False
    assert forgot.get_json()["streams"] == []


def test_an_admin_reregisters_a_forgotten_subject_through_the_api(
    client, auth_headers, runtime, bank
):
    runtime.privacy.forget("u-1", reason="erasure request", actor="sam", role="support")

    refused = [
        client.post(
            "/api/subjects/u-1/reregister", json={"reason": "back"}, headers=auth_headers(role)
        )
        for role in ("viewer", "support")
    ]
    no_reason = client.post("/api/subjects/u-1/reregister", json={}, headers=auth_headers("admin"))
    assert [r.status_code for r in refused] == [403, 403]
    assert no_reason.status_code == 400
    assert runtime.privacy.is_forgotten("u-1")

    done = client.post(
        "/api/subjects/u-1/reregister",
        json={"reason": "signed up again"},
        headers=auth_headers("admin"),
    )
    again = client.post(
        "/api/subjects/u-1/reregister", json={"reason": "twice"}, headers=auth_headers("admin")
    )

    assert done.status_code == 200
    assert done.get_json() == {
        "subject_id": "u-1",
        "state": "active",
        "forgotten_at": None,
        "forgotten_reason": None,
        "forgotten_by": None,
    }
    assert again.status_code == 400
    assert "not forgotten" in again.get_json()["error"]
    entries = runtime.privacy.access_log(action="reregister").entries
    assert [(e.actor, e.subject_id) for e in entries] == [("admin", "u-1")]


def test_support_finds_a_subject_by_e_mail_and_the_lookup_is_logged(
    client, auth_headers, runtime, bank
):
    def lookup(email: str, role: str):
        return client.post(
            "/api/subjects/lookup", json={"email": email}, headers=auth_headers(role)
        )

    found = lookup("ada@example.org", "support")
    missing = lookup("nobody@example.org", "support")
    as_viewer = lookup("ada@example.org", "viewer")

    assert found.status_code == 200
    assert found.get_json() == {
        "subjects": [
            {
                "subject_id": "u-1",
                "state": "active",
                "forgotten_at": None,
                "forgotten_reason": None,
                "forgotten_by": None,
            }
        ]
    }
    assert missing.get_json() == {"subjects": []}
    assert as_viewer.status_code == 403
    entries = runtime.privacy.access_log(action="view").entries
    assert [(e.actor, e.subject_id, e.what) for e in entries] == [
        ("support", "u-1", "lookup by e-mail")
    ]


@pytest.mark.parametrize(
    "body",
    [{}, {"email": ""}, {"email": "ada"}, {"email": 7}, {"email": "a" * 320 + "@x.org"}],
)
def test_a_lookup_needs_an_e_mail_address(client, auth_headers, runtime, bank, body):
    response = client.post("/api/subjects/lookup", json=body, headers=auth_headers("support"))

    assert response.status_code == 400
    assert "'email'" in response.get_json()["error"]
    assert runtime.privacy.access_log(action="view").entries == []


def test_a_lookup_by_e_mail_in_the_url_is_refused_and_points_to_post(
    client, auth_headers, runtime, bank
):
    response = client.get("/api/subjects?email=ada@example.org", headers=auth_headers("support"))

    assert response.status_code == 400
    assert "POST /api/subjects/lookup" in response.get_json()["error"]
    assert runtime.privacy.access_log(action="view").entries == []


def test_a_subjects_status_says_whether_when_and_why_they_were_forgotten(
    client, auth_headers, runtime, bank
):
    support = auth_headers("support")
    active = client.get("/api/subjects/u-1", headers=support).get_json()
    runtime.privacy.forget("u-1", reason="erasure request", actor="sam", role="support")
    forgotten = client.get("/api/subjects/u-1", headers=support).get_json()
    unknown = client.get("/api/subjects/u-404", headers=support)

    assert active["state"] == "active"
    assert forgotten["state"] == "forgotten"
    assert (forgotten["forgotten_by"], forgotten["forgotten_reason"]) == ("sam", "erasure request")
    assert forgotten["forgotten_at"].startswith("20")
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": "no subject 'u-404'"}
    assert client.get("/api/subjects/u-1", headers=auth_headers("viewer")).status_code == 403


def test_strong_consistency_returns_once_the_read_model_has_the_new_events(
    client, admin, runtime, bank
):
    from webapp.projections import start_in_process

    worker = start_in_process(runtime.projections)
    try:
        response = client.post(
            "/api/commands",
            json={
                "command": "DepositMoney",
                "data": {"account_number": "A-100", "amount": 300},
                "consistency": "strong",
            },
            headers=admin,
        )
        summary = client.get("/api/read/accounts/A-100", headers=admin)
    finally:
        worker.stop()

    assert response.status_code == 201
    assert summary.status_code == 200
    assert summary.get_json()["balance"] == 1500


def test_the_read_api_answers_alike_on_both_backends(db_url):
    import secrets

    from webapp.bootstrap import build_runtime
    from webapp.config import Settings
    from webapp.web import create_app
    from webapp.web.accounts import AccountBook

    runtime = build_runtime(Settings(db_url=db_url, secret_key=secrets.token_urlsafe(32)))
    try:
        runtime.router.dispatch_json(
            "OpenAccount", {"account_number": "PG-1", "owner_id": "u-1", "initial_balance": 7}
        )
        runtime.router.dispatch_json("DepositMoney", {"account_number": "PG-1", "amount": 3})
        book = AccountBook(runtime.store.engine)
        book.ensure("viewer", "viewer")
        headers = {"Authorization": f"Bearer {book.create_token('viewer')}"}
        client = create_app({"TESTING": True}, runtime=runtime).test_client()

        streams = client.get("/api/streams", headers=headers).get_json()
        events = client.get("/api/streams/account-PG-1/events", headers=headers).get_json()
        state = client.get("/api/streams/account-PG-1/state", headers=headers).get_json()
        log = client.get("/api/events?limit=1", headers=headers).get_json()
    finally:
        runtime.close()

    assert [s["stream_id"] for s in streams["streams"]] == ["account-PG-1"]
    assert [e["type"] for e in events["events"]] == ["BankAccountOpened", "MoneyDeposited"]
    assert state["state"]["balance"] == 10
    assert len(log["events"]) == 1
    assert log["next"] == log["events"][0]["position"]
