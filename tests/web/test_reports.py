"""`GET /reports/<read_model>.csv`: a read model as it stood at a moment, downloaded as CSV.

The accounts report at each position is checked against an oracle that never runs the
projection: each account's own stream folded by the `BankAccount` aggregate up to that
position. The people report is checked for masking (viewer, admin with and without a
reveal) and for its access-log entries, read back from the access log.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import timedelta
from typing import Any

import pytest

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.demo.bank import BankAccount
from webapp.domain import from_data
from webapp.queries.context import Viewer
from webapp.queries.reports import open_report, report_cell, report_csv, report_rows
from webapp.web import create_app
from webapp.web.accounts import AccountBook

from .conftest import read_csv

MOVES = ("MoneyDeposited", "MoneyWithdrawn", "MoneyRefunded")


def dispatch(runtime, command: str, **data: Any) -> int:
    """Dispatch a command, run the transfer process and its timeouts; the head after it."""
    runtime.router.dispatch_json(command, data, metadata={"actor": "test"})
    for _ in range(4):
        runtime.projections.process_runner("transfer_money").run_until_caught_up()
    return runtime.store.head_position()


def a_bank_history(runtime) -> list[int]:
    """Open, move money, close, and a transfer to a closed account (debited, then refunded)."""
    dispatch(runtime, "OpenAccount", account_number="B-2", owner_id="u-2", initial_balance=50)
    dispatch(runtime, "OpenAccount", account_number="A-1", owner_id="u-1", initial_balance=1000)
    dispatch(runtime, "DepositMoney", account_number="A-1", amount=250)
    dispatch(runtime, "OpenAccount", account_number="C-3", owner_id="u-3", initial_balance=0)
    dispatch(runtime, "CloseAccount", account_number="C-3")
    dispatch(
        runtime,
        "TransferMoney",
        transfer_id="t-1",
        from_account="A-1",
        to_account="B-2",
        amount=300,
    )
    dispatch(
        runtime,
        "TransferMoney",
        transfer_id="t-2",
        from_account="A-1",
        to_account="C-3",
        amount=200,
    )
    dispatch(runtime, "WithdrawMoney", account_number="B-2", amount=100)
    return list(range(runtime.store.head_position() + 1))


def folded_accounts(runtime, position: int) -> list[dict[str, str]]:
    """Every account as its own stream's events up to `position` fold it, by number."""
    out = []
    for number in ("A-1", "B-2", "C-3"):
        events = [
            e for e in runtime.store.read_stream(f"account-{number}") if e.position <= position
        ]
        if not events:
            continue
        account = BankAccount()
        for event in events:
            account.apply(from_data(event.type, event.data))
        out.append(
            {
                "account_number": number,
                "owner_id": events[0].data["owner_id"],
                "balance": str(account.balance),
                "status": account.status,
                "transactions": str(sum(e.type in MOVES for e in events)),
                "last_position": str(events[-1].position),
            }
        )
    return out


@pytest.fixture
def site(db_url: str):
    """A runtime on this backend, its app, and `browser(role)`: a logged-in test client."""
    runtime = build_runtime(Settings(db_url=db_url, secret_key=secrets.token_urlsafe(32)))
    app = create_app({"TESTING": True}, runtime=runtime)
    book = AccountBook(runtime.store.engine)

    def browser(role: str):
        client = app.test_client()
        book.ensure(role, role)
        assert client.get(f"/login/link/{book.create_login_token(role)}").status_code == 302
        return client

    try:
        yield runtime, browser
    finally:
        runtime.close()


# --- the accounts report against an independent fold -------------------------------------------


def test_the_accounts_report_at_every_position_is_each_accounts_stream_folded_to_it(site):
    runtime, browser = site
    positions = a_bank_history(runtime)
    viewer = browser("viewer")

    for position in positions:
        reply = viewer.get(f"/reports/accounts.csv?position={position}")
        assert reply.status_code == 200, reply.get_data(as_text=True)
        preamble, rows = read_csv(reply.get_data(as_text=True))
        assert preamble["position"] == str(position)
        fields = (
            "account_number",
            "owner_id",
            "balance",
            "status",
            "transactions",
            "last_position",
        )
        assert [{k: row[k] for k in fields} for row in rows] == folded_accounts(runtime, position)

    closed_and_refunded = read_csv(
        viewer.get(f"/reports/accounts.csv?position={positions[-1]}").get_data(as_text=True)
    )[1]
    assert {r["account_number"]: (r["balance"], r["status"]) for r in closed_and_refunded} == {
        "A-1": ("950", "open"),
        "B-2": ("250", "open"),
        "C-3": ("0", "closed"),
    }


