"""Two clocks, named: the timeline filters by when events happened (the default) or when
they were recorded, the API says both, and the overview's chart is a real time axis."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from webapp.store import NewEvent

MARCH_2024 = {"since": "2024-03-01", "until": "2024-04-01"}


def positions(page: str) -> list[int]:
    return [int(p) for p in re.findall(r'data-testid="timeline-row" data-position="(\d+)"', page)]


@pytest.fixture
def history(runtime) -> dict[str, int]:
    """Events that happened in March and May 2024 (recorded today), and one with no business
    time: {name: position}."""
    found = {}
    for name, at in [
        ("march", "2024-03-05T10:00:00+00:00"),
        ("may", "2024-05-02T09:00:00+00:00"),
        ("untimed", None),
    ]:
        metadata = {"actor": "teller:test"} | ({"occurred_at": at} if at else {})
        [event] = runtime.store.append(f"account-{name}", [NewEvent("Opened", {}, metadata)]).events
        found[name] = event.position
    return found


def test_a_march_2024_filter_finds_what_happened_then_by_default(client, log_in, history):
    log_in("viewer")

    page = client.get("/timeline/", query_string=MARCH_2024).get_data(as_text=True)

    assert positions(page) == [history["march"]]
    assert 'data-testid="filter-clock-note">happened</span>' in page
    assert '<option value="happened" selected>when it happened</option>' in page


def test_the_recorded_clock_finds_nothing_in_march_2024_but_today_everything(
    client, log_in, history
):
    log_in("viewer")
    today = datetime.now(UTC).date().isoformat()

    march = client.get("/timeline/", query_string={**MARCH_2024, "clock": "recorded"})
    today_page = client.get("/timeline/", query_string={"since": today, "clock": "recorded"})

    assert positions(march.get_data(as_text=True)) == []
    assert sorted(positions(today_page.get_data(as_text=True))) == sorted(history.values())


def test_an_event_without_a_business_time_happened_when_it_was_recorded(client, log_in, history):
    log_in("viewer")
    today = datetime.now(UTC).date().isoformat()

    page = client.get("/timeline/", query_string={"since": today, "clock": "happened"})

    assert positions(page.get_data(as_text=True)) == [history["untimed"]]


def test_each_row_names_both_clocks(client, log_in, history):
    log_in("viewer")

    page = client.get("/timeline/", query_string=MARCH_2024).get_data(as_text=True)

    assert re.search(r'clock__name">happened</span> <time datetime="2024-03-05T10:00:00', page)
    assert 'clock__name">recorded</span>' in page
    assert "<th>When (UTC)</th>" in page


@pytest.mark.parametrize("clock", ["business", "HAPPENED", "<script>"])
def test_an_unknown_clock_is_refused(client, log_in, history, clock):
    log_in("viewer")

    response = client.get("/timeline/", query_string={"clock": clock})

    assert response.status_code == 400
    assert "happened" in response.get_data(as_text=True)
    assert "<script>" not in response.get_data(as_text=True)


def test_the_api_adds_when_each_event_happened_beside_when_it_was_recorded(
    client, auth_headers, history
):
    reply = client.get("/api/events", headers=auth_headers("viewer")).get_json()

    by_position = {e["position"]: e for e in reply["events"]}
    assert by_position[history["march"]]["occurred_at"] == "2024-03-05T10:00:00+00:00"
    assert by_position[history["untimed"]]["occurred_at"] is None
    assert all("recorded_at" in e and "metadata" in e for e in reply["events"])


def test_the_chart_draws_gaps_and_breaks_and_links_each_bar_to_its_day(
    client, log_in, runtime, history
):
    runtime.store.append(
        "account-march",
        [NewEvent("Deposited", {}, {"occurred_at": "2024-03-08T12:00:00+00:00"})],
    )
    runtime.projections.rebuild_now("daily_activity")
    log_in("viewer")

    page = client.get("/").get_data(as_text=True)

    bars = re.findall(r'href="([^"]+)"[^>]*data-testid="chart-bar" data-day="([^"]+)"', page)
    days = [day for _, day in bars]
    assert days[:3] == ["2024-03-05", "2024-03-08", "2024-05-02"]
    assert {"2024-03-06", "2024-03-07"} <= set(
        re.findall(r'data-testid="chart-gap" data-day="([^"]+)"', page)
    )
    assert page.count('data-testid="chart-break"') == 2  # March..May and May..today
    assert "when events happened" in page
    march_5 = dict((day, href) for href, day in bars)["2024-03-05"]
    assert march_5 == "/timeline/?clock=happened&amp;since=2024-03-05&amp;until=2024-03-06"

    day_page = client.get(march_5.replace("&amp;", "&")).get_data(as_text=True)
    assert positions(day_page) == [history["march"]]


def test_the_api_filters_by_when_events_happened_when_asked(client, auth_headers, history):
    headers = auth_headers("viewer")

    happened = client.get(
        "/api/events", headers=headers, query_string={**MARCH_2024, "clock": "happened"}
    )
    recorded = client.get("/api/events", headers=headers, query_string=MARCH_2024)
    refused = client.get("/api/events", headers=headers, query_string={"clock": "sundial"})

    assert [e["position"] for e in happened.get_json()["events"]] == [history["march"]]
    assert recorded.get_json()["events"] == []  # the API's default clock stays `recorded`
    assert refused.status_code == 400 and "error" in refused.get_json()
