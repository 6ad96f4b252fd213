"""Streams: listing them by id or by activity, and one stream's timeline with its snapshots.

streams, more = find_streams(parts, "account-", sort="activity", limit=25)
page = stream_timeline(parts, "account-7", start=1, viewer=viewer, limit=50)
page.rows[0].event, page.rows[0].original, page.markers
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.privacy import Showing
from webapp.queries.context import Parts, Viewer, aggregate_class, runs_domain, upcasters_of
from webapp.queries.foreign import stream_kind
from webapp.queries.personal import privacy_flags, reveal, reveal_page
from webapp.sources import RecordedEvent, Snapshot, StreamInfo

SORTS = ("activity", "id")
"""Stream listings: newest activity first, or by stream id."""

# --- listing streams --------------------------------------------------------------------------


def aggregate_prefixes(parts: Parts) -> dict[str, str]:
    """Aggregate type -> stream id prefix, from the router's routes."""
    prefixes: dict[str, str] = {}
    if parts.router is None:
        return named_prefixes(parts)
    for route in parts.router.routes():
        prefixes.setdefault(route.aggregate.aggregate_type, route.prefix)
    return prefixes


PREFIX_SAMPLE = 200
"""Newest events looked at for the stream-name prefixes of another tool's store."""


def named_prefixes(parts: Parts) -> dict[str, str]:
    """Over another tool's store: the kinds of stream its naming shows ("account-7" ->
    "account": "account-") among the streams of its newest events."""
    newest = parts.source.read_all_backward(None, limit=PREFIX_SAMPLE)
    found: dict[str, str] = {}
    for event in newest:
        kind, sep, rest = event.stream_id.partition("-")
        if sep and kind and rest:
            found.setdefault(kind, f"{kind}-")
    return dict(sorted(found.items()))


def stream_type(parts: Parts, stream_id: str) -> str | None:
    """The aggregate type a stream belongs to, by its id prefix ("account-7" -> "BankAccount");
    over another tool's store, as its events' topics or its id's naming say."""
    if not runs_domain(parts):
        return stream_kind(parts.source, stream_id)
    aggregate_cls = aggregate_class(parts, stream_id)
    if aggregate_cls is not None:
        return getattr(aggregate_cls, "aggregate_type", aggregate_cls.__name__)
    prefix, sep, _ = stream_id.partition("-")
    return prefix if sep else None


def stream_info(parts: Parts, stream_id: str) -> StreamInfo | None:
    return parts.source.stream_info(stream_id)


def find_streams(
    parts: Parts, prefix: str, *, sort: str = "id", after: Any = None, limit: int = 100
) -> tuple[list[StreamInfo], bool]:
    """One page of streams and whether more follow (one keyset read of limit + 1).

    `after` is the `stream_cursor` of the last stream of the page before: a stream id
    when sorted by id, `[updated_at ISO, stream id]` when sorted by activity.
    """
    source = parts.source
    if sort == "id":
        rows = source.list_streams(prefix, after=after, limit=limit + 1)
    else:
        before = None
        if after is not None:
            before = (datetime.fromisoformat(after[0]), after[1])
        rows = source.list_streams_by_activity(prefix=prefix, before=before, limit=limit + 1)
    return rows[:limit], len(rows) > limit


def deleted_streams(parts: Parts, stream_ids: list[str]) -> dict[str, datetime]:
    """When each of these streams was soft-deleted, for a source that soft-deletes (Commanded's
    EventStore); empty for the others."""
    deleted = getattr(parts.source, "deleted_streams", None)
    return deleted(stream_ids) if deleted is not None and stream_ids else {}


def stream_cursor(info: StreamInfo, sort: str) -> Any:
    """Where the page after `info` starts, in the form `find_streams` takes as `after`."""
    if sort == "id":
        return info.stream_id
    return [info.updated_at.isoformat(), info.stream_id]