def test_the_transfers_report_follows_a_compensated_transfer_through_its_own_stream(site):
    runtime, browser = site
    positions = a_bank_history(runtime)
    viewer = browser("viewer")
    transfer_events = {
        t: [(e.position, e.type) for e in runtime.store.read_stream(f"transfer-{t}")]
        for t in ("t-1", "t-2")
    }
    assert all(transfer_events.values()), transfer_events

    for position in positions:
        reply = viewer.get(f"/reports/transfers.csv?position={position}")
        assert reply.status_code == 200, reply.get_data(as_text=True)
        preamble, rows = read_csv(reply.get_data(as_text=True))
        assert preamble["read model"] == "transfers"
        begun = [t for t, events in transfer_events.items() if events[0][0] <= position]
        assert [row["transfer_id"] for row in rows] == begun
        expected = runtime.read_models.page("transfers", limit=10, position=position)
        assert rows == [{k: report_cell(v) for k, v in row.items()} for row in expected]

    final = {
        r["transfer_id"]: r
        for r in read_csv(
            viewer.get(f"/reports/transfers.csv?position={positions[-1]}").get_data(as_text=True)
        )[1]
    }
    assert final["t-1"]["status"] != final["t-2"]["status"]  # one done, one compensated
    assert final["t-2"]["refunded"] == "200"


def test_without_a_moment_the_report_is_the_head_of_the_log_and_says_so(site):
    runtime, browser = site
    a_bank_history(runtime)
    head = runtime.store.head_position()
    runtime.projections.runner("account_summary").run_until_caught_up()

    reply = browser("viewer").get("/reports/accounts.csv")

    preamble, rows = read_csv(reply.get_data(as_text=True))
    assert (preamble["position"], reply.headers["X-Position"]) == (str(head), str(head))
    assert reply.headers["Content-Disposition"] == f'attachment; filename="accounts-at-{head}.csv"'
    live = runtime.read_models.page("accounts", limit=10)
    assert rows == [{k: report_cell(v) for k, v in row.items()} for row in live]


# --- the preamble, the headers and the file name -----------------------------------------------


def test_the_file_states_the_read_model_position_and_time_it_reflects(runtime, client, log_in):
    for number, balance in (("A-1", 10), ("A-2", 20), ("A-3", 30)):
        runtime.router.dispatch_json(
            "OpenAccount", {"account_number": number, "owner_id": "u-1", "initial_balance": balance}
        )
    second = runtime.store.get_event(2)
    log_in("viewer")

    by_position = client.get("/reports/accounts.csv?position=2")
    text = by_position.get_data(as_text=True)
    preamble, rows = read_csv(text)

    recorded = second.recorded_at.isoformat().replace("+00:00", "Z")
    assert text.startswith("# read model: accounts\r\n# position: 2\r\n")
    assert preamble["as of"] == f"{recorded} (recorded)"
    assert preamble["position recorded at"] == recorded
    assert [r["account_number"] for r in rows] == ["A-1", "A-2"]
    assert by_position.mimetype == "text/csv"
    assert by_position.headers["Content-Disposition"] == 'attachment; filename="accounts-at-2.csv"'
    assert by_position.headers["X-Read-Model"] == "accounts"
    assert by_position.headers["X-Position"] == "2"
    assert by_position.headers["X-As-Of"] == f"{recorded} (recorded)"

    asked = second.recorded_at + timedelta(microseconds=1)
    by_date = client.get(
        "/reports/accounts.csv", query_string={"as_of": asked.isoformat(), "clock": "happened"}
    )
    preamble, rows = read_csv(by_date.get_data(as_text=True))
    assert preamble["position"] == "2"
    assert preamble["as of"] == asked.isoformat().replace("+00:00", "Z") + " (happened)"
    assert by_date.headers["X-As-Of"] == preamble["as of"]
    assert len(rows) == 2


