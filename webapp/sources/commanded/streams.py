"""Streams of Commanded's EventStore: listing by id and by activity, info, soft deletes, counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from webapp.sources.commanded.schema import (
    ALL_STREAM_ID,
    EventStoreTables,
    aware,
    stream_info_of,
    utc,
)
from webapp.store.types import StreamInfo


class StreamReads(EventStoreTables):
    """Reads of the `streams` table (the `$all` row left out) and the counts of the store."""

    def _stream_rows(self) -> str:
        """Streams (not `$all`) with their last event's time as `updated_at` (the stream's
        own `created_at` while it is empty)."""
        t = self._t
        return (
            "SELECT s.stream_uuid, s.stream_version, s.created_at, s.deleted_at,"
            " COALESCE((SELECT e.created_at"
            f" FROM {t['stream_events']} last JOIN {t['events']} e ON e.event_id = last.event_id"
            " WHERE last.stream_id = s.stream_id AND last.stream_version = s.stream_version),"
            " s.created_at) AS updated_at"
            f" FROM {t['streams']} s WHERE s.stream_id <> {ALL_STREAM_ID}"
        )

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by `stream_uuid` (bytewise order), soft-deleted ones included."""
        sql = self._stream_rows()
        params: dict[str, Any] = {"limit": max(0, int(limit))}
        if prefix:
            sql += " AND starts_with(s.stream_uuid, :prefix)"
            params["prefix"] = prefix
        if after is not None:
            sql += ' AND s.stream_uuid COLLATE "C" > :after'
            params["after"] = after
        sql += ' ORDER BY s.stream_uuid COLLATE "C" LIMIT :limit'
        with self.read_transaction() as conn:
            return [stream_info_of(row) for row in conn.execute(sa.text(sql), params)]

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by the time of their last event (the stream's `created_at` while empty),
        newest first; each page looks at every stream's last event."""
        sql = self._stream_rows()
        params: dict[str, Any] = {"limit": max(0, int(limit))}
        if prefix:
            sql += " AND starts_with(s.stream_uuid, :prefix)"
            params["prefix"] = prefix
        sql = f"SELECT * FROM ({sql}) streams"
        if before is not None:
            sql += ' WHERE (updated_at, stream_uuid COLLATE "C") < (:at, :uuid)'
            params.update(at=aware(before[0]), uuid=before[1])
        sql += ' ORDER BY updated_at DESC, stream_uuid COLLATE "C" DESC LIMIT :limit'
        with self.read_transaction() as conn:
            return [stream_info_of(row) for row in conn.execute(sa.text(sql), params)]

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        sql = self._stream_rows() + " AND s.stream_uuid = :uuid"
        with self.read_transaction() as conn:
            row = conn.execute(sa.text(sql), {"uuid": stream_id}).first()
        return None if row is None else stream_info_of(row)

    def deleted_streams(self, stream_ids: Sequence[str]) -> dict[str, datetime]:
        """When each of these streams was soft-deleted, for those that were. Beyond the
        port: `StreamInfo` has no deletion time, and a deleted stream still lists and reads."""
        sql = (
            f"SELECT stream_uuid, deleted_at FROM {self._t['streams']}"
            " WHERE stream_uuid = ANY(:ids) AND deleted_at IS NOT NULL AND stream_id <> 0"
        )
        with self.read_transaction() as conn:
            rows = conn.execute(sa.text(sql), {"ids": list(stream_ids)}).all()
        return {row.stream_uuid: utc(row.deleted_at) for row in rows}

    def head_position(self) -> int:
        """The `$all` row's version: the last global position."""
        with self.read_transaction() as conn:
            return self._head(conn)

    def count_events(self) -> int:
        """Events in `$all` (the head, less any hard-deleted)."""
        sql = f"SELECT count(*) FROM {self._t['stream_events']} WHERE stream_id = {ALL_STREAM_ID}"
        with self.read_transaction() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)

    def count_streams(self) -> int:
        """Streams, soft-deleted ones included, `$all` not."""
        sql = f"SELECT count(*) FROM {self._t['streams']} WHERE stream_id <> {ALL_STREAM_ID}"
        with self.read_transaction() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)
