"""On SQLite, reading pages answer while another process holds the write lock.

SQLite lets one writer at a time; a page that only reads must not wait for it (a
long import, a rebuild's batch, a `forget` in another process). Each page is asked
for while a second connection holds `BEGIN IMMEDIATE`, and must answer before that
writer lets go. Were the page to queue, it would answer only after the writer's
hold ran out, which the test sees.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from webapp.config import sqlite_path

HOLD_SECONDS = 15

SESSION_PAGES = [
    "/",
    "/streams/",
    "/streams/account-A-100",
    "/streams/account-A-100/state?version=2",
    "/timeline/",
    "/aggregates/",
    "/snapshots/",
    "/projections/",
    "/catalog/",
    "/catalog/types/MoneyDeposited",
    "/notes/",
    "/notes/for?kind=stream&target=account-A-100",
    "/accounts/",
    "/accounts/admin",
    "/access-log/",
]
API_PAGES = [
    "/api/streams",
    "/api/events",
    "/api/streams/account-A-100/state",
    "/api/projections",
    "/metrics",
]


@contextmanager
def write_lock_held(db_url: str) -> Iterator[threading.Event]:
    """Hold SQLite's write lock from another connection until the block ends (or HOLD_SECONDS).

    Yields an event that is set if the hold ran out before the block ended.
    """
    path = sqlite_path(db_url)
    taken, done, ran_out = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        if not done.wait(HOLD_SECONDS):
            ran_out.set()
        conn.execute("COMMIT")
        conn.close()

    writer = threading.Thread(target=hold, daemon=True)
    writer.start()
    assert taken.wait(5)
    try:
        yield ran_out
    finally:
        done.set()
        writer.join()


@pytest.mark.parametrize("url", SESSION_PAGES)
def test_a_page_answers_while_another_connection_writes(client, log_in, sqlite_url, bank, url):
    log_in("admin")
    client.get(url)  # first visits may record things (CSRF, lazily built state)

    with write_lock_held(sqlite_url) as ran_out:
        response = client.get(url)
        response.get_data()
        answered_while_held = not ran_out.is_set()

    assert response.status_code == 200
    assert answered_while_held


@pytest.mark.parametrize("url", API_PAGES)
def test_an_api_read_answers_while_another_connection_writes(
    client, auth_headers, sqlite_url, bank, url
):
    headers = auth_headers("admin")
    client.get(url, headers=headers)  # a token's first use records when it was used

    with write_lock_held(sqlite_url) as ran_out:
        response = client.get(url, headers=headers)
        answered_while_held = not ran_out.is_set()

    assert response.status_code == 200
    assert answered_while_held


def test_a_tokens_first_use_answers_while_another_connection_writes_and_is_recorded_later(
    client, auth_headers, accounts, sqlite_url, bank
):
    headers = auth_headers("viewer")  # never used: its first use wants to record the time

    with write_lock_held(sqlite_url) as ran_out:
        response = client.get("/api/streams", headers=headers)
        answered_while_held = not ran_out.is_set()
    [during] = accounts.tokens("viewer")
    client.get("/api/streams", headers=headers)
    [after] = accounts.tokens("viewer")

    assert response.status_code == 200
    assert answered_while_held
    assert during.last_used_at is None
    assert after.last_used_at is not None
