"""When the database does not answer (unreachable, restarting, or a lock held past the lock
timeout) people get a 503 page and scripts a JSON 503, both with Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from webapp.web.errors import STORE_RETRY_SECONDS


@pytest.fixture
def impatient(postgresql_url: str, admin_on) -> dict[str, Any]:
    """An admin on a PostgreSQL store whose sessions give up on a lock after 300 ms."""
    return {**admin_on(f"{postgresql_url}%20-clock_timeout%3D300"), "url": postgresql_url}


@contextmanager
def events_table_locked(url: str) -> Iterator[None]:
    """Another session holds the events table exclusively, as a long migration would."""
    engine = sa.create_engine(url)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        holder.join()
        engine.dispose()


def test_a_page_gets_a_503_with_retry_after_while_the_store_does_not_answer(impatient):
    with events_table_locked(impatient["url"]):
        response = impatient["client"].get("/timeline/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(STORE_RETRY_SECONDS)
    page = response.get_data(as_text=True)
    assert "The event store did not answer" in page
    assert "Traceback" not in page and "LockNotAvailable" not in page


def test_the_api_gets_a_json_503_and_the_store_answers_again_afterwards(impatient):
    client, api = impatient["client"], impatient["api"]
    with events_table_locked(impatient["url"]):
        response = client.get("/api/events", headers=api)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(STORE_RETRY_SECONDS)
    assert response.get_json()["error"].startswith("The event store did not answer")

    again = client.get("/api/events", headers=api)
    assert again.status_code == 200
    types = [event["type"] for event in again.get_json()["events"]]
    assert types[:2] == ["UserRegistered", "BankAccountOpened"]


def test_a_command_refused_for_a_held_lock_appends_nothing(impatient):
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
