"""SQLAlchemy engines tuned for eventscope's tables on SQLite and PostgreSQL.

SQLite: WAL journal, a busy timeout, `synchronous=NORMAL` by default (a commit survives
a crash of the process; in WAL mode a power loss may lose the last commits but never
corrupts the file; add `?synchronous=FULL` to the URL to fsync every commit),
`secure_delete=ON` so deleted content is overwritten, and transactions begun with
`BEGIN IMMEDIATE` so writers queue on the busy timeout instead of failing on a lock
upgrade. Connections that only read may ask for a deferred `BEGIN` with the execution
option `eventscope_readonly=True`.

A thread that holds the write lock through one connection and begins a write
transaction on another connection of the same file would wait for itself until
the busy timeout (30 s) and stall every other writer meanwhile; that second
`BEGIN IMMEDIATE` (engine transaction or store append) fails at once with
`NestedWriteTransaction` instead (`sqlite_write_guard`).

PostgreSQL: a pooled engine whose sessions run in UTC. A connection the server dropped is
replaced when it is next lent out (`check_lent_connections`): one psycopg already found
broken at once, one that sat idle in the pool for `PING_IDLE_AFTER` seconds after a ping.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from webapp.database.files import create_private_file
from webapp.database.json_loads import load_json
from webapp.database.writer_turns import WriterTurn

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_SYNCHRONOUS_CHOICES = ("OFF", "NORMAL", "FULL", "EXTRA")


WRITER_TURN = "eventscope_writer_turn"
"""Where a pooled SQLite connection keeps its WriterTurn (`ConnectionRecord.info`)."""


class TurnNotFree(RuntimeError):
    """Another writer holds the SQLite file's write turn (for a writer that may not wait)."""


class NestedWriteTransaction(RuntimeError):
    """A thread began a second SQLite write transaction while holding the write lock."""


_held = threading.local()


def _writes_held() -> Counter[str]:
    """Per thread: store appends under way, by database key."""
    held = getattr(_held, "files", None)
    if held is None:
        held = _held.files = Counter()
    return held


def _transactions_held() -> dict[int, tuple[str, weakref.ref[sa.Connection]]]:
    """Per thread: engine write transactions begun, by id(Connection)."""
    held = getattr(_held, "conns", None)
    if held is None:
        held = _held.conns = {}
    return held


def _holds_transaction(database: str) -> bool:
    held = _transactions_held()
    for key, (name, ref) in list(held.items()):
        conn = ref()
        if conn is None or conn.closed or conn.invalidated or not conn.in_transaction():
            del held[key]  # ended without a commit/rollback event (or on another thread)
        elif name == database:
            return True
    return False


def _check_not_held(database: str) -> None:
    if database and (_writes_held()[database] or _holds_transaction(database)):
        msg = (
            f"this thread already holds the write lock of {database!r} on another connection; "
            "a second write transaction would wait for itself until the busy timeout "
            "(finish the first transaction, or do the work on its connection)"
        )
        raise NestedWriteTransaction(msg)


def hold_write_guard(database: str) -> Counter[str]:
    """Mark the current thread as holding the write lock of `database` until
    `release_write_guard(database, <the returned counter>)`; NestedWriteTransaction if it
    already holds it elsewhere. (The append path's form of `sqlite_write_guard`.)"""
    _check_not_held(database)
    held = _writes_held()
    held[database] += 1
    return held


def release_write_guard(database: str, held: Counter[str]) -> None:
    held[database] -= 1


@contextmanager
def sqlite_write_guard(database: str) -> Iterator[None]:
    """Mark the current thread as holding the write lock of `database` for the block.

    Raises NestedWriteTransaction on entry if it already holds it elsewhere.
    """
    held = hold_write_guard(database)
    try:
        yield
    finally:
        release_write_guard(database, held)


def sqlite_database_key(url: URL) -> str:
    """The key a SQLite file is guarded under: its absolute path ("" in memory: one
    shared connection, nothing to guard)."""
    database = url.database
    if database in (None, "", ":memory:"):
        return ""
    return os.path.abspath(database)


def is_store_unavailable(exc: BaseException) -> bool:
    """Whether `exc` is the database saying it cannot be opened or reached, or gave up
    waiting (a busy file, a lock or statement timeout), through SQLAlchemy or from the
    store's direct driver calls.

    psycopg is looked up only once something has imported it (only then can it have
    raised), so SQLite-only processes do not pay its import at start-up.
    """
    if isinstance(exc, sa.exc.OperationalError | sqlite3.OperationalError):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.OperationalError)


def unavailable_reason(exc: BaseException) -> str:
    """The driver's first line about why the store did not answer."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def parse_store_url(url: str | URL) -> URL:
    """`url` parsed, or ValueError naming the forms a store URL takes."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        msg = f"{str(url)[:200]!r} is not a store URL"
    else:
        if parsed.get_backend_name() in ("sqlite", "postgresql"):
            return parsed
        msg = f"unsupported store URL {parsed.render_as_string()!r}"
    raise ValueError(f"{msg}: use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db")


