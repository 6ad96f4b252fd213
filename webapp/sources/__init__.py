"""Event sources: the read-only port the dashboard reads through, and its adapters.

    from webapp.sources import EventscopeSource
    source = EventscopeSource(store)
    source.read_all_backward(None, limit=10)       # the ten newest events
    source.capabilities.has_snapshots              # True

The value types a source hands out are the store's own, re-exported here.
"""

from __future__ import annotations

from webapp.sources.eventscope import EventscopeSource
from webapp.sources.port import Capabilities, EventSource, LogPage, PagedLog, Subscription
from webapp.store.types import (
    InvalidAppend,
    RecordedEvent,
    Snapshot,
    StoreError,
    StreamInfo,
    WrongExpectedVersion,
)

__all__ = [
    "Capabilities",
    "EventSource",
    "EventscopeSource",
    "InvalidAppend",
    "LogPage",
    "PagedLog",
    "RecordedEvent",
    "Snapshot",
    "StoreError",
    "StreamInfo",
    "Subscription",
    "WrongExpectedVersion",
]
