"""The index builder: appends write only the log; what readers filter on is indexed behind
them, up to a mark, and a read is right whether or not the builder has caught up."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner

from webapp.cli import cli
from webapp.migrate import alembic_config, upgrade
from webapp.store import (
    ANY,
    NO_STREAM,
    EventStore,
    InvalidAppend,
    NewEvent,
    WrongExpectedVersion,
    open_store,
)

TYPES = ("MoneyDeposited", "MoneyWithdrawn", "AccountOpened", "NoteAdded")
ACTORS = ("ann", "bob", None)
START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def unindexed_store(db_url: str) -> Iterator[EventStore]:
    """A migrated store whose appends nobody indexes (no background builder)."""
    upgrade(db_url)
    store = open_store(db_url, index_in_background=False)
    try:
        yield store
    finally:
        store.close()


def varied_events(store: EventStore, count: int, seed: int = 7) -> list[uuid.UUID]:
    """`count` events over 40 streams (each has one by the 40th batch) in batches of 1-4,
    with types, correlation ids, actors and business times drawn from `seed`; returns the
    event ids in log order."""
    rng = random.Random(seed)
    ids: list[uuid.UUID] = []
    written = batches = 0
    while written < count:
        size = min(rng.randint(1, 4), count - written)
        correlation = str(uuid.UUID(int=rng.getrandbits(128)))
        actor = rng.choice(ACTORS)
        batch = []
        for _ in range(size):
            metadata: dict[str, object] = {"correlation_id": correlation}
            if actor is not None:
                metadata["actor"] = actor
            day = START + timedelta(hours=rng.randint(0, 24 * 60))
            metadata["occurred_at"] = day.isoformat()
            batch.append(NewEvent(rng.choice(TYPES), {"n": written}, metadata))
            written += 1
        batches += 1
        stream = batches if batches <= 40 else rng.randint(1, 40)  # every stream, then any
        result = store.append(f"account-{stream:02d}", batch, ANY)
        ids += [e.event_id for e in result.events]
    return ids


def answers(store: EventStore, correlation: str, some_ids: list[uuid.UUID]) -> dict[str, object]:
    """What readers ask of the index tables, answered by the store."""

    def positions(**filters: object) -> list[int]:
        return [e.position for e in store.read_all(0, limit=100_000, **filters)]

    def backward(**filters: object) -> list[int]:
        return [e.position for e in store.read_all_backward(None, limit=25, **filters)]

    streams, after = [], None
    while page := store.list_streams("account-", after=after, limit=7):
        streams += [(s.stream_id, s.version, s.created_at, s.updated_at) for s in page]
        after = page[-1].stream_id
    return {
        "deposits": positions(types="MoneyDeposited"),
        "two types, newest": backward(types=["MoneyWithdrawn", "NoteAdded"]),
        "by correlation": positions(correlation_id=correlation),
        "by correlation prefix": positions(correlation_prefix=correlation[:8]),
        "by actor": positions(actor="ann"),
        "by actor and type, newest": backward(actor="bob", types="AccountOpened"),
        "recorded in a range": positions(since=datetime(2000, 1, 1), until=datetime(2100, 1, 1)),
        "happened in March": positions(
            occurred_since=datetime(2026, 3, 1, tzinfo=UTC),
            occurred_until=datetime(2026, 4, 1, tzinfo=UTC),
        ),
        "by type, within streams": positions(types="NoteAdded", stream_prefix="account-1"),
        "streams by id": streams,
        "streams by activity": [
            (s.stream_id, s.version) for s in store.list_streams_by_activity(limit=15)
        ],
        "stream count": store.count_streams(),
        "counts by type": store.count_by_type(list(TYPES)),
        "by event id": [store.get_event_by_id(i) for i in some_ids],
    }


def first_correlation(store: EventStore) -> str:
    return str(store.read_all(0, limit=1)[0].metadata["correlation_id"])


# --- appends ---------------------------------------------------------------------------


def test_a_retry_with_the_exact_version_it_first_had_returns_the_original(
    store: EventStore,
) -> None:
    batch = [NewEvent("A", {}), NewEvent("B", {})]
    first = store.append("s", batch, NO_STREAM)
    store.append("s", [NewEvent("C", {})], 2)

    again = store.append("s", batch, NO_STREAM)
    also = store.append("s", batch[:1] + batch[1:], 0)

    assert again == also == first
    assert store.count_events() == 3


def test_a_single_event_retried_at_its_exact_version_returns_the_original(
    store: EventStore,
) -> None:
    """One event at an exact version is written by one statement; its retry still finds it."""
    deposited = NewEvent("Deposited", {"n": 1})
    first = store.append("s", [deposited], 0)
    second = store.append("s", [NewEvent("Deposited", {"n": 2})], 1)

    again = store.append("s", [deposited], 0)
    with pytest.raises(WrongExpectedVersion) as caught:
        store.append("s", [NewEvent("Deposited", {"n": 3})], 1)

    assert again == first
    assert caught.value.actual == 2
    assert [e.position for e in store.read_stream("s")] == [
        first.events[0].position,
        second.events[0].position,
    ]


def test_a_batch_sent_again_at_the_current_version_is_found_when_asked_to_check_ids(
    store: EventStore,
) -> None:
    batch = [NewEvent("Deposited", {"n": 1})]
    first = store.append("s", batch, NO_STREAM)  # stored before the sender read version 1

    again = store.append("s", batch, 1, check_ids=True)

    assert again == first
    assert store.count_events() == 1


def test_a_conflicting_batch_that_shares_only_some_ids_is_refused(store: EventStore) -> None:
    stored = NewEvent("A", {})
    store.append("s", [stored, NewEvent("B", {})], NO_STREAM)

    with pytest.raises(InvalidAppend, match="already stored"):
        store.append("s", [stored, NewEvent("X", {})], NO_STREAM)
    assert store.count_events() == 2


def test_an_append_writes_the_log_and_leaves_the_index_to_the_builder(
    unindexed_store: EventStore,
) -> None:
    store = unindexed_store
    store.append("s", [NewEvent("A", {}), NewEvent("B", {})])

    assert store.head_position() == 2
    assert store.index_position() == 0
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM event_index").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM streams").scalar() == 0


# --- reads are right before, during and after indexing ---------------------------------


def test_reads_are_the_same_before_and_after_the_index_catches_up(
    unindexed_store: EventStore,
) -> None:
    store = unindexed_store
    ids = varied_events(store, 400)
    correlation = first_correlation(store)

    before = answers(store, correlation, ids[::37])
    half = store.catch_up_index(until=200, batch=150)
    midway = answers(store, correlation, ids[::37])
    mark = store.catch_up_index()
    after = answers(store, correlation, ids[::37])

    assert 200 <= half < 400
    assert mark == store.head_position() == 400
    assert before == midway == after
    assert len(before["deposits"]) > 50
    assert before["stream count"] == 40


def test_waiting_for_the_mark_returns_once_it_is_reached(unindexed_store: EventStore) -> None:
    store = unindexed_store
    varied_events(store, 50)

    assert store.index_position() == 0
    assert store.wait_until_indexed(30) >= 30
    assert store.wait_until_indexed(50) == 50
    assert store.index_position() == 50


def test_a_store_that_appends_indexes_in_the_background(store: EventStore) -> None:
    varied_events(store, 30)

    deadline = time.monotonic() + 10
    while store.index_position() < 30 and time.monotonic() < deadline:
        time.sleep(0.02)

    assert store.index_position() == 30


def test_closing_a_store_that_appended_leaves_the_index_complete(db_url: str) -> None:
    upgrade(db_url)
    with open_store(db_url) as writer:
        varied_events(writer, 120)

    with open_store(db_url, index_in_background=False) as reader:
        assert reader.index_position() == reader.head_position() == 120


def test_builders_of_several_stores_take_turns_and_index_each_event_once(
    unindexed_store: EventStore, db_url: str
) -> None:
    varied_events(unindexed_store, 600)
    others = [open_store(db_url, index_in_background=False) for _ in range(3)]
    errors: list[BaseException] = []

    def build(store: EventStore) -> None:
        try:
            store.catch_up_index(batch=40)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(s,)) for s in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()

    assert errors == []
    assert unindexed_store.index_position() == 600
    with unindexed_store.engine.connect() as conn:
        rows, distinct = conn.exec_driver_sql(
            "SELECT count(*), count(DISTINCT position) FROM event_index"
        ).one()
    assert rows == distinct == 600


# --- crash safety -----------------------------------------------------------------------

BUILD_SLOWLY = """
import sys
from webapp.store import open_store

