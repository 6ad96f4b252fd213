"""Engineers find process-manager instances: newest first, by process, status or id."""

from __future__ import annotations

import re

import pytest

from webapp.projections import schema
from webapp.web.pages import encode_cursor
from webapp.web.views import projections as projections_view


def rows(page: str) -> list[str]:
    return re.findall(r'data-testid="instance-row" data-instance="([^"]+)"', page)


@pytest.fixture
def instances(runtime):
    """Twelve transfer_money instances, t-00 the least and t-11 the most recently active;
    every third one still running."""
    with runtime.store.engine.begin() as conn:
        conn.execute(
            schema.process_instances.insert(),
            [
                {
                    "process": "transfer_money",
                    "instance_id": f"t-{i:02d}",
                    "state": {"status": "requested" if i % 3 == 0 else "completed"},
                    "status": "running" if i % 3 == 0 else "finished",
                    "last_position": i,
                    "started_at": 1_700_000_000.0 + i,
                    "updated_at": 1_700_000_000.5 + i,
                }
                for i in range(12)
            ],
        )
    return [f"t-{i:02d}" for i in range(12)]


def test_instances_are_listed_newest_first_and_paged_by_keyset(
    client, log_in, instances, monkeypatch
):
    monkeypatch.setattr(projections_view, "INSTANCES_PAGE", 5)
    log_in("viewer")

    first = client.get("/projections/processes").get_data(as_text=True)
    cursor = re.search(r'href="/projections/processes\?before=([^"&]+)"', first).group(1)
    second = client.get(f"/projections/processes?before={cursor}").get_data(as_text=True)
    cursor = re.search(r'href="/projections/processes\?before=([^"&]+)"', second).group(1)
    third = client.get(f"/projections/processes?before={cursor}").get_data(as_text=True)

    assert rows(first) == ["t-11", "t-10", "t-09", "t-08", "t-07"]
    assert rows(second) == ["t-06", "t-05", "t-04", "t-03", "t-02"]
    assert rows(third) == ["t-01", "t-00"]
    assert 'data-testid="instances-older"' not in third
    assert 'data-testid="instances-newest"' in third


def test_instances_filter_by_status_and_id_and_keep_the_filter_when_paging(
    client, log_in, instances, monkeypatch
):
    monkeypatch.setattr(projections_view, "INSTANCES_PAGE", 2)
    log_in("viewer")

    running = client.get("/projections/processes?status=running").get_data(as_text=True)
    one = client.get("/projections/processes?instance=t-04").get_data(as_text=True)

    assert rows(running) == ["t-09", "t-06"]
    assert re.search(r'href="/projections/processes\?before=[^"]+&amp;status=running"', running)
    assert rows(one) == ["t-04"]


def test_the_projections_page_links_to_every_instance(client, log_in, instances):
    log_in("viewer")

    page = client.get("/projections/").get_data(as_text=True)

    assert 'data-testid="instances-link"' in page
    assert rows(page)[:2] == ["t-11", "t-10"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=exploded", "Unknown status"),
        ("process=nope", "There is no process manager"),
        ("before=not-a-cursor", "paging cursor is not valid"),
        (f"before={encode_cursor(['x', 1, 2])}", "paging cursor is not valid"),
    ],
)
def test_bad_instance_queries_are_a_400(client, log_in, instances, query, message):
    log_in("viewer")

    response = client.get(f"/projections/processes?{query}")

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/projections/processes").status_code == 302


def test_the_newest_first_listing_reads_an_index(runtime, instances):
    with runtime.store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM process_instances "
            "WHERE status = 'running' ORDER BY updated_at DESC, process DESC, instance_id DESC "
            "LIMIT 51"
        ).all()
    detail = " ".join(str(r[-1]) for r in plan)
    assert "ix_process_instances_status_updated" in detail
    assert "TEMP B-TREE" not in detail  # no sort of the whole table


def test_finding_one_instance_by_id_reads_an_index(runtime, instances):
    with runtime.store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM process_instances WHERE instance_id = 't-04' "
            "ORDER BY updated_at DESC, process DESC, instance_id DESC LIMIT 51"
        ).all()
    detail = " ".join(str(r[-1]) for r in plan)
    assert "ix_process_instances_instance_id" in detail
