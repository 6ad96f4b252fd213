"""Fixtures of the store contract suite: a migrated store on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
