"""Writers of one SQLite file take turns through a kernel lock, not SQLite's busy sleeps.

Every eventscope write transaction (an engine transaction, a store append, the index
builder) holds the file's write turn from before its `BEGIN IMMEDIATE` until after its
COMMIT or ROLLBACK; a waiting writer is woken when the turn is given back.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.store.conftest import write_held_open
from webapp.bootstrap import open_migrated_store
from webapp.database.engine import (
    WRITER_TURN,
    create_store_engine,
    is_store_unavailable,
    reading,
)
from webapp.database.writer_turns import WriterTurn, lock_path
from webapp.store.types import NewEvent


@pytest.fixture
def store(sqlite_url: str) -> Iterator:
    store = open_migrated_store(sqlite_url)
    try:
        yield store
    finally:
        store.close()


def database_file(store) -> str:
    return os.path.abspath(store.engine.url.database)


def turn_is_free(store) -> bool:
    """Whether a writer that may not wait gets the turn now (and gives it back)."""
    probe = WriterTurn(database_file(store))
    try:
        taken = probe.take_within(0)
        probe.give_back()
        return taken
    finally:
        probe.close()


def transaction_held_open(engine: sa.Engine):
    """Another thread holds a write transaction until the yielded event is set."""
    return write_held_open(engine, "CREATE TABLE IF NOT EXISTS held (x INTEGER)")


def test_a_write_transaction_holds_the_turn_until_it_commits(store):
    with transaction_held_open(store.engine) as finish:
        assert not turn_is_free(store)
        finish.set()
        deadline = time.monotonic() + 5
        while not turn_is_free(store) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert turn_is_free(store)


def test_a_failed_transaction_gives_the_turn_back(store):
    with pytest.raises(sa.exc.OperationalError), store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE no_such_table SET x = 1")

    assert turn_is_free(store)


def test_an_append_waits_for_the_turn_and_lands_once_it_is_given_back(store):
    appended = threading.Event()

    def append() -> None:
        store.append("account-1", [NewEvent("Opened", {"n": 1})])
        appended.set()

    with transaction_held_open(store.engine) as finish:
        writer = threading.Thread(target=append, daemon=True)
        writer.start()
        assert not appended.wait(0.3)  # queued behind the open transaction
        given_back = time.monotonic()
        finish.set()
        assert appended.wait(5)
        waited_after = time.monotonic() - given_back
    writer.join(5)

    assert [e.data for e in store.read_stream("account-1")] == [{"n": 1}]
    assert waited_after < 1.0  # woken when the turn came back, not after a busy timeout
    assert turn_is_free(store)


def test_another_process_holding_the_turn_makes_this_one_wait(store):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from webapp.database.writer_turns import WriterTurn;"
            "t = WriterTurn(sys.argv[1]); t.take(5); print('held', flush=True); time.sleep(30)",
            database_file(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not turn_is_free(store)
    finally:
        holder.kill()
        holder.wait()
    assert turn_is_free(store)  # a process that dies gives its turn back


def test_the_lock_file_is_private_and_made_only_by_a_writer(tmp_path):
    path = tmp_path / "store.db"
    engine = create_store_engine(f"sqlite:///{path}")
    try:
        with reading(engine) as conn:
            conn.exec_driver_sql("SELECT 1").scalar_one()
        assert not lock_path(str(path)).exists()  # a reader leaves nothing beside the file

        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")

        mode = stat.S_IMODE(lock_path(str(path)).stat().st_mode)
        assert mode == 0o600
        with engine.connect() as conn:
            assert isinstance(conn.connection.info[WRITER_TURN], WriterTurn)
    finally:
        engine.dispose()


def test_a_writer_that_never_gets_the_turn_fails_as_a_busy_store_does(store):
    with transaction_held_open(store.engine):
        waiting = WriterTurn(database_file(store))
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked") as refused:
                waiting.take(0.05)
        finally:
            waiting.close()

    assert is_store_unavailable(refused.value)  # the API answers 503 with Retry-After
