"""`/metrics` labels come only from bounded, known values, never from what a client sent."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from webapp.web import services
from webapp.web.errors import RequestRefused
from webapp.web.metrics import COMMAND_OUTCOMES, UNKNOWN_COMMAND, app_metrics


def _scrape(client, auth_headers) -> str:
    response = client.get("/metrics", headers=auth_headers("viewer"))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _command_labels(text: str) -> set[str]:
    labels = set()
    for family in text_string_to_metric_families(text):
        if family.name in ("eventscope_commands", "eventscope_command_duration_seconds"):
            labels.update(sample.labels["command"] for sample in family.samples)
    return labels


def _post_raw(client, auth_headers, body: str):
    headers = {**auth_headers("admin"), "Content-Type": "application/json"}
    return client.post("/api/commands", data=body.encode(), headers=headers)


def test_a_command_name_holding_a_lone_surrogate_is_refused_and_metrics_still_answer(
    client, auth_headers
):
    refused = _post_raw(client, auth_headers, '{"command": "\\ud800", "data": {}}')

    assert refused.status_code == 400
    text = _scrape(client, auth_headers)
    assert _command_labels(text) <= {UNKNOWN_COMMAND}


def test_a_name_no_route_knows_reaching_the_counters_is_counted_as_unknown(
    app, client, auth_headers
):
    app_metrics(app).observe_command("\ud800", "invalid", 0.001)

    text = _scrape(client, auth_headers)

    assert f'eventscope_commands_total{{command="{UNKNOWN_COMMAND}",outcome="invalid"}} 1.0' in text


def test_a_surrogate_is_refused_in_plain_words_not_codec_text(client, auth_headers):
    body = (
        '{"command": "RegisterUser", '
        '"data": {"user_id": "u-1", "name": "Ada\\udc80", "email": "a@b.org"}}'
    )

    refused = _post_raw(client, auth_headers, body)

    assert refused.status_code == 400
    message = refused.get_json()["error"]
    assert message == (
        "the request body contains a lone surrogate escape (text that is not valid Unicode)"
    )
    assert "codec" not in json.dumps(refused.get_json())


def test_a_nul_in_a_command_name_is_refused_in_plain_words(client, auth_headers):
    refused = _post_raw(client, auth_headers, '{"command": "Deposit\\u0000Money", "data": {}}')

    assert refused.status_code == 400
    assert "\\x00" not in refused.get_json()["error"]
    assert _command_labels(_scrape(client, auth_headers)) <= {UNKNOWN_COMMAND}


def test_a_thousand_unknown_command_names_count_under_one_label(client, auth_headers, app):
    for number in range(1000):
        response = client.post(
            "/api/commands",
            json={"command": f"NoSuchCommand{number}", "data": {}},
            headers=auth_headers("admin"),
        )
        assert response.status_code == 400

    text = _scrape(client, auth_headers)

    assert _command_labels(text) == {UNKNOWN_COMMAND}
    assert (
        f'eventscope_commands_total{{command="{UNKNOWN_COMMAND}",outcome="invalid"}} 1000.0' in text
    )
    assert len(list(app_metrics(app).command_outcomes.collect()[0].samples)) <= 2


def test_known_command_names_keep_their_own_label(client, auth_headers, bank):
    client.post(
        "/api/commands",
        json={"command": "DepositMoney", "data": {"account_number": "A-100", "amount": 5}},
        headers=auth_headers("admin"),
    )

    assert "DepositMoney" in _command_labels(_scrape(client, auth_headers))


def test_outcome_labels_come_from_the_fixed_list(app):
    metrics = app_metrics(app)

    metrics.observe_command("DepositMoney", "something-else", 0.01)

    outcomes = {
        sample.labels["outcome"]
        for sample in metrics.command_outcomes.collect()[0].samples
        if "outcome" in sample.labels
    }
    assert outcomes <= set(COMMAND_OUTCOMES)


def test_text_that_is_not_unicode_reaching_dispatch_is_refused_in_plain_words(app):
    data = {"user_id": "u-1", "name": "Ada\udc80", "email": "ada@example.org"}

    with app.test_request_context("/api/commands"), pytest.raises(RequestRefused) as refused:
        services.dispatch("RegisterUser", data, account=None)

    assert refused.value.code == 400
    assert refused.value.description == "a text field holds characters that are not valid Unicode"
