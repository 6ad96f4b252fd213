"""eventscope's own store as an event source: its reads, its capabilities, its checkpoints.

The store answers every read itself; the checkpoints come from whoever runs readers
over it (the projections), passed in by the composition root:

    source = EventscopeSource(store, subscriptions=lambda: [Subscription("users", 41, 1)])
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Unpack

from webapp.sources.port import Capabilities, Subscription
from webapp.store import EventStore
from webapp.store.filters import LogFilters
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo


def _no_subscriptions() -> list[Subscription]:
    return []


class EventscopeSource:
    """The read side of an `EventStore`, behind the `EventSource` port."""

    def __init__(
        self,
        store: EventStore,
        *,
        subscriptions: Callable[[], list[Subscription]] = _no_subscriptions,
    ) -> None:
        self.store = store
        self.dialect = store.dialect
        self._subscriptions = subscriptions
        self._capabilities = Capabilities(
            has_correlation_ids=True,
            has_causation_ids=True,
            has_snapshots=True,
            cheap_type_filter=True,
            notifies_live=store.dialect == "postgresql",
            has_actor=True,
            writable=True,
            payload_search=True,
            has_business_time=True,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # --- streams

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        return self.store.list_streams(prefix, after=after, limit=limit)

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        return self.store.list_streams_by_activity(prefix=prefix, before=before, limit=limit)

    def list_streams_at(
        self, position: int, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams in id order as the log stood at `position` (eventscope's own store only)."""
        return self.store.list_streams_at(position, prefix, after=after, limit=limit)

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        return self.store.stream_info(stream_id)

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        return self.store.read_stream(stream_id, from_version, limit=limit, backward=backward)

    def read_stream_payloads(
        self, stream_id: str, from_version: int | None = 1, *, limit: int | None = None
    ) -> list[tuple[int, str, int, dict[str, Any]]]:
        """(stream_version, type, schema_version, data) of a stream's events, ascending: the
        lean read an aggregate is folded from. Beyond the port: a source without it is folded
        from `read_stream`."""
        return self.store.read_stream_payloads(stream_id, from_version, limit=limit)

    # --- the global log

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        return self.store.read_all(after, limit=limit, **filters)

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        return self.store.read_all_backward(before, limit=limit, **filters)

    def get_event(self, position: int) -> RecordedEvent | None:
        return self.store.get_event(position)

    def last_position_before(self, until: datetime, clock: str) -> int:
        """The highest position of an event before `until` on `clock` (`recorded` or
        `happened`), 0 if none: a bounded lookup. Beyond the port: a source without it is
        asked through `read_all_backward`."""
        return self.store.last_position_before(until, clock)

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        return self.store.get_event_by_id(event_id)

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        return self.store.read_all(0, limit=limit, correlation_id=correlation_id)

    # --- counts and the head

    def head_position(self) -> int:
        return self.store.head_position()

    def count_events(self) -> int:
        return self.store.count_events()

    def count_streams(self) -> int:
        return self.store.count_streams()

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Counts per type over the index table's (type, position) index."""
        return self.store.count_by_type(type_names)

    def wait_for_events(self, after: int, timeout: float) -> int:
        return self.store.wait_for_events(after, timeout)

    # --- snapshots

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        return self.store.read_snapshot(stream_id, max_version=max_version)

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        return self.store.list_snapshots(stream_id)

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        return self.store.read_latest_snapshots(stream_ids)

    # --- checkpoints

    def subscriptions(self) -> list[Subscription]:
        return self._subscriptions()

    def close(self) -> None:
        """Nothing of its own to release: the store belongs to whoever opened it."""

    def __repr__(self) -> str:
        return f"EventscopeSource({self.store!r})"
