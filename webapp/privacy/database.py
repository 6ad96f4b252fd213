"""The key store's database: its engine, its Alembic branch, and scrubbing freed space.

The key store uses the store's engine settings: on SQLite every connection runs
with `secure_delete=ON` (deleted content is overwritten with zeros) in WAL mode;
after a forget, `wal_checkpoint(TRUNCATE)` empties the write-ahead logs so no
old page image survives in any file. On PostgreSQL the touched tables are
VACUUMed (see docs/privacy.md for what that does and does not erase).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from sqlalchemy.engine import Engine

from webapp.config import sqlite_path
from webapp.database import create_store_engine
from webapp.database.files import make_private_folder

logger = logging.getLogger(__name__)

BRANCH = "privacy"
KEYSTORE_FILENAME = "keystore.db"


def default_keystore_url(db_url: str) -> str:
    """A SQLite store keeps its keys in a separate file beside it; other stores keep them inside."""
    path = sqlite_path(db_url)
    if path is None:
        return db_url
    return f"sqlite:///{path.resolve().parent / KEYSTORE_FILENAME}"


def create_keystore_engine(url: str) -> Engine:
    """An engine for the key store at `url`, its folder created (0700) for a SQLite file."""

    path = sqlite_path(url)
    if path is not None:
        make_private_folder(path.parent)
    return create_store_engine(url)


def secure_delete_enabled(engine: Engine) -> bool:
    """True when the engine's SQLite connections overwrite deleted content (or not SQLite)."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            return cursor.execute("PRAGMA secure_delete").fetchone()[0] == 1
        finally:
            cursor.close()


def truncate_sqlite_wal(engine: Engine, *, timeout: float = 10.0) -> bool:
    """Checkpoint and empty the WAL, retrying while readers hold old snapshots; True on success."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                cursor.close()
        if busy == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def vacuum_postgresql(engine: Engine, tables: list[str]) -> None:
    """Let PostgreSQL reclaim the dead tuples of the tables a forget touched."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f'VACUUM "{table}"')


def scrub_freed_space(engine: Engine, tables: Callable[[], Iterable[str]]) -> bool:
    """Make the bytes of deleted rows unrecoverable from the database's files; True on success.

    SQLite: VACUUM when `secure_delete` is off (freed pages may keep old bytes), then empty
    the write-ahead log. PostgreSQL: VACUUM `tables()`, best effort (a failure is logged).
    """
    if engine.dialect.name == "sqlite":
        if not secure_delete_enabled(engine):
            logger.warning("secure_delete is off on %s: vacuuming the file", engine.url)
            with engine.connect() as conn:
                conn.connection.dbapi_connection.execute("VACUUM")
        return truncate_sqlite_wal(engine)
    try:
        vacuum_postgresql(engine, list(tables()))
    except Exception:  # noqa: BLE001 - VACUUM is best effort; report it
        logger.warning("VACUUM after forget failed", exc_info=True)
        return False
    return True
