"""The read side of an event store, as a Protocol.

EventStore satisfies it; the dashboard's source port (`webapp.sources.EventSource`)
extends it with what pages ask beyond it, for eventscope's store and other tools' alike.

>>> def timeline(reader: EventReader, stream_id: str) -> list[str]:
...     return [e.type for e in reader.read_stream(stream_id)]
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Unpack, runtime_checkable

from webapp.store.filters import LogFilters
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo


@runtime_checkable
class EventReader(Protocol):
    """Read access to streams, the global log ($all) and snapshots."""

    dialect: str

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

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """Global log events with position > `after`, ascending, kept by `filters`."""
        ...

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """Global log events with position < `before` (None: from the head), descending."""
        ...

    def get_event(self, position: int) -> RecordedEvent | None: ...

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None: ...

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

    def head_position(self) -> int: ...

    def count_events(self) -> int: ...

    def count_streams(self) -> int: ...

    def wait_for_events(self, after: int, timeout: float) -> int:
        """Block until the head is above `after` or the timeout passes; return the head."""
        ...

    def read_snapshot(
        self, stream_id: str, *, max_version: int | None = None
    ) -> Snapshot | None: ...

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        """The newest snapshot of each stream that has one, by stream id."""
        ...

    def list_snapshots(self, stream_id: str) -> list[Snapshot]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LogPage:
    """A filtered read of the global log within a scan budget: what it found and where it
    stopped.

    `exhausted` True: nothing more matches in that direction. Otherwise read on with
    `after=resume_after` (forward) or `before=resume_before` (backward). Sources whose
    filters scan rather than seek offer `read_all_page` / `read_all_backward_page`
    returning this (see `PagedLog`)."""

    events: list[RecordedEvent]
    exhausted: bool
    resume_after: int | None = None
    resume_before: int | None = None


@runtime_checkable
class PagedLog(Protocol):
    """A source whose filtered reads of the global log stop at a scan budget and say where."""

    def read_all_page(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage: ...

    def read_all_backward_page(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage: ...
