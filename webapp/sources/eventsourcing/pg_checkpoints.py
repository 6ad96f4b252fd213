"""Snapshots and tracking rows in PostgreSQL: a stream's snapshots and each subscription."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from webapp.sources.eventsourcing.pg_database import ReadOnlyDatabase
from webapp.sources.eventsourcing.pg_tables import StreamKeys, stream_id_of
from webapp.sources.eventsourcing.rows import RowMapper
from webapp.sources.port import Subscription
from webapp.store.types import Snapshot

SNAPSHOT_COLUMNS: Final = "originator_id, originator_version, topic, state"


class PgCheckpoints:
    """The snapshots and tracking tables, when the application has them (empty answers when not)."""

    def __init__(
        self,
        db: ReadOnlyDatabase,
        snapshots: str | None,
        tracking: str | None,
        keys: StreamKeys,
        rows: RowMapper,
    ) -> None:
        self._db = db
        self._snapshots_table = snapshots
        self._tracking = tracking
        self._keys = keys
        self._rows = rows

    def _snapshots(self, stream_id: str, where: str, params: Sequence[Any]) -> list[Snapshot]:
        key = self._keys.key(stream_id)
        if self._snapshots_table is None or key is None:
            return []
        with self._db.read() as session:
            found = session.rows(
                f"SELECT {SNAPSHOT_COLUMNS} FROM {self._snapshots_table} "
                f"WHERE originator_id = ? {where}",
                [key, *params],
            )
        return [self._rows.snapshot((stream_id_of(row[0]), *row[1:])) for row in found]

    def latest(self, stream_id: str, max_version: int | None) -> Snapshot | None:
        """The stream's newest snapshot, at or below `max_version` when given."""
        where, params = "", []
        if max_version is not None:
            where, params = "AND originator_version <= ?", [max_version]
        found = self._snapshots(
            stream_id, f"{where} ORDER BY originator_version DESC LIMIT 1", params
        )
        return found[0] if found else None

    def all_of(self, stream_id: str) -> list[Snapshot]:
        """The stream's snapshots, oldest first."""
        return self._snapshots(stream_id, "ORDER BY originator_version", [])

    def latest_of_each(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        """The newest snapshot of each stream that has one."""
        found = {}
        for stream_id in dict.fromkeys(stream_ids):
            snapshot = self.latest(stream_id, None)
            if snapshot is not None:
                found[stream_id] = snapshot
        return found

    def subscriptions(self, head: Callable[[], int]) -> list[Subscription]:
        """Each tracked application's notification id and its lag behind `head()`; the
        library's own `__` rows (its table migration marker) are left out."""
        if self._tracking is None:
            return []
        with self._db.read() as session:
            rows = session.rows(
                f"SELECT application_name, MAX(notification_id) FROM {self._tracking} "
                "GROUP BY application_name ORDER BY application_name"
            )
        kept = [(str(name), int(position or 0)) for name, position in rows]
        kept = [(name, position) for name, position in kept if not name.startswith("__")]
        if not kept:
            return []
        newest = head()
        return [Subscription(name, position, max(0, newest - position)) for name, position in kept]
