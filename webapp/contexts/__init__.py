"""The demo bounded contexts (identity, bank) and how to wire them onto a store."""

from __future__ import annotations

from typing import Any

from webapp.contexts import bank, identity
from webapp.domain import (
    AggregateRegistry,
    AuditMiddleware,
    CommandRouter,
    IdentityCodec,
    LoggingMiddleware,
    PayloadCodec,
    Repository,
    Router,
    build_router,
)


def context_routers() -> list[Router]:
    """The routing tables of every demo context."""
    return [identity.router, bank.router]


def build_domain(
    store: Any,
    *,
    codec: PayloadCodec | None = None,
    max_live: int = 10_000,
    reap_interval: float = 1.0,
    start_reaper: bool = True,
) -> tuple[AggregateRegistry, CommandRouter]:
    """A registry (reaper started) and the composite router of the demo contexts.

    Other layers add their own routes with `router.include(their_router)`.
    """
    repository = Repository(store, codec=codec or IdentityCodec())
    registry = AggregateRegistry(repository, max_live=max_live, reap_interval=reap_interval)
    if start_reaper:
        registry.start()
    router = build_router(
        registry, context_routers(), middleware=[LoggingMiddleware(), AuditMiddleware()]
    )
    return registry, router
