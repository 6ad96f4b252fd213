"""Values people can read: money as money and words as words wherever a page shows a state,
a diff or a payload, the raw JSON one hover (or one click) away; the JSON API unchanged."""

from __future__ import annotations

import html
import re
import secrets

import pytest

from tests.web.conftest import dispatch
from webapp.store import NewEvent


@pytest.fixture
def account(runtime) -> str:
    """account-R-1: opened with €10,208.79, then €1,000.00 paid in and €12.34 taken out."""
    dispatch(runtime, "RegisterUser", user_id="u-r", name="Rosa", email="rosa@example.org")
    dispatch(runtime, "OpenAccount", account_number="R-1", owner_id="u-r", initial_balance=1020879)
    dispatch(runtime, "DepositMoney", account_number="R-1", amount=100000)
    dispatch(runtime, "WithdrawMoney", account_number="R-1", amount=1234)
    return "account-R-1"


def page_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def state_cell(page: str, field: str) -> str:
    table = page.split('data-testid="state"', 1)[1].split("</table>", 1)[0]
    return re.search(
        rf'<th scope="row" class="mono">{field}</th>\s*<td class="mono">(.*?)</td>', table, re.S
    ).group(1)


def test_the_state_panel_shows_the_balance_as_money_with_the_raw_cents_in_its_title(
    client, log_in, account
):
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}?version=3"))

    balance = state_cell(page, "balance")
    assert 'class="value value--money" title="raw: 1119645"' in balance
    assert ">€11,196.45<" in balance
    assert "1119645" not in balance.split(">", 1)[1]  # the raw cents only in the title


def test_the_status_reads_as_its_word_not_as_quoted_json(client, log_in, account):
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}?version=3"))

    status = state_cell(page, "status")
    assert ">open<" in status and 'title="raw: &#34;open&#34;"' in status


def test_the_whole_state_is_one_click_away_as_raw_json(client, log_in, account):
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}/state?version=3"))

    raw = page.split('data-testid="state-raw"', 1)[1].split("</details>", 1)[0]
    assert "<summary" in raw and "Raw JSON" in raw
    assert "&#34;balance&#34;: 1119645" in raw


def test_what_an_event_changed_shows_money_before_and_after(client, log_in, account):
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}?version=2"))

    row = re.search(r'data-field="balance">(.*?)</tr>', page, re.S).group(1)
    assert re.search(
        r'diff__before mono"><span class="value value--money" title="raw: 1020879">€10,208.79<', row
    )
    assert re.search(
        r'diff__after mono"><span class="value value--money" title="raw: 1120879">€11,208.79<', row
    )


def test_two_versions_compared_show_money(client, log_in, account):
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}/compare", query_string={"a": 1, "b": 3}))

    row = re.search(r'data-field="balance">(.*?)</tr>', page, re.S).group(1)
    assert "€10,208.79" in row and "€11,196.45" in row


def test_the_consoles_dry_run_shows_the_event_and_the_change_as_money(
    client, log_in, csrf, account
):
    log_in("viewer")

    page = page_of(
        client.post(
            "/console/run",
            data={
                "csrf_token": csrf(),
                "command": "DepositMoney",
                "action": "dry_run",
                "field.account_number": "R-1",
                "field.amount": "5",
            },
        )
    )

    result = page.split('data-testid="console-dry-run-result"', 1)[1]
    assert 'title="raw: 5">€0.05<' in result  # the planned MoneyDeposited's amount
    assert "€11,196.45" in result and "€11,196.50" in result  # the balance before and after
    assert 'data-testid="raw-json"' in result  # the payload as stored, one click away


def test_a_dispatched_events_payload_reads_as_money(client, log_in, csrf, account):
    log_in("admin")

    page = page_of(
        client.post(
            "/console/run",
            data={
                "csrf_token": csrf(),
                "command": "DepositMoney",
                "action": "dispatch",
                "form_id": secrets.token_urlsafe(16),
                "field.account_number": "R-1",
                "field.amount": "250000",
            },
        )
    )

    assert 'title="raw: 250000">€2,500.00<' in page.split('data-testid="console-dispatched"', 1)[1]


def test_a_refusal_quotes_its_amounts_as_money(client, log_in, csrf, account):
    log_in("viewer")

    response = client.post(
        "/console/run",
        data={
            "csrf_token": csrf(),
            "command": "WithdrawMoney",
            "action": "dry_run",
            "field.account_number": "R-1",
            "field.amount": "99999999",
        },
    )

    assert response.status_code == 422
    alert = response.get_data(as_text=True).split('role="alert"', 1)[1].split("</div>", 1)[0]
    text = html.unescape(re.sub(r"<[^>]+>", "", alert))
    assert "account 'R-1' holds €11,196.45, cannot withdraw €999,999.99" in text
    assert 'title="raw: 1119645"' in alert


def test_the_api_keeps_raw_numbers(client, auth_headers, account):
    state = client.get(f"/api/streams/{account}/state", headers=auth_headers("viewer")).get_json()
    events = client.get(f"/api/streams/{account}/events", headers=auth_headers("viewer")).get_json()

    assert state["state"]["balance"] == 1119645 and state["state"]["status"] == "open"
    assert events["events"][0]["data"]["initial_balance"] == 1020879


def test_the_api_refusal_message_is_worded_as_before(client, auth_headers, account):
    response = client.post(
        "/api/commands",
        json={"command": "WithdrawMoney", "data": {"account_number": "R-1", "amount": 99999999}},
        headers=auth_headers("admin"),
    )

    assert response.status_code == 422
    assert response.get_json()["error"] == "account 'R-1' holds 1119645, cannot withdraw 99999999"


def test_a_field_nothing_is_declared_for_shows_as_json(client, log_in, account):
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}?version=3"))

    assert state_cell(page, "account_number") == "&#34;R-1&#34;"


def test_the_stream_page_charts_the_balance_at_each_version(client, log_in, account):
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}"))

    chart = page.split('data-testid="state-chart"', 1)[1].split("</figure>", 1)[0]
    assert 'data-field="balance"' in chart and 'data-points="3"' in chart
    line = re.search(r'<polyline[^>]*\spoints="([^"]+)"', chart).group(1)
    assert len(line.split()) == 3
    assert "<title>v1: €10,208.79</title>" in chart and "<title>v3: €11,196.45</title>" in chart
    assert "now €11,196.45" in chart
    assert re.search(r">€\d[\d,]*<", chart)  # the y axis in money


def test_a_users_stream_has_no_chart(client, log_in, account):
    log_in("viewer")

    page = page_of(client.get("/streams/user-u-r"))

    assert 'data-testid="state-chart"' not in page


def test_a_long_stream_without_a_recent_snapshot_loads_its_chart_after_the_page(
    client, log_in, runtime, account
):
    deposit = runtime.store.read_stream(account)[1]
    runtime.store.append(
        account,
        [
            NewEvent(deposit.type, deposit.data, schema_version=deposit.schema_version)
            for _ in range(2600)
        ],
    )
    log_in("viewer")

    page = page_of(client.get(f"/streams/{account}"))
    chart = page_of(client.get(f"/streams/{account}/chart"))

    assert 'data-testid="state-chart"' not in page
    assert f'hx-get="/streams/{account}/chart" hx-trigger="load"' in page
    assert 'data-testid="state-chart"' in chart and 'data-points="500"' in chart
    assert "The latest 500 of 2,603 versions (2104–2603)" in chart
