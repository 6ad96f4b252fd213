"""Read models every eventscope deployment has, whatever its domain: activity and catalog counts."""

from __future__ import annotations

from webapp.projections.projection import Projection
from webapp.projections.read_models.activity import DailyActivity, EventTypeCounts, StreamCatalog


def builtin_projections() -> list[Projection]:
    """Events per day and type, events per type, and streams per category."""
    return [DailyActivity(), EventTypeCounts(), StreamCatalog()]


__all__ = ["DailyActivity", "EventTypeCounts", "StreamCatalog", "builtin_projections"]