def test_a_moment_before_the_first_event_is_an_empty_report_with_its_header(
    runtime, client, log_in
):
    runtime.router.dispatch_json(
        "OpenAccount", {"account_number": "A-1", "owner_id": "u-1", "initial_balance": 1}
    )
    first = runtime.store.get_event(1).recorded_at
    log_in("viewer")

    for query in ({"position": "0"}, {"as_of": (first - timedelta(days=1)).isoformat()}):
        reply = client.get("/reports/accounts.csv", query_string=query)
        assert reply.status_code == 200
        text = reply.get_data(as_text=True)
        preamble, rows = read_csv(text)
        assert (preamble["position"], rows) == ("0", [])
        assert preamble["position recorded at"] == ""
        assert text.endswith(
            "account_number,owner_id,balance,status,transactions,opened_at,updated_at,last_position\r\n"
        )
    assert (
        read_csv(client.get("/reports/accounts.csv?position=0").get_data(as_text=True))[0]["as of"]
        == "before the first event"
    )


# --- personal data: masked as the people list masks it, and every download logged --------------


def people(runtime) -> None:
    for uid, name, email in (
        ("u-1", "Ada Lovelace", "ada@example.org"),
        ("u-2", "Grace Hopper", "grace@example.org"),
        ("u-3", "Alan Turing", "alan@example.org"),
    ):
        runtime.router.dispatch_json("RegisterUser", {"user_id": uid, "name": name, "email": email})


def test_the_people_report_is_masked_for_viewers_and_for_admins_shows_only_what_they_revealed(site):
    runtime, browser = site
    people(runtime)
    runtime.privacy.forget("u-3", reason="test: erasure request", actor="admin")
    runtime.privacy.reveal("u-2", actor="admin", role="admin", purpose="test: ticket T-1")

    def names(role: str) -> dict[str, tuple[str, str]]:
        rows = read_csv(browser(role).get("/reports/users.csv").get_data(as_text=True))[1]
        return {r["user_id"]: (r["name"], r["email"]) for r in rows}

    assert names("viewer") == {
        "u-1": ("•••", "•••"),
        "u-2": ("•••", "•••"),
        "u-3": ("Deleted Account", "[forgotten]"),
    }
    assert names("admin") == {
        "u-1": ("•••", "•••"),
        "u-2": ("Grace Hopper", "grace@example.org"),
        "u-3": ("Deleted Account", "[forgotten]"),
    }
    as_of_before_forget = read_csv(
        browser("admin").get("/reports/users.csv?position=3").get_data(as_text=True)
    )[1]
    assert [r["name"] for r in as_of_before_forget] == ["•••", "Grace Hopper", "Deleted Account"]


def test_every_download_of_the_people_report_is_in_the_access_log(site):
    runtime, browser = site
    people(runtime)
    viewer, admin = browser("viewer"), browser("admin")

    assert viewer.get("/reports/users.csv?position=2").status_code == 200
    [first_download] = {e.what for e in runtime.privacy.access_log(action="view").entries}
    by_admin_text = admin.get("/reports/users.csv").get_data(as_text=True)

    entries = runtime.privacy.access_log(action="view").entries
    by_viewer = [e for e in entries if e.actor == "viewer"]
    assert sorted(e.subject_id for e in by_viewer) == ["u-1", "u-2"]  # who was in it then
    assert {e.what for e in by_viewer} == {first_download}
    assert first_download.startswith("report users at position 2, as of ")
    assert "; download " in first_download
    by_admin = [e for e in entries if e.actor == "admin"]
    assert sorted(e.subject_id for e in by_admin) == ["u-1", "u-2", "u-3"]
    as_of = read_csv(by_admin_text)[0]["as of"]
    [admin_download] = {e.what for e in by_admin}
    assert admin_download.startswith(f"report users at position 3, as of {as_of}; download ")
    assert admin_download != first_download


