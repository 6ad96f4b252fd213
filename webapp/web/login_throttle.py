"""Slowing down password guessing: failed logins counted per account name and per address.

After `name_failures` failed logins for one account name (or `address_failures` from
one client address), each within `window_seconds` of the one before, that name
(address) is locked: the login form answers 429 without checking any password, for
`lockout_seconds`, doubling with every further failure up to `max_lockout_seconds`.
The count starts again only after `window_seconds` without a failure, so a patient
guesser stays at the longest lock. A successful login clears its name's count.
The counts live in the store (table `web_login_failures`, Alembic branch "web"),
so every server process of a deployment shares them.

A lock on a name also holds off its rightful owner for a while: the lock is short and
a one-time login link (`eventscope login-link NAME`) still works.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.database import reading

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

    def record_failure(self, keys: Sequence[str]) -> None:
        """Count one failed login against each key, locking those over their limit.

        Counts quiet for longer than the window (and not locked) are deleted on the way,
        so guessing at many names cannot grow the table without bound."""
        now = self.clock()
        policy = self.policy
        with self.engine.begin() as conn:
            conn.execute(
                failures_table.delete().where(
                    failures_table.c.last_failed_at < now - policy.window_seconds,
                    failures_table.c.locked_until < now,
                )
            )
            rows = {
                r.key: r
                for r in conn.execute(
                    sa.select(failures_table).where(failures_table.c.key.in_(list(keys)))
                )
            }
            for key in keys:
                row = rows.get(key)
                if row is None or now - row.last_failed_at > policy.window_seconds:
                    failures = 1
                else:
                    failures = row.failures + 1
                limit = policy.name_failures if key.startswith("name:") else policy.address_failures
                locked_until = 0.0
                if failures >= limit:
                    doubling = min(failures - limit, 30)
                    pause = min(policy.max_lockout_seconds, policy.lockout_seconds * 2**doubling)
                    locked_until = now + pause
                values = {
                    "failures": failures,
                    "last_failed_at": now,
                    "locked_until": locked_until,
                }
                if row is None:
                    conn.execute(failures_table.insert().values(key=key, **values))
                else:
                    conn.execute(
                        failures_table.update().where(failures_table.c.key == key).values(**values)
                    )

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(failures_table.delete().where(failures_table.c.key == key))
