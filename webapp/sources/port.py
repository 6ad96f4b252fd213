"""The source port: everything the dashboard reads from an event store, and nothing it writes.

eventscope's own store is one source (`webapp.sources.eventscope`); adapters over
stores that other tools wrote implement the same Protocol, so every page reads them
alike. What a source cannot answer, its `capabilities` say, and pages leave it out.

>>> def newest_types(source: EventSource, count: int = 5) -> list[str]:
...     return [event.type for event in source.read_all_backward(None, limit=count)]

`LogPage` and `PagedLog` (a filtered read that stops at a scan budget and says where)
are the store's read-side declarations, re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from webapp.store.reader import EventReader, LogPage, PagedLog
from webapp.store.types import RecordedEvent


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
    payload_search: bool = False
    """The global log can be filtered by a payload field (`data_equals`)."""
    has_business_time: bool = False
    """Besides when it was recorded, the store keeps when each event happened (the
    `occurred_at` column: `occurred_since`/`occurred_until` filter by it)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A reader of the global log that keeps a checkpoint: a projection, a process manager,
    a persistent subscription of another tool."""

    name: str
    position: int
    """The last global position it has handled (0: none yet)."""
    lag: int
    """Events in the log after `position`."""
    stream_id: str | None = None
    """The one stream it reads (`position` and `lag` are then that stream's versions);
    None: the global log."""


@runtime_checkable
class EventSource(EventReader, Protocol):
    """Read access to streams, the global log ($all), snapshots and checkpoints.

    The store's own read side (`EventReader`: streams, the log, snapshots, counts, the
    head) and what a dashboard asks beyond it. Positions are global and ascending;
    stream versions start at 1. Every listing is keyset-paged and bounded by `limit`.
    The global-log filters are the store's own declaration (`LogFilters`: types, stream
    prefix, correlation id, actor, time range, a payload field), all matched together.
    """

    @property
    def capabilities(self) -> Capabilities: ...

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        """The events of one correlation, oldest first (at most `limit`)."""
        ...

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type (a scan per type where `cheap_type_filter` is False)."""
        ...

    def subscriptions(self) -> list[Subscription]:
        """Every reader with a checkpoint, and how far behind the head it is."""
        ...


__all__ = ["Capabilities", "EventSource", "LogPage", "PagedLog", "Subscription"]
