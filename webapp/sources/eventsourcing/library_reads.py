"""What both `eventsourcing` sources answer alike: the port's reads handed to their log,
streams and checkpoints parts, which each backend (SQLite, PostgreSQL) builds itself."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from webapp.sources.port import Capabilities, Subscription
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo


class LibraryReads:
    """The port's reads over `_log`, `_streams` and `_checkpoints`; `_budget()` says how many
    rows a bounded scan may look at."""

    _log: Any
    _streams: Any
    _checkpoints: Any
    _capabilities: Capabilities

    def _budget(self) -> int:
        raise NotImplementedError

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # --- streams

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by id over the primary-key index; two payload decodes per stream listed."""
        return self._streams.by_id(prefix, after, limit)

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        return self._streams.info(stream_id)

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        return self._streams.read(stream_id, from_version, limit, backward)

    # --- single events

    def get_event(self, position: int) -> RecordedEvent | None:
        return self._log.at(position)

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        """The event whose derived id this is: a scan of the keys (no payload read) over at
        most the scan budget's events."""
        return self._log.by_id(event_id, budget=self._budget())

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        msg = "an eventsourcing store records no correlation ids"
        raise ValueError(msg)

    # --- counts and the head

    def head_position(self) -> int:
        return self._log.head()

    def count_events(self) -> int:
        return self._log.count()

    def count_streams(self) -> int:
        return self._streams.count()

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type: one scan of the table grouping by topic (no payload read)."""
        return self._log.count_by_type(type_names)

    # --- snapshots and checkpoints

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        return self._checkpoints.latest(stream_id, max_version)

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        return self._checkpoints.all_of(stream_id)

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        return self._checkpoints.latest_of_each(stream_ids)

    def subscriptions(self) -> list[Subscription]:
        """Each tracked upstream application's notification id and its lag behind this
        store's head (the library's own `__` rows left out)."""
        return self._checkpoints.subscriptions(self.head_position)
