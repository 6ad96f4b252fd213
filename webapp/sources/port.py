"""The source port: everything the dashboard reads from an event store, and nothing it writes.

eventscope's own store is one source (`webapp.sources.eventscope`); adapters over
stores that other tools wrote implement the same Protocol, so every page reads them
alike. What a source cannot answer, its `capabilities` say, and pages leave it out.

>>> def newest_types(source: EventSource, count: int = 5) -> list[str]:
...     return [event.type for event in source.read_all_backward(None, limit=count)]
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Unpack, runtime_checkable

from webapp.store.filters import LogFilters
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a source can answer; a page asks before it offers a filter or a panel."""

    has_correlation_ids: bool = False
    """Events carry a correlation id (the timeline filters by it, causation chains group by it)."""
    has_causation_ids: bool = False
    """Events name the message that caused them (causation chains)."""
    has_snapshots: bool = False
    """The source keeps aggregate snapshots (snapshot markers, the snapshots page)."""
    cheap_type_filter: bool = False
    """Filtering or counting the global log by event type is served by an index."""
    notifies_live: bool = False
    """New events are pushed (LISTEN/NOTIFY) rather than found by polling."""
    has_actor: bool = False
    """Events record who caused them (the timeline's actor filter)."""
    writable: bool = False
    """Commands may be dispatched to this store (the console, the command API)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A reader of the global log that keeps a checkpoint: a projection, a process manager,
    a persistent subscription of another tool."""

    name: str
    position: int
    """The last global position it has handled (0: none yet)."""
    lag: int
    """Events in the log after `position`."""


@runtime_checkable
class EventSource(Protocol):
    """Read access to streams, the global log ($all), snapshots and checkpoints.

    Positions are global and ascending; stream versions start at 1. Every listing is
    keyset-paged and bounded by `limit`. The global-log filters are the store's own
    declaration (`LogFilters`: types, stream prefix, correlation id, actor, time range,
    a payload field), all matched together.
    """

    dialect: str
    """How the source's SQL writes a payload value as text ("sqlite" or "postgresql")."""

    @property
    def capabilities(self) -> Capabilities: ...

    # --- streams

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by id, keyset-paged with `after` = the last id seen."""
        ...

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams newest-updated first, keyset-paged by (updated_at, stream_id)."""
        ...

    def stream_info(self, stream_id: str) -> StreamInfo | None: ...

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        """A stream's events from `from_version` (backward: down from it; None = the last)."""
        ...

    # --- the global log

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """Events with position > `after`, oldest first, kept by `filters`."""
        ...

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """Events with position < `before` (None: from the head), newest first."""
        ...

    def get_event(self, position: int) -> RecordedEvent | None: ...

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None: ...

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        """The events of one correlation, oldest first (at most `limit`)."""
        ...

    # --- counts and the head

    def head_position(self) -> int:
        """The highest position in the global log (0 when empty)."""
        ...

    def count_events(self) -> int: ...

    def count_streams(self) -> int: ...

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type (a scan per type where `cheap_type_filter` is False)."""
        ...

    def wait_for_events(self, after: int, timeout: float) -> int:
        """Block until the head is above `after` or `timeout` seconds pass; return the head."""
        ...

    # --- snapshots

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot of the stream at or below `max_version` (None: any)."""
        ...

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        """Every snapshot of the stream, oldest first."""
        ...

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        """The newest snapshot of each stream that has one, by stream id."""
        ...

    # --- checkpoints

    def subscriptions(self) -> list[Subscription]:
        """Every reader with a checkpoint, and how far behind the head it is."""
        ...

    def close(self) -> None:
        """Release what the source holds of its own."""
        ...
