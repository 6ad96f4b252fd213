"""Snapshots (one per source) and persistent subscriptions of Commanded's EventStore."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from webapp.sources.commanded.payloads import decode_cell
from webapp.sources.commanded.schema import (
    EventStoreTables,
    display_type,
    utc,
)
from webapp.sources.port import Subscription
from webapp.store.types import Snapshot


class CheckpointReads(EventStoreTables):
    """Reads of `snapshots` and `subscriptions`, with each subscription's lag."""

    def _snapshots(self, where: str, params: Mapping[str, Any]) -> list[Snapshot]:
        sql = (
            "SELECT source_uuid, source_version, source_type, data, created_at"
            f" FROM {self._t['snapshots']} WHERE {where}"
        )
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql), dict(params)).all()
        return [
            Snapshot(
                stream_id=row.source_uuid,
                version=int(row.source_version),
                snapshot_version=1,
                type=display_type(row.source_type),
                data=decode_cell(row.data, self.column_type),
                taken_at=utc(row.created_at),
            )
            for row in rows
        ]

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        """The source's snapshot if it reflects `max_version` or less (None: any)."""
        where, params = "source_uuid = :uuid", {"uuid": stream_id}
        if max_version is not None:
            where += " AND source_version <= :max_version"
            params["max_version"] = int(max_version)
        found = self._snapshots(where, params)
        return found[0] if found else None

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        """The one snapshot the store keeps for a source, or none."""
        return self._snapshots("source_uuid = :uuid", {"uuid": stream_id})

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        found = self._snapshots("source_uuid = ANY(:ids)", {"ids": list(stream_ids)})
        return {snapshot.stream_id: snapshot for snapshot in found}

    def subscriptions(self) -> list[Subscription]:
        """Persistent subscriptions. One to `$all` is named as it is, its position global;
        one to a single stream is named `name @ stream_uuid` and its position is a version
        of that stream (lag: the stream's version less it)."""
        t = self._t
        sql = (
            "SELECT sub.subscription_name, sub.stream_uuid, sub.last_seen, s.stream_version"
            f" FROM {t['subscriptions']} sub"
            f" LEFT JOIN {t['streams']} s ON s.stream_uuid = sub.stream_uuid"
            " ORDER BY sub.stream_uuid <> '$all', sub.subscription_name, sub.stream_uuid"
        )
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql)).all()
        found = []
        for row in rows:
            seen = int(row.last_seen or 0)
            top = int(row.stream_version or 0)
            name, stream = row.subscription_name, None
            if row.stream_uuid != "$all":
                name, stream = f"{name} @ {row.stream_uuid}", row.stream_uuid
            found.append(Subscription(name, seen, max(0, top - seen), stream))
        return found
