"""Live aggregates: what the registry holds in memory now, its counters and its samples over
time, read without loading anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.domain.registry import LiveInfo, RegistryStats
from webapp.queries.context import Parts


@dataclass(frozen=True)
class RegistryView:
    stats: RegistryStats
    live: list[LiveInfo]
    """The aggregates in memory, at most as many as asked for."""
    history: list[dict[str, Any]]
    """Samples of size and memory, oldest first."""
    running: bool
    """Whether the reaper thread runs (it evicts expired aggregates and takes the samples)."""
    reap_interval: float


def live_aggregates(parts: Parts, *, limit: int) -> RegistryView:
    registry = parts.registry
    return RegistryView(
        stats=registry.stats(),
        live=registry.live(limit=limit),
        history=list(registry.history()),
        running=registry.running,
        reap_interval=registry.reap_interval,
    )
