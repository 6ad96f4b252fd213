"""Fixtures of the domain suite: a migrated store with the demo contexts routed onto it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from webapp.bootstrap import open_migrated_store
from webapp.demo import context_routers
from webapp.domain import AggregateRegistry, CommandRouter, Repository, build_router
from webapp.store import EventStore


@dataclass
class Domain:
    store: EventStore
    registry: AggregateRegistry
    router: CommandRouter
    repository: Repository


def make_domain(store: EventStore, **registry_options: object) -> Domain:
    repository = Repository(store)
    registry = AggregateRegistry(repository, **registry_options)  # type: ignore[arg-type]
    return Domain(store, registry, build_router(registry, context_routers()), repository)


@pytest.fixture
def store(db_url: str) -> Iterator[EventStore]:
    """A migrated, empty store on each backend."""
    opened = open_migrated_store(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[EventStore]:
    opened = open_migrated_store(sqlite_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def domain(store: EventStore) -> Iterator[Domain]:
    built = make_domain(store)
    yield built
    built.registry.stop()


@pytest.fixture
def sqlite_domain(sqlite_store: EventStore) -> Iterator[Domain]:
    built = make_domain(sqlite_store)
    yield built
    built.registry.stop()
