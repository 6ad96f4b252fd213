"""`GET /api/read/accounts/<n>?position=P` and `?as_of=ISO`: the row as it stood then."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.web import create_app
from webapp.web.accounts import AccountBook


def a_history(runtime) -> dict[str, int]:
    """Open, deposit, withdraw, close; the position of each."""
    dispatch = runtime.router.dispatch_json
    positions = {}
    for label, command, data in [
        (
            "opened",
            "OpenAccount",
            {"account_number": "H-1", "owner_id": "u-1", "initial_balance": 70},
        ),
        ("deposited", "DepositMoney", {"account_number": "H-1", "amount": 30}),
        ("withdrawn", "WithdrawMoney", {"account_number": "H-1", "amount": 100}),
        ("closed", "CloseAccount", {"account_number": "H-1"}),
    ]:
        dispatch(command, data)
        positions[label] = runtime.store.head_position()
    runtime.projections.runner("account_summary").run_until_caught_up()
    return positions


def test_without_a_selector_the_reply_is_todays_row(runtime, client, auth_headers):
    a_history(runtime)
    reply = client.get("/api/read/accounts/H-1", headers=auth_headers("viewer")).get_json()
    assert "position" not in reply
    assert (reply["balance"], reply["status"]) == (0, "closed")


def test_a_position_answers_the_row_as_it_stood_then_with_the_position(
    runtime, client, auth_headers
):
    at = a_history(runtime)
    viewer = auth_headers("viewer")
    live = client.get("/api/read/accounts/H-1", headers=viewer).get_json()

    def read(position: int) -> dict:
        reply = client.get(f"/api/read/accounts/H-1?position={position}", headers=viewer)
        assert reply.status_code == 200, reply.get_json()
        return reply.get_json()

    assert read(at["opened"])["balance"] == 70
    assert read(at["deposited"])["balance"] == 100
    assert (read(at["withdrawn"])["balance"], read(at["withdrawn"])["status"]) == (0, "open")
    assert read(at["closed"]) == {**live, "position": at["closed"]}
    assert read(at["deposited"])["position"] == at["deposited"]


def test_before_the_account_existed_it_is_404(runtime, client, auth_headers):
    runtime.router.dispatch_json("OpenAccount", {"account_number": "X-0", "owner_id": "u-0"})
    at = a_history(runtime)
    reply = client.get(
        f"/api/read/accounts/H-1?position={at['opened'] - 1}", headers=auth_headers("viewer")
    )
    assert reply.status_code == 404
    assert "at position" in reply.get_json()["error"]
    before_any = client.get("/api/read/accounts/H-1?position=0", headers=auth_headers("viewer"))
    assert before_any.status_code == 404


def test_a_date_names_the_last_event_at_or_before_it(runtime, client, auth_headers):
    at = a_history(runtime)
    viewer = auth_headers("viewer")
    deposit = runtime.store.get_event(at["deposited"])
    when = deposit.recorded_at

    exact = client.get(
        "/api/read/accounts/H-1", query_string={"as_of": when.isoformat()}, headers=viewer
    )
    assert exact.status_code == 200
    assert (exact.get_json()["position"], exact.get_json()["balance"]) == (at["deposited"], 100)
    happened = client.get(
        "/api/read/accounts/H-1",
        query_string={"as_of": (when + timedelta(days=1)).isoformat(), "clock": "happened"},
        headers=viewer,
    )
    assert happened.get_json()["position"] == at["closed"]
    first = runtime.store.get_event(1).recorded_at
    early = client.get(
        "/api/read/accounts/H-1",
        query_string={"as_of": (first - timedelta(days=1)).isoformat()},
        headers=viewer,
    )
    assert early.status_code == 404  # position 0: the read model is empty before the log


@pytest.mark.parametrize(
    "query",
    [
        "position=-1",
        "position=abc",
        "position=1.5",
        "position=99999",
        "position=1&as_of=2024-01-01",
        "as_of=yesterday",
        "as_of=2024-01-01&clock=wall",
        "clock=happened",
    ],
)
def test_a_bad_selector_is_a_400_that_says_why(runtime, client, auth_headers, query):
    a_history(runtime)
    reply = client.get(f"/api/read/accounts/H-1?{query}", headers=auth_headers("viewer"))
    assert reply.status_code == 400
    assert reply.get_json()["error"]


def test_the_openapi_document_declares_the_selector(client):
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"]["/api/read/accounts/{account_number}"]["get"]
    assert {"position", "as_of", "clock"} <= {p["name"] for p in operation["parameters"]}


def test_as_of_reads_answer_alike_on_both_backends(db_url):
    runtime = build_runtime(Settings(db_url=db_url, secret_key=secrets.token_urlsafe(32)))
    try:
        at = a_history(runtime)
        book = AccountBook(runtime.store.engine)
        book.ensure("viewer", "viewer")
        headers = {"Authorization": f"Bearer {book.create_token('viewer')}"}
        client = create_app({"TESTING": True}, runtime=runtime).test_client()
        replies = {
            label: client.get(f"/api/read/accounts/H-1?position={p}", headers=headers).get_json()
            for label, p in at.items()
        }
    finally:
        runtime.close()

    assert {label: r["balance"] for label, r in replies.items()} == {
        "opened": 70,
        "deposited": 100,
        "withdrawn": 0,
        "closed": 0,
    }
    assert replies["closed"]["status"] == "closed"


def test_the_last_instant_a_date_can_name_reads_the_head(runtime, client, auth_headers):
    at = a_history(runtime)
    reply = client.get(
        "/api/read/accounts/H-1",
        query_string={"as_of": "9999-12-31T23:59:59.999999+00:00"},
        headers=auth_headers("viewer"),
    )
    assert reply.status_code == 200
    assert reply.get_json()["position"] == at["closed"]


def test_a_moment_another_process_is_still_building_past_the_wait_is_a_503(
    runtime, client, auth_headers
):
    from webapp.projections import copies

    at = a_history(runtime)
    tables = runtime.projections.table_set("account_summary")
    claim = copies.claim_copy(  # as another process would, with a live claim
        runtime.store.engine, tables, kind="scratch", position=at["deposited"], owner="other"
    )
    assert claim is not None
    runtime.projections.as_of.wait_seconds = 0.2

    reply = client.get(
        f"/api/read/accounts/H-1?position={at['deposited']}", headers=auth_headers("viewer")
    )

    assert reply.status_code == 503
    assert "still being built by another process" in reply.get_json()["error"]
    assert [c["id"] for c in runtime.projections.copies("account_summary")] == [claim.id]
