"""The schema comes from Alembic: `eventscope db upgrade` creates it, and again changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import webapp
from webapp.bootstrap import open_migrated_store
from webapp.migrate import current_heads, upgrade, version_locations
from webapp.store import NewEvent, open_store

REPO_ROOT = Path(webapp.__file__).resolve().parent.parent
STORE_TABLES = {"streams", "events", "snapshots", "alembic_version"}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("EVENTSCOPE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "webapp", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_db_upgrade_creates_the_schema_and_is_idempotent(db_url: str) -> None:
    first = run_cli("--db", db_url, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "store_0004" in first.stdout
    assert table_names(db_url) >= STORE_TABLES

    again = run_cli("--db", db_url, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout


def test_the_store_branch_is_labelled_and_every_layer_is_found() -> None:
    folders = {p.parent.name for p in version_locations()}
    assert "store" in folders
    assert all(p.name == "migrations" for p in version_locations())


def test_upgrade_lands_in_the_schema_named_by_the_url(postgresql_url: str) -> None:
    heads = upgrade(postgresql_url)
    schema = postgresql_url.rsplit("%3D", 1)[1]

    engine = sa.create_engine(postgresql_url)
    try:
        tables = set(sa.inspect(engine).get_table_names(schema=schema))
        public = set(sa.inspect(engine).get_table_names(schema="public"))
    finally:
        engine.dispose()
    assert tables >= STORE_TABLES
    assert "alembic_version" not in public or schema != "public"
    assert "store_0004" in heads
    assert current_heads(postgresql_url) == heads


def test_opening_with_migrate_works_on_an_already_migrated_store(db_url: str) -> None:
    upgrade(db_url)
    with open_migrated_store(db_url) as store:
        store.append("s", [NewEvent("A", {})])
    with open_migrated_store(db_url) as store:
        assert store.count_events() == 1


def test_sqlite_store_settings(sqlite_url: str) -> None:
    with open_migrated_store(sqlite_url) as store, store.engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "secure_delete", "busy_timeout")
        }
    assert pragma["journal_mode"] == "wal"
    assert pragma["synchronous"] == 1  # NORMAL
    assert pragma["secure_delete"] == 1
    assert pragma["busy_timeout"] >= 1000


def test_a_sqlite_reader_marked_readonly_does_not_hold_the_write_lock(sqlite_url: str) -> None:
    with open_migrated_store(sqlite_url) as store:
        store.append("s", [NewEvent("A", {})])
        reader = store.engine.connect().execution_options(eventscope_readonly=True)
        try:
            with reader.begin():
                seen = reader.exec_driver_sql("SELECT COUNT(*) FROM events").scalar()
                store.append("s", [NewEvent("B", {})])  # would wait on an IMMEDIATE reader
                still = reader.exec_driver_sql("SELECT COUNT(*) FROM events").scalar()
        finally:
            reader.close()
        assert (seen, still) == (1, 1)  # the reader keeps its snapshot
        assert store.count_events() == 2


def test_an_in_memory_sqlite_store_works_for_quick_experiments() -> None:
    with open_migrated_store("sqlite://") as store:
        store.append("s", [NewEvent("A", {})])
        assert [e.type for e in store.read_all()] == ["A"]


def test_a_sqlite_url_may_ask_for_full_synchronous_commits(sqlite_url: str) -> None:
    with open_migrated_store(f"{sqlite_url}?synchronous=FULL") as store:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        store.append("s", [NewEvent("A", {})])
        assert store.count_events() == 1


def test_an_unknown_synchronous_setting_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="synchronous must be one of"):
        open_store(f"{sqlite_url}?synchronous=SOMETIMES")
