"""The health page charts the last hour for people: events appended per second, commands
accepted and refused, each projection's throughput and its lag; a minute without samples
is a gap, and the raw figures are a link away at /metrics."""

from __future__ import annotations

import re
import time

import pytest

from webapp.projections.unit import record_progress
from webapp.store import NO_STREAM, NewEvent, open_store
from webapp.web.charts import time_chart
from webapp.web.views.health import command_rates, rates

from .conftest import dispatch

OPEN = {"account_number": "H-1", "owner_id": "u-1", "initial_balance": 10}


def _chart(html: str, key: str) -> str:
    match = re.search(rf'<figure[^>]*data-testid="health-chart-{key}".*?</figure>', html, re.S)
    assert match, f"no {key} chart"
    return match.group(0)


def _polylines(chart_html: str, series: str) -> list[list[tuple[float, float]]]:
    group = re.search(rf'<g data-series="{re.escape(series)}">(.*?)</g>', chart_html, re.S)
    assert group, f"no series {series!r}"
    return [
        [tuple(map(float, p.split(","))) for p in points.split()]
        for points in re.findall(r'<polyline points="([^"]+)"', group.group(1))
    ]


def _history(runtime, name: str, minutes: list[int], per_minute: int, now: float) -> None:
    """Progress rows of `name` as a worker applying `per_minute` events a minute would have
    left, `minutes` ago, with the head running 5 events ahead."""
    with runtime.store.engine.begin() as conn:
        for ago in sorted(minutes, reverse=True):
            at = (int(now // 60) - ago) * 60 + 30
            position = (60 - ago) * per_minute
            record_progress(conn, name, "projection", position, position + 5, at)


# --- the pure parts ------------------------------------------------------------------------


def test_a_rate_is_the_change_between_consecutive_minutes_per_second():
    samples = [(0, 30.0, 100), (60, 90.0, 400), (180, 210.0, 500), (240, 270.0, 440)]

    assert rates(samples) == [(90.0, 5.0), (270.0, 0.0)]  # no minute 120: no rate across it


def test_commands_per_second_cover_every_minute_of_the_window_the_current_one_so_far():
    counts = {600: {"accepted": 120}, 660: {"refused": 6}}

    assert command_rates(counts, "accepted", 600, 690) == [(660, 2.0), (690, 0.0)]
    assert command_rates(counts, "refused", 600, 690) == [(660, 0.0), (690, 0.2)]


def test_a_missing_minute_splits_a_line_into_segments():
    chart = time_chart(
        {"a": [(0, 1.0), (60, 2.0), (240, 3.0), (300, 1.0), (600, 4.0)]},
        start=0,
        end=600,
        title="t",
        unit="u",
    )

    [series] = chart.series
    assert [len(s.points.split()) for s in series.segments] == [2, 2, 1]
    assert series.segments[-1].single is not None  # a lone sample is a dot
    assert series.latest == "4.0"


# --- the page ------------------------------------------------------------------------------


def test_anyone_signed_in_sees_the_health_page_and_nobody_else(client, log_in):
    assert client.get("/health/").status_code == 302  # to the login page
    log_in("viewer")

    page = client.get("/health/")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key in ("events", "commands", "throughput", "lag"):
        assert _chart(html, key).count("<line ") == 3  # the y axis: 0, half, top
    assert 'href="/health/"' in client.get("/").get_data(as_text=True)  # in the navigation


def test_without_samples_the_page_asks_whether_a_worker_runs(client, log_in):
    log_in("viewer")

    html = client.get("/health/").get_data(as_text=True)

    assert 'data-testid="no-samples"' in html
    assert "no samples in this hour" in _chart(html, "throughput")


def test_throughput_and_lag_follow_what_the_workers_recorded_with_gaps(client, log_in, runtime):
    now = time.time()
    _history(runtime, "account_summary", [30, 29, 28, 27, 20, 19, 18], per_minute=120, now=now)
    _history(runtime, "user_directory", [10, 9, 8], per_minute=60, now=now)
    log_in("viewer")

    html = client.get("/health/").get_data(as_text=True)

    throughput = _chart(html, "throughput")
    # account_summary: 3 rates from minutes 30..27, a gap, 2 rates from minutes 20..18
    assert [len(line) for line in _polylines(throughput, "account_summary")] == [3, 2]
    assert [len(line) for line in _polylines(throughput, "user_directory")] == [2]
    assert 'account_summary <span class="muted small">now 2.0' in throughput  # 120 a minute
    lag = _chart(html, "lag")
    assert [len(line) for line in _polylines(lag, "user_directory")] == [3]
    assert "now 5" in lag
    events = _chart(html, "events")
    assert _polylines(events, "events")  # the head's rise, from the same rows
    assert 'data-testid="no-samples"' not in html


def test_commands_accepted_and_refused_show_in_figures_and_chart(client, log_in, auth_headers):
    admin = auth_headers("admin")
    for number in ("H-1", "H-2", "H-3"):
        body = {"command": "OpenAccount", "data": {**OPEN, "account_number": number}}
        assert client.post("/api/commands", json=body, headers=admin).status_code == 201
    refused = {"command": "DepositMoney", "data": {"account_number": "H-1", "amount": -5}}
    assert client.post("/api/commands", json=refused, headers=admin).status_code == 400
    log_in("viewer")

    html = client.get("/health/").get_data(as_text=True)

    assert 'data-testid="commands-accepted">3<' in html
    assert 'data-testid="commands-refused">1<' in html
    commands = _chart(html, "commands")
    assert _polylines(commands, "accepted") and _polylines(commands, "refused")
    assert 'data-series="failed"' not in commands  # shown only when something failed


def test_the_refresh_asks_for_the_charts_alone(client, log_in):
    log_in("viewer")

    fragment = client.get("/health/", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert fragment.lstrip().startswith("<section")
    assert 'hx-trigger="every 15s"' in fragment
    assert "<html" not in fragment


@pytest.mark.parametrize(
    ("role", "linked"), [("viewer", False), ("support", False), ("admin", True)]
)
def test_the_raw_metrics_are_linked_for_whoever_can_read_them(client, log_in, role, linked):
    log_in(role)

    html = client.get("/health/").get_data(as_text=True)

    assert ('href="/metrics"' in html) is linked  # a session of another role gets a 403 there
    assert ("API token" in html) is not linked
    assert "/metrics" in html


def test_a_stopped_or_paused_unit_is_named_at_the_top(client, log_in, runtime):
    dispatch(runtime, "RegisterUser", user_id="u-1", name="Ada", email="ada@example.org")
    runtime.projections.pause("user_directory", actor="test")
    runtime.projections.runner("user_directory").run_until_caught_up()
    log_in("viewer")

    html = client.get("/health/").get_data(as_text=True)

    assert re.search(r'data-testid="troubled-units">.*user_directory.*\(paused\)', html, re.S)


def test_the_search_index_card_says_how_far_the_index_builder_has_come(client, log_in, runtime):
    log_in("viewer")
    # appended by a store with no builder of its own, and indexed here in this thread: no
    # background round is pending that could catch the index up behind the test's back
    with open_store(runtime.settings.db_url, index_in_background=False) as other:
        other.append("note-1", [NewEvent("NoteAdded", {"n": 1})], NO_STREAM)
    head = runtime.store.head_position()
    runtime.store.catch_up_index()

    caught_up = client.get("/health/").get_data(as_text=True)
    with runtime.store.engine.begin() as conn:  # as if the builder were one event behind
        conn.exec_driver_sql(f"UPDATE index_progress SET position = {head - 1}")
        conn.exec_driver_sql(f"DELETE FROM event_index WHERE position = {head}")
    behind = client.get("/health/").get_data(as_text=True)

    assert re.search(r'data-testid="index-lag">Up to date<', caught_up)
    assert f"indexed up to position {head:,}" in caught_up
    assert re.search(r'data-testid="index-lag">1<', behind)
    assert f"events past position {head - 1:,} not indexed yet" in behind