# --- one stream's events ----------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    """An event as the timeline shows it: as read (upcast) and as stored, with privacy flags."""

    event: RecordedEvent
    original: RecordedEvent
    flags: list[tuple[str, str]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    """select (this version's state), correlation (global timeline), chain (causation)."""

    @property
    def upcast(self) -> bool:
        return self.original.schema_version != self.event.schema_version


@dataclass(frozen=True)
class SnapshotMarker:
    version: int
    snapshot_version: int
    current: bool
    taken_at: datetime | None
    size: int


@dataclass(frozen=True)
class StreamTimeline:
    """One page of a stream's events and the snapshots taken among them."""

    rows: list[TimelineRow]
    markers: dict[int, SnapshotMarker]
    shown_last: int
    """The version of the last event shown (the version before the first when none is)."""


def read_events(
    parts: Parts, stream_id: str, from_version: int, limit: int, viewer: Viewer, *, where: str
) -> tuple[list[RecordedEvent], int | None, Showing | None]:
    """Up to `limit` events of the stream from `from_version`, decoded for `viewer`, the
    version the next page starts at (None on the last page), and the `Showing` that lets the
    page be shown again without decoding it (`reveal_page`)."""
    rows = parts.source.read_stream(stream_id, from_version, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    shown, showing = reveal_page(parts, page, viewer, where=where)
    return shown, page[-1].stream_version + 1 if more else None, showing


def timeline_rows(
    parts: Parts, events: list[RecordedEvent], viewer: Viewer, *, where: str
) -> list[TimelineRow]:
    """Events decoded for `viewer` (logged if that shows personal data), each beside its
    form as stored when an upcaster has lifted it to today's schema."""
    upcast_with_original = upcasters_of(parts).upcast_with_original
    rows = []
    for event in reveal(parts, events, viewer, where=where):
        original, current = upcast_with_original(event)
        rows.append(TimelineRow(current, original, privacy_flags(current.data)))
    return rows


def stream_timeline(
    parts: Parts,
    stream_id: str,
    start: int,
    viewer: Viewer,
    *,
    limit: int,
    markers_from: int | None = None,
) -> StreamTimeline:
    """Up to `limit` events from version `start` as timeline rows, and the snapshots taken
    at versions `markers_from` (default: `start`) up to the last event shown."""
    events = parts.source.read_stream(stream_id, start, limit=limit)
    rows = timeline_rows(parts, events, viewer, where=f"timeline of {stream_id}")
    shown_last = rows[-1].event.stream_version if rows else start - 1
    low = start if markers_from is None else markers_from
    markers = snapshot_markers(parts, stream_id, low, shown_last) if rows else {}
    return StreamTimeline(rows, markers, shown_last)


# --- snapshots among the events -------------------------------------------------------------


def snapshot_size(snapshot: Snapshot) -> int:
    """The snapshot's data as compact JSON, in characters."""
    return len(json.dumps(snapshot.data, separators=(",", ":"), default=str))


def snapshot_is_current(aggregate_cls: Any, snapshot: Snapshot) -> bool:
    """A snapshot is current when its shape version and type match the aggregate's now."""
    if aggregate_cls is None:
        return False
    return (
        snapshot.snapshot_version == aggregate_cls.snapshot_version
        and snapshot.type == aggregate_cls.aggregate_type
    )


def snapshot_markers(
    parts: Parts, stream_id: str, low: int, high: int
) -> dict[int, SnapshotMarker]:
    """Snapshots taken at versions low..high, walked newest first (one read per snapshot)."""
    source = parts.source
    aggregate_cls = aggregate_class(parts, stream_id)
    markers: dict[int, SnapshotMarker] = {}
    ceiling = high
    while ceiling >= low:
        snapshot = source.read_snapshot(stream_id, max_version=ceiling)
        if snapshot is None or snapshot.version < low:
            break
        markers[snapshot.version] = SnapshotMarker(
            version=snapshot.version,
            snapshot_version=snapshot.snapshot_version,
            current=snapshot_is_current(aggregate_cls, snapshot),
            taken_at=snapshot.taken_at,
            size=snapshot_size(snapshot),
        )
        ceiling = snapshot.version - 1
    return markers
