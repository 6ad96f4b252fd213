"""A stream's past on its page: the state as of a date (by either clock), any two versions
compared field by field, and personal data in diffs shown as its mask."""

from __future__ import annotations

import re

import pytest


def dispatch_at(runtime, occurred_at: str, command: str, **data):
    metadata = {"actor": "teller:test", "occurred_at": occurred_at}
    return runtime.router.dispatch_json(command, data, metadata=metadata)


@pytest.fixture
def dated_account(runtime) -> str:
    """account-A-7: opened 2024-03-01 with 1000, +250 on 2024-03-10, -50 on 2024-04-02."""
    dispatch_at(
        runtime,
        "2024-02-20T09:00:00+00:00",
        "RegisterUser",
        user_id="u-7",
        name="Grace",
        email="grace@example.org",
    )
    dispatch_at(
        runtime,
        "2024-03-01T09:00:00+00:00",
        "OpenAccount",
        account_number="A-7",
        owner_id="u-7",
        initial_balance=1000,
    )
    dispatch_at(
        runtime, "2024-03-10T12:00:00+00:00", "DepositMoney", account_number="A-7", amount=250
    )
    dispatch_at(
        runtime, "2024-04-02T08:00:00+00:00", "WithdrawMoney", account_number="A-7", amount=50
    )
    return "account-A-7"


def state_rows(page: str) -> dict[str, str]:
    table = page.split('data-testid="state"', 1)[1].split("</table>", 1)[0]
    return dict(
        re.findall(
            r'<th scope="row" class="mono">([^<]+)</th>\s*<td class="mono">(.*?)</td>', table
        )
    )


def test_state_as_of_a_date_is_the_last_version_that_happened_by_then(
    client, log_in, dated_account
):
    log_in("viewer")

    as_of = client.get(
        f"/streams/{dated_account}", query_string={"as_of": "2024-03-15", "clock": "happened"}
    )
    at_2 = client.get(f"/streams/{dated_account}", query_string={"version": 2})

    page = as_of.get_data(as_text=True)
    assert as_of.status_code == 200
    assert 'data-version="2"' in page
    assert "As of <strong>2024-03-15</strong> (by when events happened)" in page
    assert state_rows(page) == state_rows(at_2.get_data(as_text=True))
    assert ">€12.50<" in state_rows(page)["balance"]


def test_a_date_alone_counts_that_whole_day(client, log_in, dated_account):
    log_in("viewer")

    page = client.get(f"/streams/{dated_account}", query_string={"as_of": "2024-03-10"}).get_data(
        as_text=True
    )

    assert 'data-version="2"' in page  # the deposit at 12:00 that day is in


def test_by_the_recorded_clock_nothing_had_been_recorded_in_2024(client, log_in, dated_account):
    log_in("viewer")

    response = client.get(
        f"/streams/{dated_account}", query_string={"as_of": "2024-03-15", "clock": "recorded"}
    )

    assert response.status_code == 404
    assert "was recorded by 2024-03-15" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ({"as_of": "March"}, 400),
        ({"as_of": "2024-03-15", "clock": "sundial"}, 400),
        ({"as_of": "2024-02-01"}, 404),  # before the account was opened
    ],
)
def test_a_bad_or_too_early_date_is_refused_clearly(client, log_in, dated_account, args, status):
    log_in("viewer")

    response = client.get(f"/streams/{dated_account}", query_string=args)

    assert response.status_code == status


def test_two_versions_compared_show_every_field_that_differs(client, log_in, dated_account):
    log_in("viewer")

    forward = client.get(f"/streams/{dated_account}/compare", query_string={"a": 1, "b": 3})
    backward = client.get(f"/streams/{dated_account}/compare", query_string={"a": 3, "b": 1})

    page = forward.get_data(as_text=True)
    assert forward.status_code == 200
    assert "Version 1 against version 3" in page
    balance = re.search(r'data-field="balance">(.*?)</tr>', page, re.S).group(1)
    assert ">€10.00<" in balance and ">€12.00<" in balance
    assert page == backward.get_data(as_text=True)


def test_comparing_a_version_with_itself_finds_no_difference(client, log_in, dated_account):
    log_in("viewer")

    page = client.get(f"/streams/{dated_account}/compare", query_string={"a": 2, "b": 2}).get_data(
        as_text=True
    )

    assert "No field differs between these versions." in page


@pytest.mark.parametrize(
    "args", [{"a": 1}, {"a": 0, "b": 2}, {"a": 1, "b": 99}, {"a": "x", "b": 2}]
)
def test_a_comparison_needs_two_versions_the_stream_has(client, log_in, dated_account, args):
    log_in("viewer")

    response = client.get(f"/streams/{dated_account}/compare", query_string=args)

    assert response.status_code == 400


def test_a_viewer_sees_masks_in_diffs_never_escapes_nor_the_data(client, log_in, dated_account):
    log_in("viewer")

    at_1 = client.get("/streams/user-u-7", query_string={"version": 1}).get_data(as_text=True)

    diff = at_1.split('data-testid="diff"', 1)[1].split("</table>", 1)[0]
    assert 'data-testid="placeholder-masked">••• masked</span>' in diff
    assert "\\u2022" not in at_1
    assert "grace@example.org" not in at_1 and "Grace" not in diff


def test_support_sees_the_values_in_a_comparison_once_revealed(
    client, log_in, runtime, dated_account, reveal
):
    runtime.router.dispatch_json(
        "ChangeEmail", {"user_id": "u-7", "email": "g@example.org"}, metadata={}
    )
    log_in("support")
    masked = client.get("/streams/user-u-7/compare", query_string={"a": 1, "b": 2}).get_data(
        as_text=True
    )
    assert "g@example.org" not in masked
    assert 'data-testid="compare-masked-note"' in masked and "reveal email…" in masked
    reveal("u-7", "support")

    page = client.get("/streams/user-u-7/compare", query_string={"a": 1, "b": 2}).get_data(
        as_text=True
    )

    email = re.search(r'data-field="email">(.*?)</tr>', page, re.S).group(1)
    assert "grace@example.org" in email and "g@example.org" in email


def test_text_beyond_ascii_reads_as_written_in_a_comparison(client, log_in, runtime, reveal):
    runtime.router.dispatch_json(
        "RegisterUser",
        {"user_id": "u-8", "name": "Zoë Ångström", "email": "z@example.org"},
        metadata={},
    )
    runtime.router.dispatch_json(
        "ChangeEmail", {"user_id": "u-8", "email": "zoë@example.org"}, metadata={}
    )
    log_in("admin")
    reveal("u-8", "admin")

    page = client.get("/streams/user-u-8/compare", query_string={"a": 1, "b": 2}).get_data(
        as_text=True
    )

    assert "zoë@example.org" in page and "\\u00eb" not in page
