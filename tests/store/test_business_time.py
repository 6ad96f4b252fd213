"""Two clocks: the log filtered by when events happened (business time) or were recorded,
and the migration that gives an existing store its `occurred_at` column."""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from webapp.migrate import upgrade, version_locations
from webapp.store import EventStore, NewEvent, open_store

MARCH = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)


def _happened(at: str | None) -> dict[str, str]:
    return {} if at is None else {"occurred_at": at}


def test_the_happened_clock_finds_business_times_the_recorded_clock_does_not(
    store: EventStore,
) -> None:
    store.append("account-1", [NewEvent("Opened", {}, _happened("2024-03-05T10:00:00+00:00"))])
    store.append("account-1", [NewEvent("Deposited", {}, _happened("2024-05-01T09:00:00"))])
    store.append("account-2", [NewEvent("Opened", {}, _happened(None))])

    happened_in_march = store.read_all(0, occurred_since=MARCH[0], occurred_until=MARCH[1])
    recorded_in_march = store.read_all(0, since=MARCH[0], until=MARCH[1])

    assert [e.type for e in happened_in_march] == ["Opened"]
    assert happened_in_march[0].stream_id == "account-1"
    assert recorded_in_march == []


def test_an_event_without_a_business_time_happened_when_it_was_recorded(
    store: EventStore,
) -> None:
    before = datetime.now(UTC)
    store.append("s", [NewEvent("NoTime", {}), NewEvent("BadTime", {}, _happened("soon"))])
    after = datetime.now(UTC)

    found = store.read_all(0, occurred_since=before, occurred_until=after)

    assert [e.type for e in found] == ["NoTime", "BadTime"]


def test_a_zoned_business_time_is_compared_in_utc(store: EventStore) -> None:
    # 23:30 at UTC-5 is 04:30 the next day in UTC
    store.append("s", [NewEvent("Late", {}, _happened("2024-03-14T23:30:00-05:00"))])

    day_14 = store.read_all(
        0,
        occurred_since=datetime(2024, 3, 14, tzinfo=UTC),
        occurred_until=datetime(2024, 3, 15, tzinfo=UTC),
    )
    day_15 = store.read_all_backward(
        None,
        occurred_since=datetime(2024, 3, 15, tzinfo=UTC),
        occurred_until=datetime(2024, 3, 16, tzinfo=UTC),
    )

    assert day_14 == []
    assert [e.type for e in day_15] == ["Late"]


def _occurred_index(engine: sa.Engine) -> list[str]:
    """The business-time index readers use (on the index table since store_0003)."""
    return [
        ix["name"]
        for ix in sa.inspect(engine).get_indexes("event_index")
        if ix["name"] == "ix_event_index_occurred_at"
    ]


def test_the_migration_backfills_existing_events_from_their_metadata(db_url: str) -> None:
    upgrade(db_url, "store_0001")
    engine = sa.create_engine(db_url)
    postgres = engine.dialect.name == "postgresql"
    recorded = "2026-12-01 08:00:00.000000+00:00"
    rows = [
        ("old-1", 1, {"occurred_at": "2024-03-05T10:00:00+00:00"}),
        ("old-1", 2, {"occurred_at": "2024-03-06T23:30:00-05:00"}),
        ("old-2", 1, {}),
        ("old-2", 2, {"occurred_at": 1_700_000_000}),
    ]
    with engine.begin() as conn:
        for stream_id, version, metadata in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO events (stream_id, stream_version, event_id, type, "
                    "schema_version, data, metadata, recorded_at) VALUES (:s, :v, :e, 'E', 1, "
                    + (
                        "CAST(:d AS jsonb), CAST(:m AS jsonb), CAST(:r AS timestamptz))"
                        if postgres
                        else ":d, :m, :r)"
                    )
                ),
                {
                    "s": stream_id,
                    "v": version,
                    "e": uuid.uuid4() if postgres else uuid.uuid4().hex,
                    "d": "{}",
                    "m": json.dumps(metadata),
                    "r": recorded,
                },
            )
    engine.dispose()

    upgrade(db_url)

    engine = sa.create_engine(db_url)
    try:
        assert _occurred_index(engine) == ["ix_event_index_occurred_at"]
    finally:
        engine.dispose()
    with open_store(db_url) as store:
        march = store.read_all(0, occurred_since=MARCH[0], occurred_until=MARCH[1])
        on_the_7th = store.read_all(
            0,
            occurred_since=datetime(2024, 3, 7, tzinfo=UTC),
            occurred_until=datetime(2024, 3, 8, tzinfo=UTC),
        )
        when_recorded = store.read_all(
            0,
            occurred_since=datetime(2026, 12, 1, 8, tzinfo=UTC),
            occurred_until=datetime(2026, 12, 1, 8, 0, 1, tzinfo=UTC),
        )
        store.append("new", [NewEvent("E", {}, {"occurred_at": "2024-03-20T12:00:00Z"})])
        march_after_append = store.read_all(0, occurred_since=MARCH[0], occurred_until=MARCH[1])

    assert [(e.stream_id, e.stream_version) for e in march] == [("old-1", 1), ("old-1", 2)]
    assert [(e.stream_id, e.stream_version) for e in on_the_7th] == [("old-1", 2)]
    assert [(e.stream_id, e.stream_version) for e in when_recorded] == [("old-2", 1), ("old-2", 2)]
    assert [e.stream_id for e in march_after_append] == ["old-1", "old-1", "new"]


def _store_revision(name: str):
    """The store's revision module `name`, loaded from its file as Alembic loads it."""
    path = next(p for p in version_locations() if p.parent.name == "store") / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_backfill_fills_every_row_batch_by_batch(db_url: str, monkeypatch) -> None:
    upgrade(db_url)
    days = range(1, 8)
    with open_store(db_url) as store:
        store.append(
            "s", [NewEvent("E", {}, _happened(f"2024-03-{d:02d}T12:00:00Z")) for d in days]
        )
    engine = sa.create_engine(db_url)
    revision = _store_revision("store_0002_occurred_at")
    monkeypatch.setattr(revision, "BATCH", 3)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE events SET occurred_at = NULL"))
            revision._backfill(conn)
            empty = conn.execute(
                sa.text("SELECT count(*) FROM events WHERE occurred_at IS NULL")
            ).scalar()
    finally:
        engine.dispose()
    with open_store(db_url) as store:
        by_day = [
            len(
                store.read_all(
                    0,
                    occurred_since=datetime(2024, 3, d, tzinfo=UTC),
                    occurred_until=datetime(2024, 3, d, 23, tzinfo=UTC),
                )
            )
            for d in days
        ]
    assert empty == 0
    assert by_day == [1] * 7
