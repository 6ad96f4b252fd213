"""Composition root: build the store, privacy, domain and projections from settings.

The web layer, the CLI and the tests call `build_runtime`; nothing is built at
import time. Each layer adds its part in its own marked section below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webapp.config import Settings


@dataclass
class Runtime:
    """Everything a running eventscope process holds, wired together."""

    settings: Settings
    store: Any = None  # webapp.store.EventStore
    # --- privacy (issue 5) ---
    privacy: Any = None
    # --- domain (issue 3) ---
    registry: Any = None
    router: Any = None
    # --- projections (issue 4) ---
    projections: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        # --- close: layers add their shutdown here, newest first ---
        worker = self.extras.pop("projection_worker", None)
        if worker is not None:  # projections (issue 4): stop an in-process worker
            worker.stop()
        if self.registry is not None:  # domain (issue 3): stop the aggregate reaper
            self.registry.stop()
        if self.privacy is not None:  # privacy (issue 5): drop cached keys, close the key store
            self.privacy.close()
        if self.store is not None:
            self.store.close()


def build_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    """Open the store (migrating it if asked) and wire every layer on top of it."""
    from webapp.store import open_store

    runtime = Runtime(settings=settings)
    runtime.store = open_store(
        settings.db_url, max_payload_bytes=settings.max_payload_bytes, migrate=migrate
    )
    # --- build: privacy (issue 5) ---
    from webapp.privacy import Privacy

    runtime.privacy = Privacy.open(settings, store=runtime.store, migrate=migrate)
    runtime.privacy.bind_runtime(runtime)  # registry and projections are looked up at forget time
    # --- build: domain (issue 3) ---
    from webapp.contexts import build_domain

    runtime.registry, runtime.router = build_domain(
        runtime.store, codec=getattr(runtime.privacy, "codec", None)
    )
    # a forget run by another process reaches this one's keys and live aggregates
    runtime.registry.add_tick_hook(runtime.privacy.check_forgets_elsewhere)
    # --- build: projections (issue 4) ---
    from webapp.projections import build_projections

    runtime.projections = build_projections(
        runtime.store,
        router=runtime.router,
        decode=runtime.router.repository.decode,
        transfer_timeout=float(settings.extra.get("transfer_timeout", 60.0)),  # type: ignore[arg-type]
    )
    return runtime
