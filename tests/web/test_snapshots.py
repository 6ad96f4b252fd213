"""Snapshots: policy per aggregate type, streams with snapshots, stale flags, rehydration stats."""

from __future__ import annotations

import re

import pytest

from webapp.store.types import Snapshot

HX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def snapshotted(runtime, bank):
    """account-A-100 (3 events) with a current snapshot at 2 and a stale one at 1."""
    store = runtime.store
    store.save_snapshot(Snapshot("account-A-100", 1, 0, "BankAccount", {"balance": 1000}))
    store.save_snapshot(
        Snapshot("account-A-100", 2, 1, "BankAccount", {"balance": 1250, "status": "open"})
    )
    return "account-A-100"


@pytest.fixture
def every_two(monkeypatch):
    """BankAccount snapshots every 2 events (so a 3-event stream qualifies)."""
    from webapp.demo.bank import BankAccount

    monkeypatch.setattr(BankAccount, "snapshot_every", 2)


@pytest.mark.parametrize("path", ["/snapshots/", "/snapshots/account-A-100"])
def test_anonymous_visitors_are_sent_to_log_in(client, bank, path):
    response = client.get(path)

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_every_role_sees_the_snapshot_pages(client, log_in, snapshotted, role):
    log_in(role)

    assert client.get("/snapshots/").status_code == 200
    assert client.get("/snapshots/account-A-100").status_code == 200


def test_the_policy_of_each_aggregate_type(client, log_in, bank):
    log_in("viewer")

    page = text(client.get("/snapshots/"))
    policies = page[page.index('data-testid="snapshot-policies"') :]
    policies = policies[: policies.index("</table>")]

    bank_row = policies[policies.index("BankAccount") :]
    assert re.search(r'class="num">100<', bank_row[: bank_row.index("</tr>")])
    user_row = policies[policies.index(">User<") :]
    assert "never" in user_row[: user_row.index("</tr>")]


def test_streams_with_snapshots_show_their_newest_and_its_health(
    client, log_in, snapshotted, every_two
):
    log_in("viewer")

    page = text(client.get("/snapshots/?type=BankAccount"))
    table = page[page.index('data-testid="snapshot-streams"') :]

    assert "account-A-100" in table
    row = table[table.index("account-A-100") :]
    row = row[: row.index("</tr>")]
    assert re.findall(r'class="num">([^<]+)<', row)[:4] == ["3", "2", "1", "1"]
    assert "current" in row


def test_a_stream_lists_every_snapshot_with_stale_ones_flagged(client, log_in, snapshotted):
    log_in("viewer")

    page = text(client.get("/snapshots/account-A-100"))
    rows = page[page.index("<tbody>") : page.index("</tbody>")].split("</tr>")

    assert "current" in rows[0] and '"num">2<' in rows[0]
    assert "stale" in rows[1] and '"num">1<' in rows[1]
    assert "/streams/account-A-100?version=2" in rows[0]


def test_rehydration_stats_count_loads_from_snapshots_and_full_replays(
    client, log_in, runtime, snapshotted
):
    runtime.registry.clear()
    runtime.router.dispatch_json("DepositMoney", {"account_number": "A-100", "amount": 1})
    stats = runtime.router.load_stats()
    log_in("viewer")

    page = text(client.get("/snapshots/"))

    assert stats["from_snapshot"] >= 1
    assert re.search(rf'data-testid="from-snapshot">\s*{stats["from_snapshot"]}\s*<', page)
    assert re.search(rf'data-testid="full-replay">\s*{stats["full_replay"]}\s*<', page)


def test_the_list_fragment_answers_htmx(client, log_in, snapshotted, every_two):
    log_in("viewer")

    fragment = text(client.get("/snapshots/?type=BankAccount", headers=HX))

    assert "<html" not in fragment
    assert 'id="snapshot-streams"' in fragment
    assert "account-A-100" in fragment


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/snapshots/?type=Spaceship", 400),
        ("/snapshots/account-A-100?before=soon", 400),
        ("/snapshots/account-A-100?before=-3", 400),
        ("/snapshots/account-nope", 404),
    ],
)
def test_bad_input_and_unknown_streams(client, log_in, snapshotted, path, status):
    log_in("viewer")

    response = client.get(path)

    assert response.status_code == status
    assert "error-page" in text(response)


def test_the_same_figures_are_available_as_json(client, snapshotted, every_two, auth_headers):
    response = client.get(
        "/snapshots/?type=BankAccount&format=json", headers=auth_headers("viewer")
    )

    body = response.get_json()
    assert response.status_code == 200
    assert {"aggregate_type": "BankAccount", "snapshot_every": 2}.items() <= next(
        p for p in body["policies"] if p["aggregate_type"] == "BankAccount"
    ).items()
    assert [(s["stream_id"], s["version"], s["current"]) for s in body["snapshots"]] == [
        ("account-A-100", 2, True)
    ]
    assert "from_snapshot" in body["rehydration"]