store = open_store(sys.argv[1], index_in_background=False)

def said(mark, head):
    print(mark, flush=True)

store.catch_up_index(batch=25, progress=said)
print("done", flush=True)
"""


def test_a_builder_killed_mid_catch_up_leaves_the_index_exactly_at_its_mark(
    unindexed_store: EventStore, db_url: str
) -> None:
    store = unindexed_store
    ids = varied_events(store, 3000)
    correlation = first_correlation(store)
    expected = answers(store, correlation, ids[::101])

    child = subprocess.Popen(
        [sys.executable, "-c", BUILD_SLOWLY, db_url],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    assert child.stdout is not None
    seen = [child.stdout.readline() for _ in range(5)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    mark = store.index_position()
    assert all(line.strip().isdigit() for line in seen)
    assert 0 < mark < 3000
    with store.engine.connect() as conn:
        indexed, top = conn.exec_driver_sql(
            "SELECT count(*), COALESCE(max(position), 0) FROM event_index"
        ).one()
        versions = conn.exec_driver_sql("SELECT sum(version) FROM streams").scalar()
    assert indexed == mark and top == mark  # no row beyond the mark, none missing below it
    assert versions == mark  # the streams table counts exactly the indexed events
    assert answers(store, correlation, ids[::101]) == expected

    assert store.catch_up_index() == 3000
    assert answers(store, correlation, ids[::101]) == expected


# --- schema -----------------------------------------------------------------------------


def old_schema_answers(url: str, correlation: str) -> dict[str, object]:
    """The same questions asked of store_0002's tables, served by its indexes on `events`
    and its commit-maintained streams table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:

            def positions(where: str, **params: object) -> list[int]:
                query = f"SELECT position FROM events WHERE {where} ORDER BY position"
                return [row[0] for row in conn.execute(sa.text(query), params)]

            streams = conn.execute(
                sa.text("SELECT stream_id, version FROM streams ORDER BY stream_id")
            ).all()
            return {
                "deposits": positions("type = 'MoneyDeposited'"),
                "by correlation": positions("correlation_id = :c", c=correlation),
                "by actor": positions("actor = 'ann'"),
                "streams by id": [tuple(row) for row in streams],
            }
    finally:
        engine.dispose()