def test_a_report_without_personal_data_writes_nothing_to_the_access_log(site):
    runtime, browser = site
    people(runtime)
    runtime.router.dispatch_json(
        "OpenAccount", {"account_number": "A-1", "owner_id": "u-1", "initial_balance": 5}
    )
    assert browser("viewer").get("/reports/accounts.csv").status_code == 200
    assert runtime.privacy.access_log().entries == []


def test_batches_log_their_own_subjects_and_read_one_moment_in_key_order(runtime):
    for number in range(7):
        runtime.router.dispatch_json(
            "RegisterUser",
            {"user_id": f"u-{number}", "name": f"N{number}", "email": f"{number}@x.org"},
        )
    report = open_report(runtime, "users", position=5)
    reader = Viewer("auditor", "admin")

    batches = list(report_rows(runtime, report, reader, batch=2))

    assert [[r["user_id"] for r in batch] for batch in batches] == [
        ["u-0", "u-1"],
        ["u-2", "u-3"],
        ["u-4"],
    ]
    assert batches[0][0]["name"] == "N0"  # the role decides outside the dashboard: in clear
    logged = runtime.privacy.access_log(actor="auditor").entries
    assert sorted(e.subject_id for e in logged) == ["u-0", "u-1", "u-2", "u-3", "u-4"]
    assert len({e.what for e in logged}) == 1
    chunks = list(report_csv(runtime, report, reader, batch=2))
    assert len(chunks) == 3  # written a batch at a time, never the whole table at once
    assert chunks[0].startswith("# read model: users\r\n") and chunks[2].startswith("u-4,N4,")
    whole = "".join(report_csv(runtime, report, reader)).split("\r\n", 5)[5]
    in_batches = "".join(report_csv(runtime, report, reader, batch=2)).split("\r\n", 5)[5]
    assert in_batches == whole


# --- formula injection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1-2", "'+1-2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("plain", "plain"),
        (-250, "-250"),
        (True, "true"),
        (None, ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_neutralised_and_numbers_stay_numbers(value, cell):
    assert report_cell(value) == cell


def test_formulas_in_the_data_reach_the_file_neutralised_and_quoted(
    runtime, client, log_in, reveal
):
    runtime.router.dispatch_json(
        "RegisterUser", {"user_id": "u-9", "name": '=cmd|" /C calc"!A0', "email": "x@example.org"}
    )
    runtime.router.dispatch_json(
        "OpenAccount", {"account_number": "-9,1", "owner_id": "u-9", "initial_balance": 0}
    )
    reveal("u-9", role="admin")
    log_in("admin")

    users = client.get("/reports/users.csv").get_data(as_text=True)
    accounts = client.get("/reports/accounts.csv").get_data(as_text=True)

    assert read_csv(users)[1][0]["name"] == '\'=cmd|" /C calc"!A0'
    assert '"\'=cmd|"" /C calc""!A0"' in users  # the csv module quotes it
    assert read_csv(accounts)[1][0]["account_number"] == "'-9,1"
    assert read_csv(accounts)[1][0]["balance"] == "0"


# --- refused requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/reports/nothing.csv", 404),
        ("/reports/users.csv?position=-1", 400),
        ("/reports/users.csv?position=abc", 400),
        ("/reports/users.csv?position=999", 400),
        ("/reports/users.csv?position=1&as_of=2024-01-01", 400),
        ("/reports/users.csv?as_of=yesterday", 400),
        ("/reports/users.csv?as_of=2024-01-01&clock=wall", 400),
        ("/reports/users.csv?clock=recorded", 400),
    ],
)
def test_a_refused_report_says_why_and_logs_nothing(runtime, client, log_in, path, status):
    people(runtime)
    log_in("admin")
    reply = client.get(path)
    assert reply.status_code == status
    assert reply.mimetype == "text/html"
    assert runtime.privacy.access_log().entries == []


def test_a_read_model_that_does_not_page_in_key_order_is_not_reported(runtime, client, log_in):
    lookup = runtime.read_models.lookup("transfers")
    runtime.read_models._lookups["transfers"] = dataclasses.replace(lookup, key=None, columns=())
    log_in("viewer")

    reply = client.get("/reports/transfers.csv")

    assert reply.status_code == 404
    assert "key order" in reply.get_data(as_text=True)


