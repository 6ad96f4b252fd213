"""A date turned into a position: the last event before a time on either clock, answered from
the per-block earliest times (`event_clock_blocks`), checked against the naive answer (the
highest position of all events before that time) at every boundary: each event's own time
and a microsecond either side, block edges, backdated events, ties, before the first event
and after the last; beyond the index mark, once indexed, and after a rebuild of the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from webapp.store import EventStore, NewEvent
from webapp.store.indexer import CLOCK_BLOCK

START = datetime(2024, 1, 1, tzinfo=UTC)
BACKDATED = {700: -5, 1500: 0, 2100: 900, 2600: 1800}
"""position: the minute it happened at, far earlier than its neighbours (or a tie)."""
EVENTS = 2 * CLOCK_BLOCK + 700


def happened_at(position: int) -> datetime:
    if position in BACKDATED:
        return START + timedelta(minutes=BACKDATED[position])
    return START + timedelta(minutes=position // 3)  # runs of three equal times


def fill(store: EventStore) -> None:
    for first in range(1, EVENTS + 1, 250):
        events = [
            NewEvent("Ticked", {"n": p}, {"occurred_at": happened_at(p).isoformat()})
            for p in range(first, min(first + 250, EVENTS + 1))
        ]
        store.append(f"clock-{first % 3}", events)


def naive(times: dict[int, datetime], until: datetime) -> int:
    return max((p for p, t in times.items() if t < until), default=0)


def instants(times: dict[int, datetime]) -> list[datetime]:
    edges = {1, 2, 3, CLOCK_BLOCK - 1, CLOCK_BLOCK, CLOCK_BLOCK + 1, 2 * CLOCK_BLOCK, EVENTS}
    chosen = sorted(set(range(1, EVENTS + 1, 97)) | set(BACKDATED) | edges)
    tick = timedelta(microseconds=1)
    out = {min(times.values()) - timedelta(days=1), max(times.values()) + timedelta(days=1)}
    for position in chosen:
        out |= {times[position] - tick, times[position], times[position] + tick}
    return sorted(out)


def clocks(store: EventStore) -> dict[str, dict[int, datetime]]:
    events = store.read_all(0, limit=EVENTS)
    assert len(events) == EVENTS
    return {
        "recorded": {e.position: e.recorded_at for e in events},
        "happened": {e.position: happened_at(e.position) for e in events},
    }


def check_every_instant(store: EventStore, times: dict[str, dict[int, datetime]]) -> None:
    for clock, of_clock in times.items():
        for until in instants(of_clock):
            assert store.last_position_before(until, clock) == naive(of_clock, until), (
                clock,
                until,
            )


def test_the_last_event_before_a_time_is_the_naive_answer_on_both_clocks(store: EventStore):
    fill(store)
    times = clocks(store)
    check_every_instant(store, times)  # part of the log may be beyond the index mark

    store.catch_up_index()
    assert store.index_position() == EVENTS
    check_every_instant(store, times)

    store.rebuild_index()
    check_every_instant(store, times)


def test_the_log_beyond_the_index_mark_is_read_from_the_log_itself(store: EventStore):
    fill(store)
    times = clocks(store)
    store.catch_up_index()
    store.rebuild_index(batch=CLOCK_BLOCK + 10)  # blocks refilled in two batches
    with store.engine.begin() as conn:  # as if the builder had not got past 1,500 yet
        conn.execute(sa.text("DELETE FROM event_index WHERE position > 1500"))
        conn.execute(sa.text(f"DELETE FROM event_clock_blocks WHERE block > {1500 // CLOCK_BLOCK}"))
        conn.execute(sa.text("UPDATE index_progress SET position = 1500"))
    check_every_instant(store, times)


def test_an_empty_store_answers_zero(store: EventStore):
    assert store.last_position_before(START, "recorded") == 0
    assert store.last_position_before(START, "happened") == 0


def test_the_blocks_hold_each_blocks_earliest_times(store: EventStore):
    fill(store)
    store.catch_up_index()
    times = clocks(store)["happened"]
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT block, occurred_min FROM event_clock_blocks ORDER BY block")
        ).all()
    expected = {}
    for position, at in times.items():
        block = position // CLOCK_BLOCK
        expected[block] = min(expected.get(block, at), at)
    assert [r.block for r in rows] == sorted(expected)
    for row in rows:
        got = row.occurred_min
        got = datetime.fromisoformat(got) if isinstance(got, str) else got
        assert got.replace(tzinfo=got.tzinfo or UTC) == expected[row.block]


@pytest.mark.parametrize("clock", ["recorded", "happened"])
def test_an_unknown_clock_is_refused(store: EventStore, clock: str):
    with pytest.raises(KeyError):
        store.last_position_before(START, clock.upper())


def test_the_migration_fills_the_blocks_of_an_existing_index(db_url: str):
    from alembic import command

    from webapp.bootstrap import open_migrated_store
    from webapp.migrate import alembic_config, upgrade

    store = open_migrated_store(db_url)
    try:
        fill(store)
        store.catch_up_index()
        times = clocks(store)
    finally:
        store.close()
    command.downgrade(alembic_config(db_url), "store_0003")
    engine = sa.create_engine(db_url)
    try:
        assert not sa.inspect(engine).has_table("event_clock_blocks")
    finally:
        engine.dispose()

    upgrade(db_url)

    store = open_migrated_store(db_url)
    try:
        check_every_instant(store, times)
    finally:
        store.close()
