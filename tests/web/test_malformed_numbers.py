"""Every whole number a person or script sends is checked before it reaches the store:
other Unicode digits, decimals and values beyond a 64-bit integer get a 400 that says
what was wrong, never a 500 from `int()` or the database driver."""

from __future__ import annotations

import pytest

from webapp.web.numbers import MAX_INTEGER, BadNumber, whole_number

# "²" and "١٢" pass str.isdigit(); int() refuses the first and reads the second as 12
MALFORMED = ["²", "١٢", "9" * 30, str(MAX_INTEGER + 1), "1.5", "x", "--1"]

DASHBOARD = [
    "/access-log/?before={v}",
    "/access-log/?trail={v}",
    "/notes/?before={v}",
    "/notes/?session=review&after={v}",
    "/snapshots/account-A-100?before={v}",
    "/streams/account-A-100?version={v}",
    "/streams/account-A-100?from={v}",
    "/streams/account-A-100/state?version={v}",
    "/streams/account-A-100/live?after={v}",
    "/timeline/?before={v}",
    "/timeline/?after={v}",
    "/timeline/live?after={v}",
    "/timeline/live?after=1&shown={v}",
    "/timeline/live?after=1&oldest={v}",
]

API = [
    "/api/streams?limit={v}",
    "/api/streams/account-A-100/events?from_version={v}",
    "/api/streams/account-A-100/events?limit={v}",
    "/api/streams/account-A-100/state?version={v}",
    "/api/events?after={v}",
    "/api/events?limit={v}",
]


@pytest.mark.parametrize("value", MALFORMED)
def test_dashboard_pages_refuse_malformed_numbers_with_a_400(client, log_in, bank, value):
    log_in("admin")
    for url in DASHBOARD:
        response = client.get(url.format(v=value))
        assert response.status_code == 400, (url, value, response.status_code)
        page = response.get_data(as_text=True)
        assert any(says in page for says in ("whole number", "between", "or more")), url


@pytest.mark.parametrize("value", MALFORMED)
def test_api_queries_refuse_malformed_numbers_with_a_json_error(client, bank, auth_headers, value):
    for url in API:
        response = client.get(url.format(v=value), headers=auth_headers("admin"))
        assert response.status_code == 400, (url, value, response.status_code)
        assert "query parameter" in response.get_json()["error"], (url, value)


def test_ids_in_paths_beyond_64_bits_are_not_found_rather_than_a_crash(client, log_in, csrf):
    log_in("viewer")
    assert client.get(f"/timeline/events/{'9' * 30}/chain").status_code == 404
    deleted = client.post(f"/notes/{'9' * 30}/delete", data={"csrf_token": csrf()})
    assert deleted.status_code == 404


def test_a_note_on_an_event_needs_an_ascii_position(client, log_in, csrf):
    log_in("viewer")
    for target in ("²", "9" * 30, "0"):
        response = client.post(
            "/notes/",
            data={"kind": "event", "target": target, "body": "hi", "csrf_token": csrf()},
        )
        assert response.status_code == 400, target
        assert "global position" in response.get_data(as_text=True)
    assert "No notes yet" in client.get("/notes/").get_data(as_text=True)


def test_the_resume_api_refuses_a_skip_position_beyond_64_bits(
    client, auth_headers, stopped_process
):
    response = client.post(
        f"/api/projections/{stopped_process['name']}/resume",
        json={"skip_position": MAX_INTEGER + 1},
        headers=auth_headers("admin"),
    )
    assert response.status_code == 400
    assert "skip_position" in response.get_json()["error"]


def test_the_resume_form_refuses_a_skip_position_that_is_not_a_whole_number(
    client, log_in, csrf, stopped_process
):
    log_in("admin")
    name = stopped_process["name"]
    response = client.post(
        f"/projections/{name}/resume",
        data={"action": "skip", "position": "²", "confirm": name, "csrf_token": csrf()},
    )
    assert response.status_code == 400
    assert "whole number" in response.get_data(as_text=True)


@pytest.mark.parametrize("amount", ["²", "+-5", "9" * 200])
def test_a_command_field_typed_int_refuses_text_that_is_not_ascii_digits(
    client, auth_headers, bank, runtime, amount
):
    before = runtime.store.count_events()
    response = client.post(
        "/api/commands",
        json={"command": "DepositMoney", "data": {"account_number": "A-100", "amount": amount}},
        headers=auth_headers("admin"),
    )
    assert response.status_code == 400, response.get_json()
    assert "amount" in response.get_json()["error"]
    assert runtime.store.count_events() == before


@pytest.mark.parametrize(
    ("text", "expected"), [("7", 7), (" 42 ", 42), ("-3", -3), (str(MAX_INTEGER), MAX_INTEGER)]
)
def test_whole_number_reads_ascii_integers_in_range(text, expected):
    assert whole_number(text, "n", low=-10) == expected


@pytest.mark.parametrize(
    ("text", "low", "high", "says"),
    [
        ("²", 0, 10, "must be a whole number"),
        ("", 0, 10, "must be a whole number"),
        ("-", 0, 10, "must be a whole number"),
        ("11", 0, 10, "between 0 and 10"),
        ("-1", 0, MAX_INTEGER, "0 or more"),
        ("9" * 5000, 0, MAX_INTEGER, f"between 0 and {MAX_INTEGER}"),
        (str(MAX_INTEGER + 1), 1, MAX_INTEGER, f"between 1 and {MAX_INTEGER}"),
    ],
)
def test_whole_number_names_what_is_wrong(text, low, high, says):
    with pytest.raises(BadNumber, match=says):
        whole_number(text, "n", low=low, high=high)
