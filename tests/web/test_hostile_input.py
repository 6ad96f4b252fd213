"""Hostile input gets a 400 that names the problem on both stores, never a 500.

PostgreSQL refuses NUL characters in text and Python's JSON parser gives up on very deep
nesting; both used to surface as server errors from whichever query met the value first.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

PATH_SAMPLES = {"stream_id": "account-A-100", "subject_id": "u-1", "name": "account_summary"}
QUERY_NAMES = (
    "q",
    "type",
    "sort",
    "after",
    "before",
    "trail",
    "from",
    "version",
    "limit",
    "prefix",
    "from_version",
    "actor",
    "subject",
    "action",
    "since",
    "until",
    "stream",
    "correlation",
    "correlation_id",
    "data",
    "stream_prefix",
    "subject_id",
    "session",
    "process",
    "status",
    "instance",
    "user",
    "shown",
    "oldest",
)


@pytest.fixture
def signed_in(db_url: str, admin_on) -> dict[str, Any]:
    """An admin's browser session and API token on a store of each backend."""
    return admin_on(db_url)


def get_routes(app) -> list[str]:
    """Every GET page and API route, its path variables filled with sample values."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or "login" in rule.endpoint:
            continue
        url = re.sub(r"<int[^>]*>", "1", rule.rule)
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PATH_SAMPLES.get(m.group(1), "x"), url)
        urls.append(url)
    return urls


def test_a_nul_character_in_any_query_value_is_refused_before_it_reaches_the_store(signed_in):
    client, api = signed_in["client"], signed_in["api"]
    failures = []
    for url in get_routes(signed_in["app"]):
        for name in QUERY_NAMES:
            response = client.get(url, query_string={name: "a\x00b"}, headers=api)
            if response.status_code != 400 or b"NUL character" not in response.data:
                failures.append((url, name, response.status_code))
    assert not failures


ODD_PATH_VALUES = [
    "%00",  # NUL
    "%FF",  # not UTF-8
    "x" * 5000,
    "../../etc/passwd",
    "$all",
    "a%2Fb",
    "%3Cscript%3E",
    "9" * 40,
    "-1",
]


def test_odd_values_in_the_address_get_an_answer_not_a_server_error(signed_in):
    client, api = signed_in["client"], signed_in["api"]
    failures = []
    for rule in signed_in["app"].url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or not rule.arguments:
            continue
        for value in ODD_PATH_VALUES:
            url = re.sub(r"<[^>]+>", value, rule.rule)
            response = client.get(url, headers=api)
            if response.status_code >= 500:
                failures.append((rule.rule, value[:20], response.status_code))
    assert not failures
    nul = client.get("/streams/account%00-A-100", headers=api)
    assert nul.status_code == 400
    assert "'stream_id' in the address contains a NUL character" in html.unescape(
        nul.get_data(as_text=True)
    )


EDGE_TIMES = [
    "0001-01-01T00:00+14:00",  # before the year 1 once in UTC
    "9999-12-31T23:59-14:00",  # after the year 9999 once in UTC
    "0001-01-01",
    "9999-12-31T23:59:59.999999",
]


@pytest.mark.parametrize("name", ["since", "until"])
def test_times_at_the_edge_of_the_calendar_get_an_answer_not_a_server_error(signed_in, name):
    client, api = signed_in["client"], signed_in["api"]
    failures = []
    for url in get_routes(signed_in["app"]):
        for value in EDGE_TIMES:
            response = client.get(url, query_string={name: value}, headers=api)
            response.get_data()  # a CSV download streams: read it to the end
            if response.status_code >= 500:
                failures.append((url, value, response.status_code))
    assert not failures


def test_a_nul_character_in_a_form_is_refused_and_nothing_changes(signed_in):
    client, runtime = signed_in["client"], signed_in["runtime"]
    before = runtime.store.count_events()
    response = client.post(
        "/subjects/u-1/forget",
        data={
            "csrf_token": signed_in["csrf"],
            "reason": "ticket\x004711",
            "confirm_id": "u-1",
            "understood": "yes",
        },
    )
    assert response.status_code == 400
    assert "'reason' value contains a NUL character" in html.unescape(
        response.get_data(as_text=True)
    )
    assert runtime.store.count_events() == before
    assert client.get("/subjects/u-1").status_code == 200  # not forgotten


def test_a_nul_character_anywhere_in_a_json_body_is_refused(signed_in):
    client, api, runtime = signed_in["client"], signed_in["api"], signed_in["runtime"]
    before = runtime.store.count_events()
    forget = client.post("/api/subjects/u-1/forget", json={"reason": "a\x00b"}, headers=api)
    deposit = client.post(
        "/api/commands",
        json={
            "command": "DepositMoney",
            "data": {"account_number": "A-100", "amount": 5, "x\x00": 1},
        },
        headers=api,
    )
    for response in (forget, deposit):
        assert response.status_code == 400
        assert response.get_json() == {"error": "the request body contains a NUL character"}
    assert runtime.store.count_events() == before


def test_json_nested_too_deeply_to_parse_is_a_400(signed_in):
    client, api = signed_in["client"], signed_in["api"]
    for body in ('{"a":' * 5000, "[" * 100_000):
        response = client.post(
            "/api/commands", data=body, headers={**api, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert "error" in response.get_json()


def test_json_nesting_the_parser_accepts_still_gets_a_clear_refusal(signed_in):
    client, api, runtime = signed_in["client"], signed_in["api"], signed_in["runtime"]
    before = runtime.store.count_events()
    nested: Any = 5
    for _ in range(500):
        nested = {"amount": nested}
    response = client.post(
        "/api/commands",
        data=json.dumps({"command": "DepositMoney", "data": {"account_number": "A-100", **nested}}),
        headers={**api, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "amount" in response.get_json()["error"]
    assert runtime.store.count_events() == before