def test_a_report_needs_a_signed_in_viewer(runtime, client):
    people(runtime)
    reply = client.get("/reports/users.csv")
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/login")
    assert runtime.privacy.access_log().entries == []


# --- the people list links to the report at its moment --------------------------------------


def test_the_people_list_offers_the_csv_at_the_moment_it_shows(runtime, client, log_in):
    people(runtime)
    runtime.projections.runner("user_directory").run_until_caught_up()
    log_in("viewer")

    now = client.get("/projections/users").get_data(as_text=True)
    then = client.get("/projections/users?position=2").get_data(as_text=True)

    assert 'href="/reports/users.csv"' in now
    assert 'href="/reports/users.csv?position=2"' in then
    assert 'data-testid="users-csv"' in then and 'hx-boost="false"' in then


@pytest.mark.parametrize("read_model", ["accounts", "transfers"])
def test_the_bank_pages_offer_the_csv_at_the_moment_they_show(runtime, client, log_in, read_model):
    a_bank_history(runtime)
    log_in("viewer")

    now = client.get(f"/projections/{read_model}").get_data(as_text=True)
    then = client.get(f"/projections/{read_model}?position=3").get_data(as_text=True)

    assert f'href="/reports/{read_model}.csv"' in now
    assert f'href="/reports/{read_model}.csv?position=3"' in then
    download = client.get(f"/reports/{read_model}.csv?position=3")
    assert download.status_code == 200
    assert read_csv(download.get_data(as_text=True))[0]["position"] == "3"


# --- the JSON twin: GET /api/read/<read_model> ------------------------------------------------


def test_the_api_pages_a_read_model_at_one_moment(runtime, client, auth_headers):
    people(runtime)
    runtime.router.dispatch_json(
        "RegisterUser", {"user_id": "u-4", "name": "N", "email": "n@x.org"}
    )
    admin = auth_headers("admin")

    first = client.get("/api/read/users?limit=2", headers=admin).get_json()
    assert (first["read_model"], first["position"], first["next"]) == ("users", 4, "u-2")
    second = client.get(
        "/api/read/users",
        query_string={"limit": 2, "after": first["next"], "position": 3},
        headers=admin,
    ).get_json()

    assert [r["user_id"] for r in first["rows"]] == ["u-1", "u-2"]
    assert first["rows"][0] == {
        **first["rows"][0],
        "name": "Ada Lovelace",  # an admin token reads personal data in clear, logged
        "email": "ada@example.org",
    }
    assert ([r["user_id"] for r in second["rows"]], second["next"]) == (["u-3"], None)
    assert second["position"] == 3
    logged = sorted(e.subject_id for e in runtime.privacy.access_log(actor="admin").entries)
    assert logged == ["u-1", "u-2", "u-3"]  # what was shown, not the look-ahead row


def test_the_api_masks_personal_data_for_a_viewer_token(runtime, client, auth_headers):
    people(runtime)
    reply = client.get("/api/read/users?position=1", headers=auth_headers("viewer")).get_json()
    assert [(r["user_id"], r["name"], r["email"]) for r in reply["rows"]] == [("u-1", "•••", "•••")]
    [entry] = runtime.privacy.access_log(actor="viewer").entries
    assert entry.what.startswith("report users at position 1, as of ")


def test_the_api_rows_are_the_csv_rows(runtime, client, auth_headers, log_in):
    a_bank_history(runtime)
    log_in("viewer")
    csv_rows = read_csv(client.get("/reports/accounts.csv?position=9").get_data(as_text=True))[1]
    api_rows = client.get(
        "/api/read/accounts?position=9", headers=auth_headers("viewer")
    ).get_json()
    assert [{k: report_cell(v) for k, v in row.items()} for row in api_rows["rows"]] == csv_rows


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/read/nothing", 404),
        ("/api/read/users?position=99", 400),
        ("/api/read/users?limit=0", 400),
    ],
)
def test_the_api_refuses_in_json_and_logs_nothing(runtime, client, auth_headers, path, status):
    people(runtime)
    reply = client.get(path, headers=auth_headers("admin"))
    assert reply.status_code == status
    assert reply.get_json()["error"]
    assert runtime.privacy.access_log().entries == []
