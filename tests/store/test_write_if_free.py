"""Bookkeeping writes that give way: `write_if_free` skips rather than waits for a writer."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.store.conftest import write_held_open
from webapp.bootstrap import open_migrated_store
from webapp.database import write_if_free
from webapp.database.engine import SQLITE_BUSY_TIMEOUT_MS


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    store = open_migrated_store(db_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE touches (id INTEGER PRIMARY KEY, at INTEGER)")
        conn.exec_driver_sql("INSERT INTO touches (id, at) VALUES (1, 0)")
    try:
        yield store.engine
    finally:
        store.close()


def row_held_by_another_writer(engine: sa.Engine):
    """Another connection holds SQLite's write lock, or PostgreSQL's lock on row 1."""
    return write_held_open(engine, "UPDATE touches SET at = at WHERE id = 1")


def touch(at: int):
    return lambda conn: conn.exec_driver_sql(f"UPDATE touches SET at = {at} WHERE id = 1")


def stamp(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT at FROM touches WHERE id = 1").scalar_one()


def test_a_free_store_takes_the_write(engine):
    assert write_if_free(engine, touch(7)) is True
    assert stamp(engine) == 7


def test_a_held_lock_skips_the_write_at_once_and_changes_nothing(engine):
    with row_held_by_another_writer(engine):
        started = time.monotonic()
        written = write_if_free(engine, touch(7))
        waited = time.monotonic() - started

    assert written is False
    assert waited < 2
    assert stamp(engine) == 0
    assert write_if_free(engine, touch(8)) is True
    assert stamp(engine) == 8


def test_other_failures_are_not_swallowed(engine):
    with pytest.raises(sa.exc.DBAPIError):
        write_if_free(engine, lambda conn: conn.exec_driver_sql("UPDATE no_such_table SET x = 1"))


def test_the_connection_goes_back_to_the_pool_with_the_usual_busy_timeout(sqlite_url):
    store = open_migrated_store(sqlite_url)
    try:
        write_if_free(store.engine, lambda conn: None)
        with store.engine.connect() as conn:
            timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    finally:
        store.close()

    assert timeout == SQLITE_BUSY_TIMEOUT_MS
