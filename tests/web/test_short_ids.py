"""The 8-character ids the pages show: pasted into the timeline's filter they find their
events; the whole id is on the page, ready to copy."""

from __future__ import annotations

import re

import pytest

from .conftest import csv_rows


def positions(page: str) -> list[int]:
    return [int(p) for p in re.findall(r'data-testid="timeline-row" data-position="(\d+)"', page)]


def correlation_of(runtime, position: int) -> str:
    return runtime.store.get_event(position).metadata["correlation_id"]


@pytest.mark.parametrize("shown", ["{id8}", " {id8}… ", "{id13}", "{id}"])
def test_a_short_correlation_id_pasted_into_the_filter_finds_its_events(
    client, log_in, runtime, bank, shown
):
    correlation = correlation_of(runtime, 3)
    log_in("viewer")
    text = shown.format(id8=correlation[:8], id13=correlation[:13], id=correlation)

    response = client.get("/timeline/", query_string={"correlation": text})

    assert response.status_code == 200
    assert positions(response.get_data(as_text=True)) == [3]


def test_the_export_takes_the_short_id_too(client, log_in, runtime, bank):
    correlation = correlation_of(runtime, 2)
    log_in("viewer")

    rows = csv_rows(client.get(f"/timeline/export.csv?correlation={correlation[:8]}"))

    header, *events = rows
    assert [row[header.index("correlation_id")] for row in events] == [correlation]


@pytest.mark.parametrize("text", ["3f2a9c1", "abc", "3f2a-9c"])
def test_too_short_an_id_is_a_clear_400(client, log_in, bank, text):
    log_in("viewer")

    response = client.get("/timeline/", query_string={"correlation": text})
    inline = client.get(
        "/timeline/", query_string={"correlation": text}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 400
    assert "at least 8 characters" in response.get_data(as_text=True)
    assert inline.status_code == 200  # htmx shows the message in place of the results
    assert "at least 8 characters" in inline.get_data(as_text=True)


def test_pages_show_the_short_id_with_the_whole_id_to_copy(client, log_in, runtime, bank):
    correlation = correlation_of(runtime, 3)
    causation = runtime.store.get_event(3).metadata["causation_id"]
    log_in("viewer")

    stream = client.get("/streams/account-A-100").get_data(as_text=True)
    timeline = client.get("/timeline/").get_data(as_text=True)

    for page in (stream, timeline):
        assert f">{correlation[:8]}</a>" in page
        assert f'readonly value="{correlation}" aria-label="whole correlation id"' in page
    assert f'title="{causation}">{causation[:8]}</span>' in stream
    assert f'readonly value="{causation}" aria-label="whole causation id"' in stream
    assert not re.search(r"<script(?![^>]*\bsrc=)", stream)  # copying needs no inline script


def test_the_api_takes_a_correlation_prefix(client, auth_headers, runtime, bank):
    correlation = correlation_of(runtime, 3)
    viewer = auth_headers("viewer")

    found = client.get(f"/api/events?correlation_prefix={correlation[:8]}", headers=viewer)
    short = client.get("/api/events?correlation_prefix=3f2a9c1", headers=viewer)

    assert [e["position"] for e in found.get_json()["events"]] == [3]
    assert short.status_code == 400
    assert "at least 8 characters" in short.get_json()["error"]
