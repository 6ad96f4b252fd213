"""Fixtures of the store contract suite: a migrated store on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from webapp.store import EventStore, open_store


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated, empty store (SQLite file, then PostgreSQL schema)."""
    opened = open_store(db_url, migrate=True)
    try:
        yield opened
    finally:
        opened.close()
