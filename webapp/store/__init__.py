"""The event store: append-only streams over SQLAlchemy (SQLite or PostgreSQL).

>>> from webapp.store import NewEvent, NO_STREAM, open_store
>>> store = open_store("sqlite:///events.db")                          # doctest: +SKIP
>>> store.append("account-1", [NewEvent("MoneyDeposited", {"amount": 100})], NO_STREAM)
"""

from __future__ import annotations

from webapp.database import NestedWriteTransaction
from webapp.store.backends import open_store
from webapp.store.event_store import EventStore
from webapp.store.filters import LogFilters, check_data_field_name
from webapp.store.postgres import PostgresEventStore
from webapp.store.reader import EventReader
from webapp.store.sqlite import SQLiteEventStore
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
from webapp.store.validation import check_expected_version

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "EventReader",
    "EventStore",
    "ExpectedVersion",
    "InvalidAppend",
    "LogFilters",
    "NestedWriteTransaction",
    "NewEvent",
    "PostgresEventStore",
    "RecordedEvent",
    "SQLiteEventStore",
    "Snapshot",
    "StoreError",
    "StreamInfo",
    "WrongExpectedVersion",
    "check_data_field_name",
    "check_expected_version",
    "new_event_id",
    "open_store",
]
