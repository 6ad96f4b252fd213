"""When an event happened, as the domain says: `metadata.occurred_at` (business time).

The store keeps two clocks. `recorded_at` is when the store wrote the event; the
`occurred_at` column is when the event happened: the metadata's `occurred_at` (an ISO
8601 text; a time without a zone counts as UTC) when the domain gave a valid one, else
the recorded time. The column is filled on append and indexed, so the global log is
filtered by either clock without reading JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

OCCURRED_AT = "occurred_at"
"""The metadata key that carries business time."""


def occurred_time(metadata: Mapping[str, Any] | None) -> datetime | None:
    """The metadata's `occurred_at` as a UTC time, None when absent or not an ISO time."""
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get(OCCURRED_AT)
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        return None
