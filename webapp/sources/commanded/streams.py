"""Streams of Commanded's EventStore: listing by id and by activity, info, soft deletes, counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from webapp.sources.commanded.schema import (
    ALL_STREAM_ID,
    EventStoreTables,
    aware,
    stream_info_of,
    utc,
)
from webapp.store.types import StreamInfo

ACTIVITY_ORDER: Final = 'ORDER BY position DESC, stream_uuid COLLATE "C" DESC'
"""Streams by their last event's `$all` position, newest first; streams sharing a last
event (a stream and the streams it was linked into) by `stream_uuid`, bytewise, descending."""


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

    def _positions(self) -> str:
        """Streams (not `$all`) with their last event's id and its `$all` position, 0 when
        `$all` holds none (an empty stream, or a link stream whose last linked event went
        with a hard delete): two primary-key probes per stream, as `_stream_rows`."""
        t = self._t
        return (
            "SELECT s.stream_uuid, s.stream_version, s.created_at, s.deleted_at, l.event_id,"
            " COALESCE(l.position, 0) AS position"
            f" FROM {t['streams']} s LEFT JOIN LATERAL (SELECT last.event_id,"
            f" (SELECT a.stream_version FROM {t['stream_events']} a"
            f" WHERE a.event_id = last.event_id AND a.stream_id = {ALL_STREAM_ID}) AS position"
            f" FROM {t['stream_events']} last"
            " WHERE last.stream_id = s.stream_id AND last.stream_version = s.stream_version"
            f") l ON true WHERE s.stream_id <> {ALL_STREAM_ID}"
        )

    def _with_times(self, positions: str) -> str:
        """The streams `positions` selects, in activity order, with `updated_at`: their last
        event's `created_at` (the stream's own while it has none)."""
        return (
            "SELECT p.stream_uuid, p.stream_version, p.created_at, p.deleted_at,"
            " COALESCE(e.created_at, p.created_at) AS updated_at, p.position"
            f" FROM ({positions}) p LEFT JOIN {self._t['events']} e ON e.event_id = p.event_id"
            f" {ACTIVITY_ORDER}"
        )

    def _last_events_walk(
        self,
        conn: sa.Connection,
        prefix: str,
        cursor: tuple[int, str] | None,
        limit: int,
    ) -> list[StreamInfo] | None:
        """The first `limit` streams in activity order (below `cursor`, a stream's
        (position, stream_uuid)), found by walking `$all` down from the head (or from the
        cursor's position) over at most `scan_budget` positions.

        The streams whose last event sits at a position are that event's rows in
        `stream_events` (primary key (event_id, stream_id)) that hold their stream's
        version: its own stream's and those of the streams it was last linked into. Each
        stream is met once, at its last event. None when the walk ends short of `limit`:
        the caller groups the streams (which also finds those with no last event in `$all`).
        """
        t = self._t
        top = self._head(conn) if cursor is None else cursor[0]
        if top < 1:
            return None
        params: dict[str, Any] = {
            "top": top,
            "floor": top - self.scan_budget + 1,
            "limit": limit,
        }
        streams = (
            "SELECT s.stream_uuid, s.stream_version, s.created_at, s.deleted_at"
            f" FROM {t['stream_events']} last JOIN {t['streams']} s"
            " ON s.stream_id = last.stream_id AND s.stream_version = last.stream_version"
            f" WHERE last.event_id = a.event_id AND last.stream_id <> {ALL_STREAM_ID}"
        )
        if prefix:
            streams += " AND starts_with(s.stream_uuid, :prefix)"
            params["prefix"] = prefix
        # OFFSET 0 keeps the lateral a probe per position, so the walk runs down the index
        # in order and stops at the page's last stream; flattened, the planner hashes
        # `streams` and sorts the whole budget (40 times slower on 1,000,000 events)
        walk = (
            "SELECT x.*, a.event_id, a.stream_version AS position"
            f" FROM {t['stream_events']} a CROSS JOIN LATERAL ({streams} OFFSET 0) x"
            f" WHERE a.stream_id = {ALL_STREAM_ID}"
            " AND a.stream_version <= :top AND a.stream_version >= :floor"
        )
        if cursor is not None:
            walk += ' AND (a.stream_version < :top OR x.stream_uuid COLLATE "C" < :uuid)'
            params["uuid"] = cursor[1]
        sql = self._with_times(f"{walk} {ACTIVITY_ORDER} LIMIT :limit")
        found = [stream_info_of(row) for row in conn.execute(sa.text(sql), params)]
        return found if len(found) >= limit else None

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by the `$all` position of their last event, newest first; streams sharing
        their last event (a stream and those it was linked into) by `stream_uuid`,
        descending; streams with no last event in `$all` (empty ones) at the end.

        That is the order of the last events' `created_at` wherever those times rise with
        position. They need not: EventStore takes `created_at` from the writer's clock
        when it prepares the append, and the position when the append takes `$all`'s row,
        so concurrent writers (or nodes whose clocks differ) can interleave them, and two
        appends can share a time; the list then follows the log, not the clock.

        `$all` is walked down from the head (or from the cursor's stream's last event)
        over at most `scan_budget` positions; a walk that ends short of a page groups every
        stream (two primary-key probes each). A cursor naming a stream continues after that
        stream; one naming none (a stream since hard-deleted) lists the streams whose (last
        event's time, stream_uuid) is below it, by time."""
        limit = max(0, int(limit))
        with self.read_transaction() as conn:
            cursor: tuple[int, str] | None = None
            if before is not None:
                known = conn.execute(
                    sa.text(f"{self._positions()} AND s.stream_uuid = :uuid"),
                    {"uuid": before[1]},
                ).first()
                if known is None:
                    return self._streams_before_time(conn, prefix, before, limit)
                cursor = (int(known.position), known.stream_uuid)
            if cursor is None or cursor[0] > 0:
                walked = self._last_events_walk(conn, prefix, cursor, limit)
                if walked is not None:
                    return walked
            grouped = self._positions()
            params: dict[str, Any] = {"limit": limit}
            if prefix:
                grouped += " AND starts_with(s.stream_uuid, :prefix)"
                params["prefix"] = prefix
            if cursor is not None:
                grouped += (
                    ' AND (COALESCE(l.position, 0), s.stream_uuid COLLATE "C") < (:position, :uuid)'
                )
                params.update(position=cursor[0], uuid=cursor[1])
            sql = self._with_times(f"{grouped} {ACTIVITY_ORDER} LIMIT :limit")
            # a plan over every stream passes jit_above_cost; compiling it costs more than it saves
            conn.exec_driver_sql("SET LOCAL jit = off")
            return [stream_info_of(row) for row in conn.execute(sa.text(sql), params)]

    def _streams_before_time(
        self, conn: sa.Connection, prefix: str, before: tuple[datetime, str], limit: int
    ) -> list[StreamInfo]:
        """The streams whose (last event's time, stream_uuid) is below `before`, by time."""
        sql = self._stream_rows()
        params: dict[str, Any] = {"limit": limit, "at": aware(before[0]), "uuid": before[1]}
        if prefix:
            sql += " AND starts_with(s.stream_uuid, :prefix)"
            params["prefix"] = prefix
        sql = (
            f"SELECT * FROM ({sql}) streams"
            ' WHERE (updated_at, stream_uuid COLLATE "C") < (:at, :uuid)'
            ' ORDER BY updated_at DESC, stream_uuid COLLATE "C" DESC LIMIT :limit'
        )
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
