"""Waking readers when events are appended: LISTEN/NOTIFY on PostgreSQL.

Each append transaction sends `pg_notify(channel, last_position)`; the notification
is delivered only when that transaction commits. One listener thread per store holds
a dedicated connection, LISTENs on the channel and wakes every waiting thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

CHANNEL_PREFIX = "eventscope_"
MAX_IDENTIFIER = 63
SAFETY_POLL_SECONDS = 1.0


def postgres_channel(database: str, schema: str) -> str:
    """The notification channel of one store (one per database and schema)."""
    raw = f"{CHANNEL_PREFIX}{database}_{schema}"
    name = re.sub(r"[^a-z0-9_]", "_", raw.lower())
    if name != raw.lower() or len(name) > MAX_IDENTIFIER:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
        name = f"{name[: MAX_IDENTIFIER - 13]}_{digest}"
    return name


class PostgresListener:
    """A background LISTEN on the store's channel that waiters block on."""

    def __init__(self, engine: sa.Engine, channel: str, head: Callable[[], int]) -> None:
        self._engine = engine
        self._channel = channel
        self._head = head
        self._cond = threading.Condition()
        self._latest = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"eventscope-listen-{channel}", daemon=True
        )
        self._thread.start()
        self._ready.wait(timeout=10)

    def wait(self, after: int, timeout: float) -> int:
        deadline = time.monotonic() + max(timeout, 0.0)
        head = self._head()
        while head <= after:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with self._cond:
                if self._latest <= after:
                    # a notification wakes us; the poll bounds a lost listener connection
                    self._cond.wait(min(remaining, SAFETY_POLL_SECONDS))
            head = self._head()
        return head

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            conn: Any = None
            try:
                fairy = self._engine.raw_connection()
                conn = fairy.driver_connection
                fairy.detach()  # this connection leaves the pool for good
                conn.rollback()
                conn.autocommit = True
                conn.execute(f'LISTEN "{self._channel}"')
                self._ready.set()
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=0.25):
                        self._seen(note.payload)
            except Exception:  # noqa: BLE001 - reconnect after any connection failure
                self._ready.set()
                if self._stop.wait(0.5):
                    break
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()

    def _seen(self, payload: str) -> None:
        try:
            position = int(payload)
        except ValueError:
            position = 0
        with self._cond:
            if position > self._latest:
                self._latest = position
            self._cond.notify_all()
