"""The event store as the privacy service uses it, and the empty log it uses without one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.engine import Engine

from webapp.store.types import NewEvent, RecordedEvent, Snapshot


class EventLog(Protocol):
    """Reads a subject's streams and snapshots, deletes snapshots, appends audit events.

    `EventStore` fits; `engine` is the database the store's files live in.
    """

    @property
    def engine(self) -> Engine | None: ...

    def head_position(self) -> int: ...

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]: ...

    def append(self, stream_id: str, events: Sequence[NewEvent]) -> object: ...

    def list_snapshots(self, stream_id: str) -> list[Snapshot]: ...

    def delete_snapshots(self, stream_id: str) -> int: ...


class NoEventLog:
    """The log of a privacy service opened without a store (key tools, tests).

    It holds no events or snapshots, and what is appended to it is dropped: keys, the
    blind index and the access log still work, audit events are not kept.
    """

    engine: Engine | None = None

    def head_position(self) -> int:
        return 0

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        return []

    def append(self, stream_id: str, events: Sequence[NewEvent]) -> None:
        return None

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        return []

    def delete_snapshots(self, stream_id: str) -> int:
        return 0