def create_store_engine(url: str | URL) -> sa.Engine:
    """An engine for `url` with the store's connection settings applied."""
    parsed = parse_store_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return _postgresql_engine(parsed)


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
    elif not str(url.database).startswith("file:"):  # a URI filename opens what exists
        create_private_file(Path(str(url.database)))  # 0600, and so its -wal and -shm
    engine = sa.create_engine(url, hide_parameters=True, **kwargs)

    key = sqlite_database_key(url)
    turns: dict[int, WriterTurn] = {}
    """Each pooled connection's write turn, by id() of its driver connection."""

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        dbapi_conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
        dbapi_conn.execute(f"PRAGMA synchronous = {synchronous}")
        dbapi_conn.execute("PRAGMA secure_delete = ON")
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        if key:
            record.info[WRITER_TURN] = turns[id(dbapi_conn)] = WriterTurn(key)

    def _closed(dbapi_conn: Any, _record: Any) -> None:
        turn = turns.pop(id(dbapi_conn), None)
        if turn is not None:
            turn.close()

    event.listen(engine, "close", _closed)
    event.listen(engine, "close_detached", _closed)

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        if options.get("eventscope_readonly"):
            conn.exec_driver_sql("BEGIN")
            return
        _check_not_held(key)
        turn = turns.get(id(conn.connection.dbapi_connection))
        if turn is not None:
            wait = options.get("eventscope_turn_seconds")
            if wait is None:
                turn.take(SQLITE_BUSY_TIMEOUT_MS / 1000)
            elif not turn.take_within(wait):
                raise TurnNotFree(key)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if turn is not None:
                turn.give_back()
            raise
        if key:
            _transactions_held()[id(conn)] = (key, weakref.ref(conn))

    def _end(conn: sa.Connection) -> None:
        _transactions_held().pop(id(conn), None)

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)
    _give_turn_back_after_each_transaction(engine.dialect, turns)
    return engine


def _give_turn_back_after_each_transaction(dialect: Any, turns: dict[int, WriterTurn]) -> None:
    """The write turn goes back once COMMIT or ROLLBACK has run (SQLAlchemy's commit and
    rollback events come before them). The pool hands its own proxy to `do_rollback`
    when it resets a returned connection, hence the unwrapping."""
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def give_back(connection: Any) -> None:
        turn = turns.get(id(getattr(connection, "dbapi_connection", connection)))
        if turn is not None:
            turn.give_back()

    def do_commit(connection: Any) -> None:
        try:
            commit(connection)
        finally:
            give_back(connection)

    def do_rollback(connection: Any) -> None:
        try:
            rollback(connection)
        finally:
            give_back(connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback


def _postgresql_engine(url: URL) -> sa.Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, pool_size=5, max_overflow=10, hide_parameters=True)
    check_lent_connections(engine)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("SET TIME ZONE 'UTC'")
        # psycopg prepares repeated statements; a generic plan for the filtered, keyset
        # reads of the global log walks the primary key and filters every row
        dbapi_conn.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_conn.commit()
        # jsonb comes back through the store's quick, exact loader (json_loads)
        from psycopg.types.json import set_json_loads

        set_json_loads(load_json, dbapi_conn)

    return engine


PING_IDLE_AFTER = 1.0
"""Seconds a pooled PostgreSQL connection may sit unused before it is pinged when lent out."""
_RETURNED_AT = "eventscope_returned_at"


def check_lent_connections(engine: sa.Engine, idle_after: float = PING_IDLE_AFTER) -> None:
    """Replace a dead connection when the pool lends it out, pinging only idle ones.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip to the server before
    every read and every append, and under load most of the background work's statements
    (measured on PostgreSQL at 100 commands/s: 10.7 of 24 statements per command were
    pings). A connection handed back moments ago was alive moments ago; what a ping catches
    is a server that went away meanwhile, and that takes a connection left idle. So:

    - a connection psycopg already knows is closed or broken (a statement on it failed
      with the session lost, through SQLAlchemy or through the store's raw connections) is
      replaced at once, with every connection pooled before it;
    - one idle for `idle_after` seconds or more is pinged first, as pre-ping would;
    - one returned within the last `idle_after` seconds is lent as it is. If the server
      dropped it in that window, the statement on it fails once, and that failure marks it
      (and through SQLAlchemy's disconnect handling, the whole pool) to be replaced.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise sa.exc.InvalidatePoolError("the server closed this pooled connection")
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < idle_after:
            return  # new, or back in the pool a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise sa.exc.InvalidatePoolError("ping failed: the server went away") from exc
            raise


@contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read-only transaction (deferred on SQLite, so it does not queue behind writers)."""
    with engine.connect().execution_options(eventscope_readonly=True) as conn, conn.begin():
        yield conn


WRITE_IF_FREE_WAIT_MS = 100


def write_if_free(engine: sa.Engine, write: Callable[[sa.Connection], object]) -> bool:
    """Run `write(conn)` in a transaction unless another writer holds what it needs; then
    skip it and return False instead of waiting. For bookkeeping that may be late (when a
    token was last used), never for data: SQLite's write lock and PostgreSQL's row locks
    are waited on for at most WRITE_IF_FREE_WAIT_MS."""
    if engine.dialect.name != "sqlite":
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {WRITE_IF_FREE_WAIT_MS}")
                write(conn)
        except sa.exc.OperationalError as exc:
            if _is_lock_timeout(exc):
                return False
            raise
        return True
    with engine.connect().execution_options(
        eventscope_turn_seconds=WRITE_IF_FREE_WAIT_MS / 1000
    ) as conn:
        driver: Any = conn.connection.dbapi_connection  # a pragma outside any transaction
        driver.execute(f"PRAGMA busy_timeout = {WRITE_IF_FREE_WAIT_MS}")
        try:
            with conn.begin():
                write(conn)
        except TurnNotFree:
            return False
        except sa.exc.OperationalError as exc:
            if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                return False
            raise
        finally:
            driver.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return True


def _is_lock_timeout(exc: sa.exc.OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "55P03"  # lock_not_available