def new_schema_answers(store: EventStore, correlation: str) -> dict[str, object]:
    found = answers(store, correlation, [])
    return {
        "deposits": found["deposits"],
        "by correlation": found["by correlation"],
        "by actor": found["by actor"],
        "streams by id": [row[:2] for row in found["streams by id"]],  # type: ignore[union-attr]
    }


def test_the_migration_and_a_rebuild_give_the_old_indexes_answers(db_url: str) -> None:
    upgrade(db_url)
    with open_store(db_url, index_in_background=False) as store:
        ids = varied_events(store, 1500)
        correlation = first_correlation(store)
        store.catch_up_index(until=900)  # the builder was behind when the schema went back
    command.downgrade(alembic_config(db_url), "store_0002")
    old = old_schema_answers(db_url, correlation)
    assert len(old["streams by id"]) == 40  # type: ignore[arg-type]
    assert sum(v for _, v in old["streams by id"]) == 1500  # type: ignore[union-attr]

    migrated = CliRunner().invoke(cli, ["--db", db_url, "db", "upgrade"])
    with open_store(db_url, index_in_background=False) as store:
        assert store.index_position() == 1500
        upgraded = new_schema_answers(store, correlation)
        store.rebuild_index(batch=400)
        rebuilt = new_schema_answers(store, correlation)
        assert store.get_event_by_id(ids[1234]).position == 1235  # type: ignore[union-attr]

    assert migrated.exit_code == 0, migrated.output
    assert "indexing the log: 1,500 of 1,500 events" in migrated.stderr
    assert upgraded == old
    assert rebuilt == old


def test_reindex_rebuilds_the_index_tables_with_progress(db_url: str) -> None:
    upgrade(db_url)
    with open_store(db_url) as store:
        varied_events(store, 300)
        store.wait_until_indexed(300)
        with store.engine.begin() as conn:  # a damaged index
            conn.exec_driver_sql("DELETE FROM event_index WHERE mod(position, 3) = 0")

    result = CliRunner().invoke(cli, ["--db", db_url, "db", "reindex"])

    assert result.exit_code == 0, result.output
    assert "indexed up to position 300 of 300" in result.stderr
    assert result.stdout == "index rebuilt up to position 300 (40 streams)\n"
    checked = CliRunner().invoke(cli, ["--db", db_url, "db", "check"])
    assert checked.exit_code == 0, checked.output


def test_db_check_finds_a_damaged_index(db_url: str) -> None:
    upgrade(db_url)
    with open_store(db_url) as store:
        varied_events(store, 60)
        store.wait_until_indexed(60)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM event_index WHERE position = 10")

    checked = CliRunner().invoke(cli, ["--db", db_url, "db", "check"])

    assert checked.exit_code == 1
    assert "index table: 1 event up to the mark (60) not indexed" in checked.output


def test_with_the_builder_running_appends_leave_checkpoints_to_it_and_the_log_reaches_the_file(
    sqlite_url: str,
) -> None:
    upgrade(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    with open_store(sqlite_url) as store:
        store.append("warm-up", [NewEvent("NoteAdded", {"n": 0})], NO_STREAM)
        writer, _turn = store._writer_and_turn()
        file_before = os.path.getsize(path)

        for n in range(1, 1001):
            store.append(f"s-{n % 10}", [NewEvent("NoteAdded", {"n": n, "pad": "x" * 200})])

        # the appends never checkpoint; the builder's rounds do, so the events reach the
        # database file itself while the store stays open
        assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            os.path.getsize(path) < file_before + 200_000 or store.index_position() < 1001
        ):
            time.sleep(0.05)
        assert os.path.getsize(path) >= file_before + 200_000
        assert store.index_position() == store.head_position() == 1001
