"""Counts for the dashboard: events per day and type, per type, and streams per category."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from webapp.database.upserts import upsert
from webapp.projections.projection import FailurePolicy, Projection, Tables, table_name
from webapp.store.business_time import occurred_time
from webapp.store.types import RecordedEvent


def stream_category(stream_id: str) -> str:
    """`account-42` -> `account`; a stream id without a dash is its own category."""
    return stream_id.split("-", 1)[0] if "-" in stream_id else stream_id


def business_day(event: RecordedEvent) -> date:
    """The UTC day an event happened: its `metadata.occurred_at` (business time, e.g. a
    seeded or imported history) when that is a valid ISO timestamp, else when it was recorded.
    A timestamp without a zone counts as UTC."""
    occurred = occurred_time(event.metadata)  # the store's `occurred_at` column reads alike
    return _utc_day(occurred if occurred is not None else event.recorded_at)


def _utc_day(at: datetime) -> date:
    return (at if at.tzinfo is None else at.astimezone(UTC)).date()


class DailyActivity(Projection):
    """How many events of each type happened each day (UTC; business time, see
    `business_day`), for charts."""

    name = "daily_activity"
    version = 2  # 2: business time (metadata.occurred_at) instead of the recorded time
    handles = None  # every event type
    on_error = FailurePolicy("retry", max_attempts=5)

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "days": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("day", sa.String(10), primary_key=True),
                sa.Column("event_type", sa.String(200), primary_key=True),
                sa.Column("count", sa.BigInteger, nullable=False),
            )
        }

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        counts = Counter((business_day(e), e.type) for e in events)
        rows = [
            {"day": d.isoformat(), "event_type": t, "count": n}
            for (d, t), n in sorted(counts.items())
        ]
        upsert(conn, tables["days"], rows, ["day", "event_type"], add=["count"])


class EventTypeCounts(Projection):
    """Events per type, with the first and last time each was seen."""

    name = "event_type_counts"
    handles = None
    on_error = FailurePolicy("retry", max_attempts=5)

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "types": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("event_type", sa.String(200), primary_key=True),
                sa.Column("count", sa.BigInteger, nullable=False),
                sa.Column("last_position", sa.BigInteger, nullable=False),
            )
        }

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        counts: Counter[str] = Counter()
        last: dict[str, int] = {}
        for e in events:
            counts[e.type] += 1
            last[e.type] = e.position
        rows = [
            {"event_type": t, "count": n, "last_position": last[t]}
            for t, n in sorted(counts.items())
        ]
        upsert(conn, tables["types"], rows, ["event_type"], add=["count"])


class StreamCatalog(Projection):
    """Streams and events per stream category (`account`, `user`, `transfer`, ...)."""

    name = "stream_catalog"
    handles = None
    on_error = FailurePolicy("retry", max_attempts=5)

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "categories": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("category", sa.String(200), primary_key=True),
                sa.Column("streams", sa.BigInteger, nullable=False),
                sa.Column("events", sa.BigInteger, nullable=False),
            )
        }

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        streams: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        per_stream = Counter(e.stream_id for e in events)
        for e in events:
            if e.stream_version == 1:
                streams[stream_category(e.stream_id)] += 1
        for stream_id, n in per_stream.items():
            counts[stream_category(stream_id)] += n
        rows = [
            {"category": c, "streams": streams[c], "events": n} for c, n in sorted(counts.items())
        ]
        upsert(conn, tables["categories"], rows, ["category"], add=["streams", "events"])


def daily_activity(
    conn: sa.Connection, tables: Tables, *, since: str | None = None
) -> list[dict[str, Any]]:
    table = tables["days"]
    query = sa.select(table).order_by(table.c.day, table.c.event_type)
    if since is not None:
        query = query.where(table.c.day >= since)
    return [
        {"day": r.day, "event_type": r.event_type, "count": int(r.count)}
        for r in conn.execute(query)
    ]


def event_type_counts(conn: sa.Connection, tables: Tables) -> list[dict[str, Any]]:
    table = tables["types"]
    query = sa.select(table).order_by(table.c.count.desc(), table.c.event_type)
    return [
        {"event_type": r.event_type, "count": int(r.count), "last_position": int(r.last_position)}
        for r in conn.execute(query)
    ]


def stream_categories(conn: sa.Connection, tables: Tables) -> list[dict[str, Any]]:
    table = tables["categories"]
    query = sa.select(table).order_by(table.c.category)
    return [
        {"category": r.category, "streams": int(r.streams), "events": int(r.events)}
        for r in conn.execute(query)
    ]
