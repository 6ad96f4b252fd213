"""The event store: append-only streams over SQLAlchemy (SQLite or PostgreSQL).

>>> from webapp.store import NewEvent, NO_STREAM, open_store
>>> store = open_store("sqlite:///events.db")                          # doctest: +SKIP
>>> store.append("account-1", [NewEvent("MoneyDeposited", {"amount": 100})], NO_STREAM)
"""

from __future__ import annotations

from webapp.database import NestedWriteTransaction
from webapp.store.reader import EventReader
from webapp.store.store import (
    EventStore,
    check_data_field_name,
    check_expected_version,
    open_store,
)
from webapp.store.types import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    InvalidAppend,
    NewEvent,
    RecordedEvent,
    Snapshot,
    StoreError,
    StreamInfo,
    WrongExpectedVersion,
    new_event_id,
)

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "EventReader",
    "EventStore",
    "ExpectedVersion",
    "InvalidAppend",
    "NestedWriteTransaction",
    "NewEvent",
    "RecordedEvent",
    "Snapshot",
    "StoreError",
    "StreamInfo",
    "WrongExpectedVersion",
    "check_data_field_name",
    "check_expected_version",
    "new_event_id",
    "open_store",
]
