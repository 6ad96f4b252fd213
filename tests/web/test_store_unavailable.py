"""When the database does not answer (unreachable, restarting, or a lock held past the lock
timeout) people get a 503 page and scripts a JSON 503, both with Retry-After."""

from __future__ import annotations

from typing import Any

import pytest

from webapp.web.errors import STORE_RETRY_SECONDS


@pytest.fixture
def impatient(postgresql_url: str, admin_on) -> dict[str, Any]:
    """An admin on a PostgreSQL store whose sessions give up on a lock after 300 ms."""
    return {**admin_on(f"{postgresql_url}%20-clock_timeout%3D300"), "url": postgresql_url}


def test_a_page_gets_a_503_with_retry_after_while_the_store_does_not_answer(
    impatient, events_table_locked
):
    with events_table_locked(impatient["url"]):
        response = impatient["client"].get("/timeline/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(STORE_RETRY_SECONDS)
    page = response.get_data(as_text=True)
    assert "The event store did not answer" in page
    assert "Traceback" not in page and "LockNotAvailable" not in page


def test_the_api_gets_a_json_503_and_the_store_answers_again_afterwards(
    impatient, events_table_locked
):
    client, api = impatient["client"], impatient["api"]
    with events_table_locked(impatient["url"]):
        response = client.get("/api/events", headers=api)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(STORE_RETRY_SECONDS)
    assert response.get_json()["error"].startswith("The event store did not answer")

    again = client.get("/api/events", headers=api)
    assert again.status_code == 200
    scraped = client.get("/metrics", headers=api).get_data(as_text=True)
    assert "eventscope_store_unavailable_total 1.0" in scraped
    types = [event["type"] for event in again.get_json()["events"]]
    assert types[:2] == ["UserRegistered", "BankAccountOpened"]


def test_a_command_refused_for_a_held_lock_appends_nothing(impatient, events_table_locked):
    client, api, store = impatient["client"], impatient["api"], impatient["runtime"].store
    before = store.count_events()
    with events_table_locked(impatient["url"]):
        response = client.post(
            "/api/commands",
            json={"command": "DepositMoney", "data": {"account_number": "A-100", "amount": 5}},
            headers=api,
        )
    assert response.status_code == 503
    assert store.count_events() == before


def test_a_live_fragment_keeps_the_page_and_gets_a_notice_in_its_status_area(
    impatient, events_table_locked
):
    client = impatient["client"]
    with events_table_locked(impatient["url"]):
        poll = client.get("/", headers={"HX-Request": "true", "HX-Trigger": "overview-live"})
        boosted = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert poll.status_code == 503
    assert poll.headers["HX-Retarget"] == "#store-status"
    assert poll.headers["HX-Reswap"] == "innerHTML"
    assert "The event store did not answer at" in poll.get_data(as_text=True)
    assert "<html" not in poll.get_data(as_text=True)
    # a navigation (a boosted link) still gets the whole error page
    assert boosted.status_code == 503
    assert "HX-Retarget" not in boosted.headers
    assert "<html" in boosted.get_data(as_text=True)


def test_readiness_follows_the_store_while_liveness_stays_up(impatient, events_table_locked):
    client = impatient["client"]
    assert client.get("/api/ready").get_json() == {"status": "ready"}

    with events_table_locked(impatient["url"]):
        ready = client.get("/api/ready")
        alive = client.get("/api/health")

    assert ready.status_code == 503
    assert ready.headers["Retry-After"] == str(STORE_RETRY_SECONDS)
    assert ready.get_json()["error"].startswith("The event store did not answer")
    assert alive.get_json() == {"status": "ok"}
    assert client.get("/api/ready").status_code == 200
