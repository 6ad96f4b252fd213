"""SQLAlchemy engines tuned for the event store on SQLite and PostgreSQL.

SQLite: WAL journal, a busy timeout, `synchronous=NORMAL` by default (a commit survives
a crash of the process; in WAL mode a power loss may lose the last commits but never
corrupts the file; add `?synchronous=FULL` to the URL to fsync every commit),
`secure_delete=ON` so deleted content is overwritten, and transactions begun with
`BEGIN IMMEDIATE` so writers queue on the busy timeout instead of failing on a lock
upgrade. Connections that only read may ask for a deferred `BEGIN` with the execution
option `eventscope_readonly=True`.

PostgreSQL: a pooled engine (pre-ping) whose sessions run in UTC.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_SYNCHRONOUS_CHOICES = ("OFF", "NORMAL", "FULL", "EXTRA")


def create_store_engine(url: str | URL) -> sa.Engine:
    """An engine for `url` with the store's connection settings applied."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return _postgresql_engine(parsed)
    msg = f"unsupported store URL {parsed.render_as_string()!r}: use sqlite:/// or postgresql+psycopg://"
    raise ValueError(msg)


def sqlite_synchronous(url: URL) -> str:
    """The `synchronous` setting a SQLite URL asks for (default NORMAL)."""
    value = str(url.query.get("synchronous", "NORMAL")).upper()
    if value not in SQLITE_SYNCHRONOUS_CHOICES:
        msg = f"synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS_CHOICES)}, not {value!r}"
        raise ValueError(msg)
    return value


def _sqlite_engine(url: URL) -> sa.Engine:
    synchronous = sqlite_synchronous(url)
    url = url.difference_update_query(["synchronous"])
    in_memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    }
    if in_memory:
        kwargs["poolclass"] = StaticPool
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        dbapi_conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
        dbapi_conn.execute(f"PRAGMA synchronous = {synchronous}")
        dbapi_conn.execute("PRAGMA secure_delete = ON")
        dbapi_conn.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("eventscope_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgresql_engine(url: URL) -> sa.Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("SET TIME ZONE 'UTC'")
        # psycopg prepares repeated statements; a generic plan for the filtered, keyset
        # reads of the global log walks the primary key and filters every row
        dbapi_conn.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_conn.commit()

    return engine
