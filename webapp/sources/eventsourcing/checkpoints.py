"""Snapshots and tracking rows: a stream's snapshots and each application's subscription."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from webapp.sources.eventsourcing.files import Database
from webapp.sources.eventsourcing.rows import SNAPSHOT_COLUMNS, RowMapper
from webapp.sources.eventsourcing.tables import Tables, quoted
from webapp.sources.port import Subscription
from webapp.store.types import Snapshot


class Checkpoints:
    """The snapshots and tracking tables, when the store has them (empty answers when not)."""

    def __init__(self, db: Database, tables: Tables, rows: RowMapper) -> None:
        self._db = db
        self._tables = tables
        self._rows = rows

    def _snapshots(self, where: str, params: Sequence[Any]) -> list[Snapshot]:
        if self._tables.snapshots is None:
            return []
        return [
            self._rows.snapshot(row)
            for row in self._db.rows(
                f"SELECT {SNAPSHOT_COLUMNS} FROM {quoted(self._tables.snapshots)} WHERE {where}",
                params,
            )
        ]

    def latest(self, stream_id: str, max_version: int | None) -> Snapshot | None:
        """The stream's newest snapshot, at or below `max_version` when given."""
        where = "originator_id = ?"
        params: list[Any] = [stream_id]
        if max_version is not None:
            where += " AND originator_version <= ?"
            params.append(max_version)
        found = self._snapshots(f"{where} ORDER BY originator_version DESC LIMIT 1", params)
        return found[0] if found else None

    def all_of(self, stream_id: str) -> list[Snapshot]:
        """The stream's snapshots, oldest first."""
        return self._snapshots("originator_id = ? ORDER BY originator_version", [stream_id])

    def latest_of_each(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        """The newest snapshot of each stream that has one."""
        found = {}
        for stream_id in dict.fromkeys(stream_ids):
            snapshot = self.latest(stream_id, None)
            if snapshot is not None:
                found[stream_id] = snapshot
        return found

    def subscriptions(self, head: Callable[[], int]) -> list[Subscription]:
        """Each application's tracked notification id and its lag behind `head()` (asked only
        when there is a tracking table); the library's own `__` rows are left out."""
        if self._tables.tracking is None:
            return []
        newest = head()
        rows = self._db.rows(
            f"SELECT application_name, MAX(notification_id) FROM {quoted(self._tables.tracking)} "
            "GROUP BY application_name ORDER BY application_name"
        )
        return [
            Subscription(str(name), int(position or 0), max(0, newest - int(position or 0)))
            for name, position in rows
            if not str(name).startswith("__")
        ]
