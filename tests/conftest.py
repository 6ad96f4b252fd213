"""Shared fixtures: real databases (a SQLite file and a PostgreSQL schema per test).

PostgreSQL is the one at 127.0.0.1:5432 (trust auth, database `test`), or
`EVENTSCOPE_TEST_PG` if set; run in parallel, each pytest-xdist worker uses a database of
its own beside that one (`test_gw0`, ...). Under CI (CI=true) a missing PostgreSQL fails the
run; on a developer machine without one, PostgreSQL cases are skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

PG_SERVER_URL = os.environ.get(
    "EVENTSCOPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Run in parallel (pytest-xdist), each worker process gets a database of its own, created
# on first use: advisory locks (migrations, projection leadership) and notification
# channels are shared by a whole database, so schemas alone would not keep tests apart.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_database_url(url: str, worker: str) -> str:
    if not worker:
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_BASE_URL = _worker_database_url(PG_SERVER_URL, _XDIST_WORKER)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgresql"]

_pg_state: dict[str, object] = {}


def _pg_reachable() -> str | None:
    """Return None if PostgreSQL answers, else the reason it does not."""
    if "error" not in _pg_state:
        import sqlalchemy as sa

        try:
            if PG_BASE_URL != PG_SERVER_URL:
                _create_worker_database()
            engine = sa.create_engine(PG_BASE_URL)
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_state["error"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _pg_state["error"] = f"{type(exc).__name__}: {exc}"
    return _pg_state["error"]  # type: ignore[return-value]


def _create_worker_database() -> None:
    """Create this xdist worker's database beside the configured one, if it is missing."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = make_url(PG_BASE_URL).database
    server = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not found:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()


def require_postgresql() -> None:
    """Fail under CI, skip elsewhere, when PostgreSQL is not reachable."""
    error = _pg_reachable()
    if error is None:
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI and is not reachable: {error}")
    pytest.skip(f"PostgreSQL not reachable: {error}")


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_BASE_URL else "?"
    return f"{PG_BASE_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A URL for a fresh SQLite file store in the test's own folder."""
    return f"sqlite:///{tmp_path / 'eventscope.db'}"


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A URL for a fresh, empty PostgreSQL schema, dropped after the test."""
    require_postgresql()
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request) -> str:
    """A fresh store URL, once for a SQLite file and once for PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgresql_url")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a freshly migrated, empty deployment (store, key store, key files).

    Migrating every layer takes seconds; copying the result takes milliseconds, so
    each test that needs a whole runtime starts from a copy of this folder.
    """
    from webapp.bootstrap import build_runtime
    from webapp.config import Settings

    folder = tmp_path_factory.mktemp("deployment-template")
    build_runtime(Settings(db_url=f"sqlite:///{folder / 'eventscope.db'}")).close()
    return folder


@pytest.fixture
def fresh_sqlite_runtime(sqlite_url: str, migrated_template: Path) -> Iterator[Any]:
    """A fully wired runtime on a fresh, migrated, empty SQLite store of this test's own."""
    from webapp.bootstrap import build_runtime
    from webapp.config import Settings, sqlite_path

    target = sqlite_path(sqlite_url)
    assert target is not None
    for item in migrated_template.iterdir():
        shutil.copy2(item, target.parent / item.name.replace("eventscope.db", target.name))
    built = build_runtime(
        Settings(db_url=sqlite_url, secret_key=secrets.token_urlsafe(32)), migrate=False
    )
    yield built
    built.close()


@pytest.fixture
def backend(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def events_table_locked() -> Callable[[str], AbstractContextManager[None]]:
    """`with events_table_locked(url):` another PostgreSQL session holds the events table of
    the store at `url` exclusively, as a long migration would, until the block ends."""
    import sqlalchemy as sa

    @contextmanager
    def hold_lock(url: str) -> Iterator[None]:
        engine = sa.create_engine(url)
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with engine.begin() as conn:
                conn.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                held.set()
                release.wait(60)

        holder = threading.Thread(target=hold, name="events-lock")
        holder.start()
        try:
            assert held.wait(10), "could not take the lock on the events table"
            yield
        finally:
            release.set()
            holder.join()
            engine.dispose()

    return hold_lock
