"""Snapshots: each aggregate type's policy, the streams that have snapshots, each one's age and
whether it is current, and how aggregates were rehydrated.

A snapshot is stale when its shape version (`snapshot_version`) or type no longer
matches the aggregate's: loads skip it and replay instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.queries.context import Parts, aggregate_class
from webapp.queries.streams import snapshot_is_current, snapshot_size
from webapp.sources import Snapshot, StreamInfo

SCAN_BATCH = 250
SCAN_LIMIT = 250
"""Streams looked at per request when looking for ones with snapshots (bounded work)."""


@dataclass(frozen=True)
class SnapshotRow:
    stream_id: str
    version: int
    snapshot_version: int
    type: str
    size: int
    taken_at: datetime | None
    current: bool
    stream_version: int | None = None

    @property
    def age_seconds(self) -> float | None:
        if self.taken_at is None:
            return None
        return max(0.0, (datetime.now(UTC) - self.taken_at).total_seconds())

    @property
    def events_since(self) -> int | None:
        return None if self.stream_version is None else self.stream_version - self.version

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "version": self.version,
            "snapshot_version": self.snapshot_version,
            "type": self.type,
            "size": self.size,
            "taken_at": self.taken_at,
            "current": self.current,
            "stream_version": self.stream_version,
        }


def snapshot_row(snapshot: Snapshot, aggregate_cls: Any, info: StreamInfo | None) -> SnapshotRow:
    return SnapshotRow(
        stream_id=snapshot.stream_id,
        version=snapshot.version,
        snapshot_version=snapshot.snapshot_version,
        type=snapshot.type,
        size=snapshot_size(snapshot),
        taken_at=snapshot.taken_at,
        current=snapshot_is_current(aggregate_cls, snapshot),
        stream_version=info.version if info is not None else None,
    )


def snapshot_policies(parts: Parts) -> list[dict[str, Any]]:
    """Per aggregate type: prefix, snapshot_every and the current snapshot (shape) version."""
    seen: dict[str, dict[str, Any]] = {}
    if parts.router is None:
        return [foreign_policy()] if parts.source.capabilities.has_snapshots else []
    for route in parts.router.routes():
        aggregate = route.aggregate
        seen.setdefault(
            aggregate.aggregate_type,
            {
                "aggregate_type": aggregate.aggregate_type,
                "prefix": route.prefix,
                "snapshot_every": aggregate.snapshot_every,
                "snapshot_version": aggregate.snapshot_version,
                "cls": aggregate,
            },
        )
    return list(seen.values())


def foreign_policy() -> dict[str, Any]:
    """Another tool's store as one policy: every stream may have snapshots (no aggregate code
    says which, nor when they are taken)."""
    return {
        "aggregate_type": "",
        "prefix": "",
        "snapshot_every": 0,
        "snapshot_version": None,
        "cls": None,
        "foreign": True,
    }


def load_stats(parts: Parts) -> dict[str, Any]:
    """Loads from snapshot vs full replay, events replayed, stale snapshots, mean time."""
    return {} if parts.router is None else parts.router.load_stats()


def streams_with_snapshots(
    parts: Parts, policy: dict[str, Any], after: str | None, page_size: int
) -> tuple[list[SnapshotRow], str | None]:
    """The newest snapshot of streams of one type, keyset by stream id.

    Only streams long enough to have crossed `snapshot_every` are asked for a
    snapshot; at most SCAN_LIMIT streams are looked at per call, and the cursor
    returned is the last stream id looked at (None when the type is exhausted).
    """
    source = parts.source
    every = policy["snapshot_every"]
    rows: list[SnapshotRow] = []
    scanned = 0
    cursor = after
    while scanned < SCAN_LIMIT:
        batch = source.list_streams(policy["prefix"], after=cursor, limit=SCAN_BATCH)
        if not batch:
            return rows, None
        # a page's worth of streams per query: one round trip each, and no more
        # snapshot documents read than a page can show
        for start in range(0, len(batch), page_size):
            chunk = batch[start : start + page_size]
            snapshots = source.read_latest_snapshots(
                [info.stream_id for info in chunk if not every or info.version >= every]
            )
            for info in chunk:
                scanned += 1
                cursor = info.stream_id
                snapshot = snapshots.get(info.stream_id)
                if snapshot is not None:
                    rows.append(snapshot_row(snapshot, policy["cls"], info))
                if len(rows) >= page_size:
                    return rows, cursor
        if len(batch) < SCAN_BATCH:
            return rows, None
    return rows, cursor


@dataclass(frozen=True)
class StreamSnapshots:
    info: StreamInfo
    aggregate_cls: Any
    rows: list[SnapshotRow]
    """Newest first."""
    next_before: int | None
    """The version cursor of the next page (None on the last)."""


def stream_snapshots(
    parts: Parts, info: StreamInfo, ceiling: int, page_size: int
) -> StreamSnapshots:
    """Up to `page_size` snapshots of one stream at or below version `ceiling`, newest first."""
    stream_id = info.stream_id
    aggregate_cls = aggregate_class(parts, stream_id)
    rows: list[SnapshotRow] = []
    while ceiling >= 1 and len(rows) < page_size:
        snapshot = parts.source.read_snapshot(stream_id, max_version=ceiling)
        if snapshot is None:
            break
        rows.append(snapshot_row(snapshot, aggregate_cls, info))
        ceiling = snapshot.version - 1
    more = bool(rows) and ceiling >= 1 and len(rows) == page_size
    return StreamSnapshots(info, aggregate_cls, rows, rows[-1].version - 1 if more else None)
