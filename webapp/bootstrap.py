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
    # --- build: domain (issue 3) ---
    # --- build: projections (issue 4) ---
    return runtime
