"""Fixtures of the store contract suite: a migrated store on each backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from webapp.bootstrap import open_migrated_store
from webapp.store import EventStore


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated, empty store (SQLite file, then PostgreSQL schema)."""
    opened = open_migrated_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@contextmanager
def write_held_open(engine: sa.Engine, statement: str) -> Iterator[threading.Event]:
    """Another thread runs `statement` in a write transaction and keeps it open until the
    yielded event is set (or the block ends)."""
    begun, finish = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
            begun.set()
            finish.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert begun.wait(5)
    try:
        yield finish
    finally:
        finish.set()
        holder.join(5)
