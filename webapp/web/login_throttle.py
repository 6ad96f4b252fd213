"""Slowing down password guessing: failed logins counted per account name and per address.

After `name_failures` failed logins for one account name (or `address_failures` from
one client address), each within `window_seconds` of the one before, that name
(address) is locked: the login form answers 429 without checking any password, for
`lockout_seconds`, doubling with every further failure up to `max_lockout_seconds`.
The count starts again only after `window_seconds` without a failure, so a patient
guesser stays at the longest lock. A successful login clears its name's count.
The counts live in the store (table `web_login_failures`, Alembic branch "web"),
so every server process of a deployment shares them.

An attempt is counted before its password is checked (`take_attempt`): one write
transaction takes it from the name and from the address, each a single upsert that
counts only while the key is not locked, and sets the lock when that count reaches
the limit; a login that succeeds gives its attempt back (`succeeded`). So a
concurrent burst, from threads or from processes, gets at most the limit's worth
of password checks: the attempts past it find the lock already taken.

A lock on a name also holds off its rightful owner for a while: the lock is short and
a one-time login link (`eventscope login-link NAME`) still works.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webapp.database import reading, write_if_free

_metadata = sa.MetaData()
failures_table = sa.Table(
    "web_login_failures",
    _metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failed_at", sa.Float, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False),
)
"""Created by the Alembic revision web_0003_login_throttle."""


@dataclass(frozen=True)
class ThrottlePolicy:
    name_failures: int = 5
    address_failures: int = 20
    window_seconds: float = 3600.0  # longer than the longest lock: a lock never resets the count
    lockout_seconds: float = 30.0
    max_lockout_seconds: float = 900.0


def name_key(name: str) -> str:
    return "name:" + name.strip().lower()[:190]


def address_key(address: str | None) -> str:
    return "addr:" + (address or "unknown")[:190]


@dataclass(frozen=True)
class Reservation:
    """One login attempt counted (`keys`), or refused for `retry_after` seconds."""

    keys: tuple[str, ...]
    retry_after: int
    counts: dict[str, int] = field(default_factory=dict)
    """Per key: its count with this attempt."""
    locks: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per key whose lock this attempt set: (that lock's end, the lock's end before)."""

    @property
    def taken(self) -> bool:
        return not self.retry_after


class LoginThrottle:
    """Failed logins per account name and per address, in the store's database."""

    def __init__(
        self,
        engine: sa.Engine,
        policy: ThrottlePolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.policy = policy or ThrottlePolicy()
        self.clock = clock

    def retry_after(self, keys: Sequence[str]) -> int:
        """Whole seconds until every one of `keys` may try again (0: they may now)."""
        now = self.clock()
        with reading(self.engine) as conn:
            latest = conn.execute(
                sa.select(sa.func.max(failures_table.c.locked_until)).where(
                    failures_table.c.key.in_(list(keys))
                )
            ).scalar()
        return max(0, math.ceil((latest or 0.0) - now))

    def take_attempt(self, keys: Sequence[str]) -> Reservation:
        """Count one login attempt against every one of `keys` before its password is
        checked, all or none: none when any of them is locked (the reservation then says
        how long to wait). An attempt that is not given back (`succeeded`) is a failure."""
        now = self.clock()
        keys = sorted(set(keys))  # one order for every transaction: no deadlocks
        counts: dict[str, int] = {}
        locks: dict[str, tuple[float, float]] = {}
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                for key in keys:
                    taken = conn.execute(self._count_attempt(conn, key, now)).first()
                    if taken is None:  # locked: nothing counted for any key
                        wait = self._wait(conn, keys, now)
                        transaction.rollback()
                        return Reservation(keys=(), retry_after=wait)
                    failures, previous_lock = taken
                    counts[key] = failures
                    limit = self._limit(key)
                    if failures >= limit:
                        doubling = min(failures - limit, 30)
                        pause = min(
                            self.policy.max_lockout_seconds,
                            self.policy.lockout_seconds * 2**doubling,
                        )
                        conn.execute(
                            failures_table.update()
                            .where(failures_table.c.key == key)
                            .values(locked_until=now + pause)
                        )
                        locks[key] = (now + pause, previous_lock)
                transaction.commit()
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                raise
        write_if_free(self.engine, lambda conn: self._forget_quiet_counts(conn, now))
        return Reservation(keys=tuple(keys), retry_after=0, counts=counts, locks=locks)

    def record_failure(self, keys: Sequence[str]) -> None:
        """Count one failed login against each key unless one of them is locked."""
        self.take_attempt(keys)

    def succeeded(self, reservation: Reservation) -> None:
        """The reserved attempt signed in: the name's count forgets the failures up to this
        attempt (not those counted while it was checked), the address gets back only this
        attempt; the lock this attempt set is lifted unless a later one set another."""
        if not reservation.taken:
            return
        table = failures_table
        with self.engine.begin() as conn:
            for key in reservation.keys:
                forgiven = reservation.counts[key] if key.startswith("name:") else 1
                values: dict[str, object] = {"failures": table.c.failures - forgiven}
                mine, previous = reservation.locks.get(key, (None, None))
                if mine is not None:
                    values["locked_until"] = sa.case(
                        (table.c.locked_until == mine, previous), else_=table.c.locked_until
                    )
                conn.execute(
                    table.update()
                    .where(table.c.key == key, table.c.failures >= forgiven)
                    .values(**values)
                )
                conn.execute(table.delete().where(table.c.key == key, table.c.failures <= 0))

    def _limit(self, key: str) -> int:
        policy = self.policy
        return policy.name_failures if key.startswith("name:") else policy.address_failures

    def _count_attempt(self, conn: sa.Connection, key: str, now: float) -> sa.Executable:
        """One statement: add an attempt to `key`'s count (a new count after a quiet
        window) unless it is locked, returning (failures, locked_until before it)."""
        table = failures_table
        insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
        quiet = table.c.last_failed_at < now - self.policy.window_seconds
        return (
            insert.values(key=key, failures=1, last_failed_at=now, locked_until=0.0)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "failures": sa.case((quiet, 1), else_=table.c.failures + 1),
                    "last_failed_at": now,
                },
                where=table.c.locked_until <= now,
            )
            .returning(table.c.failures, table.c.locked_until)
        )

    def _wait(self, conn: sa.Connection, keys: Sequence[str], now: float) -> int:
        latest = conn.execute(
            sa.select(sa.func.max(failures_table.c.locked_until)).where(
                failures_table.c.key.in_(list(keys))
            )
        ).scalar()
        return max(1, math.ceil((latest or 0.0) - now))

    def _forget_quiet_counts(self, conn: sa.Connection, now: float) -> None:
        """Counts quiet for longer than the window (and not locked) are deleted, so
        guessing at many names cannot grow the table without bound."""
        conn.execute(
            failures_table.delete().where(
                failures_table.c.last_failed_at < now - self.policy.window_seconds,
                failures_table.c.locked_until < now,
            )
        )

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(failures_table.delete().where(failures_table.c.key == key))
