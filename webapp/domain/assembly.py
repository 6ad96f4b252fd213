"""Put a domain together over a store: repository, aggregate registry and composite router."""

from __future__ import annotations

from collections.abc import Iterable

from webapp.domain.codec import IdentityCodec, PayloadCodec
from webapp.domain.middleware import AuditMiddleware, LoggingMiddleware
from webapp.domain.registry import AggregateRegistry
from webapp.domain.repository import Repository
from webapp.domain.router import CommandRouter, build_router
from webapp.domain.routes import Router
from webapp.store import EventStore


def build_domain(
    store: EventStore,
    routers: Iterable[Router],
    *,
    codec: PayloadCodec | None = None,
    max_live: int = 10_000,
    reap_interval: float = 1.0,
    start_reaper: bool = True,
) -> tuple[AggregateRegistry, CommandRouter]:
    """A registry (its reaper started unless told not to) and the router over `routers`,
    with logging and audit middleware. More routes join with `router.include(...)`."""
    repository = Repository(store, codec=codec or IdentityCodec())
    registry = AggregateRegistry(repository, max_live=max_live, reap_interval=reap_interval)
    if start_reaper:
        registry.start()
    router = build_router(registry, routers, middleware=[LoggingMiddleware(), AuditMiddleware()])
    return registry, router
