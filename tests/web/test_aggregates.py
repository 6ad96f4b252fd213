"""Live aggregates: what the registry holds, its counters, and the size/memory chart."""

from __future__ import annotations

import re

import pytest

HX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/aggregates/")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_every_role_sees_the_live_aggregates(client, log_in, bank, role):
    log_in(role)

    page = text(client.get("/aggregates/"))

    assert "account-A-100" in page
    assert "BankAccount" in page


def test_the_page_shows_version_deadline_memory_and_counters(client, log_in, runtime, bank):
    runtime.router.dispatch_json("DepositMoney", {"account_number": "A-100", "amount": 1})
    log_in("viewer")
    stats = runtime.registry.stats()

    page = text(client.get("/aggregates/"))

    assert re.search(rf'data-testid="live-count">\s*{stats.size}\s*<', page)
    assert re.search(rf'data-testid="loads">\s*{stats.loads}\s*<', page)
    assert re.search(rf'data-testid="hits">\s*{stats.hits}\s*<', page)
    row = page[page.index("account-A-100") :]
    row = row[: row.index("</tr>")]
    assert ">4<" in row  # the account's version after open, deposit, withdraw, deposit
    assert "in 59 min" in row or "in 1 h" in row  # a deposit keeps an account warm for an hour
    assert " B<" in row


def test_an_aggregate_without_a_deadline_is_kept(client, log_in, bank):
    log_in("viewer")

    page = text(client.get("/aggregates/"))
    row = page[page.index("account-A-100") :]

    assert "kept (no deadline)" in row[: row.index("</tr>")]  # a withdrawal keeps it forever


def test_an_evicted_aggregate_leaves_the_page(client, log_in, runtime, bank):
    log_in("viewer")
    runtime.registry.evict("account-A-100")

    page = text(client.get("/aggregates/"))

    assert "account-A-100" not in page
    assert re.search(r'data-testid="evictions">\s*[1-9]', page)


def test_the_chart_draws_the_registry_history_as_svg(client, log_in, runtime, bank):
    runtime.registry.sample()
    runtime.registry.sample()
    log_in("viewer")

    page = text(client.get("/aggregates/"))

    assert 'data-testid="chart-size"' in page
    assert 'data-testid="chart-memory"' in page
    points = re.findall(r'<polyline points="([^"]+)"', page)
    assert len(points) == 2
    assert all(len(p.split()) >= 2 for p in points)
    assert " style=" not in page


def test_the_fragment_refreshes_itself(client, log_in, bank):
    log_in("viewer")

    fragment = text(client.get("/aggregates/", headers=HX))

    assert "<html" not in fragment
    assert 'id="aggregates-live"' in fragment
    assert 'hx-trigger="every 2s"' in fragment


def test_the_reaper_runs_in_the_serving_process(client, log_in, runtime):
    log_in("viewer")

    page = text(client.get("/aggregates/"))

    assert runtime.registry.running
    assert "running" in page


def test_the_same_figures_are_available_as_json(client, bank, auth_headers):
    response = client.get("/aggregates/?format=json", headers=auth_headers("viewer"))

    body = response.get_json()
    assert response.status_code == 200
    assert body["stats"]["size"] >= 1
    assert "account-A-100" in [row["stream_id"] for row in body["live"]]
    assert body["reaper_running"] is True
    assert isinstance(body["history"], list)
