"""Who runs a projection: exactly one worker at a time.

PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a dedicated
connection per projection; when the worker dies its connection closes and the
lock is free at once. SQLite: a lease row renewed every second that expires a
few seconds after its owner stops renewing it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
import uuid
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from webapp.projections import schema


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a unit name."""
    digest = hashlib.blake2b(f"eventscope:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Leadership(Protocol):
    """The right to run one unit (projection, process manager, timer)."""

    def try_acquire(self) -> bool: ...

    def still_held(self, conn: sa.Connection | None = None) -> bool:
        """Cheap check before a batch; False once the right is lost.

        Inside a write transaction pass its connection: the check then runs on it
        (atomically with the caller's writes) and never opens a second connection,
        which on SQLite would wait the whole busy timeout for the caller's own lock.
        """
        ...

    def release(self) -> None: ...


class _Triers:
    """One spare connection per database URL for trying locks this process does not hold.

    A lock is held by the session that took it, so each held lock keeps a connection of its
    own; a try that fails needs none afterwards. Before, each failed try opened and closed a
    connection: a worker that ran no unit (the second web worker of `eventscope serve`)
    started a PostgreSQL session per unit every second. Now the tries of all of this
    process's locks share one connection, and one that wins a lock keeps it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: dict[str, tuple[int, sa.Connection]] = {}

    def take(self, engine: sa.Engine) -> sa.Connection:
        with self._lock:
            spare = self._spare.pop(_database(engine), None)
        if spare is not None and spare[0] == os.getpid() and not spare[1].closed:
            return spare[1]
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def give_back(self, engine: sa.Engine, conn: sa.Connection) -> None:
        key = _database(engine)
        with self._lock:
            spare = self._spare.get(key)
            if spare is None or spare[0] != os.getpid():
                self._spare[key] = (os.getpid(), conn)
                return
        conn.close()

    def close(self, engine: sa.Engine) -> None:
        """Close the spare connection for `engine`'s database (a worker stopping)."""
        with self._lock:
            _, conn = self._spare.pop(_database(engine), (0, None))
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                conn.close()


def _database(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


_triers = _Triers()


class AdvisoryLock:
    """A PostgreSQL session advisory lock held on its own connection."""

    def __init__(self, engine: sa.Engine, name: str, check_every: float = 1.0) -> None:
        self._engine = sa.create_engine(engine.url, poolclass=NullPool, hide_parameters=True)
        self._key = lock_key(name)
        self._conn: sa.Connection | None = None
        self._checked_at = 0.0
        self._check_every = check_every

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return self.still_held()
        conn = _triers.take(self._engine)
        try:
            got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(self._key))).scalar()
        except Exception:
            conn.close()
            raise
        if not got:
            _triers.give_back(self._engine, conn)
            return False
        self._conn = conn
        self._checked_at = time.monotonic()
        return True

    def still_held(self, conn: sa.Connection | None = None) -> bool:  # noqa: ARG002 - own connection
        if self._conn is None:
            return False
        now = time.monotonic()
        if now - self._checked_at < self._check_every:
            return True
        try:
            held = self._conn.execute(
                sa.text(
                    "select count(*) from pg_locks where locktype = 'advisory' and granted"
                    " and pid = pg_backend_pid()"
                    " and objid::bigint = (cast(:k as bigint) & 4294967295)"
                ),
                {"k": self._key},
            ).scalar()
        except Exception:  # noqa: BLE001 - a broken connection means the lock is gone
            held = 0
        if not held:
            self._drop()
            return False
        self._checked_at = now
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing the connection releases it anyway
                self._conn.execute(sa.select(sa.func.pg_advisory_unlock(self._key)))
        self._drop()
        _triers.close(self._engine)
        self._engine.dispose()


class LeaseRow:
    """A renewable lease row in `projection_leases` (SQLite, or any backend)."""

    def __init__(
        self, engine: sa.Engine, name: str, owner: str, ttl: float = 4.0, renew_every: float = 1.0
    ) -> None:
        self._engine = engine
        self._name = name
        self._owner = owner
        self._ttl = ttl
        self._renew_every = renew_every
        self._held = False
        self._renewed_at = 0.0

    def try_acquire(self) -> bool:
        if self._held:
            return self.still_held()
        table = schema.leases
        now = time.time()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(table.c.owner, table.c.expires_at).where(table.c.name == self._name)
            ).first()
            if row is None:
                conn.execute(
                    table.insert().values(
                        name=self._name, owner=self._owner, expires_at=now + self._ttl
                    )
                )
            elif row.owner == self._owner or row.expires_at < now:
                done = conn.execute(
                    table.update()
                    .where(table.c.name == self._name, table.c.owner == row.owner)
                    .values(owner=self._owner, expires_at=now + self._ttl)
                ).rowcount
                if done != 1:
                    return False
            else:
                return False
        self._held = True
        self._renewed_at = time.monotonic()
        return True

    def still_held(self, conn: sa.Connection | None = None) -> bool:
        if not self._held:
            return False
        if conn is not None:
            return self._renew_on(conn)
        if time.monotonic() - self._renewed_at < self._renew_every:
            return True
        try:
            with self._engine.begin() as own:
                done = self._renew(own)
        except Exception:  # noqa: BLE001 - cannot renew: assume lost, retry acquisition later
            done = 0
        self._held = done == 1
        if self._held:
            self._renewed_at = time.monotonic()
        return self._held

    def _renew_on(self, conn: sa.Connection) -> bool:
        """Renew inside the caller's transaction (it commits with the caller's writes).

        `_renewed_at` is left alone: if that transaction rolls back, the next check
        outside a transaction renews on its own connection as usual.
        """
        if self._renew(conn) != 1:
            self._held = False
        return self._held

    def _renew(self, conn: sa.Connection) -> int:
        table = schema.leases
        return conn.execute(
            table.update()
            .where(table.c.name == self._name, table.c.owner == self._owner)
            .values(expires_at=time.time() + self._ttl)
        ).rowcount

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        table = schema.leases
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    table.delete().where(table.c.name == self._name, table.c.owner == self._owner)
                )
        except Exception:  # noqa: BLE001, S110 - an unreleased lease simply expires
            pass


def leadership_for(engine: sa.Engine, name: str, owner: str) -> Leadership:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, name)
    return LeaseRow(engine, name, owner)
