"""The index builder: what readers filter on, kept from the log in position order.

An append writes only the event rows and their (stream_id, stream_version) index entry.
The builder copies each event's filter columns to `event_index` and folds its stream's
version into `streams`, a batch at a time, and moves the mark in `index_progress` in the
same transaction: after a crash (even SIGKILL) the tables hold exactly the events up to
the mark, and the next catch-up goes on from there. Builders in several processes take
turns (SQLite's write lock; a PostgreSQL advisory lock per schema): one is active at a
time and none indexes an event twice.

Readers never depend on the builder for being right: the store answers the part of a
filtered read beyond the mark from the log itself (webapp.store.event_store). The
builder keeps that part small.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger("eventscope.store.indexer")

MARK_NAME = "events"
READ_MARK = f"SELECT position FROM index_progress WHERE name = '{MARK_NAME}'"
SET_MARK = f"UPDATE index_progress SET position = ?, updated_at = ? WHERE name = '{MARK_NAME}'"
INDEX_EVENTS = (
    "INSERT INTO event_index "
    "(position, event_id, type, correlation_id, actor, recorded_at, occurred_at) "
    "SELECT position, event_id, type, correlation_id, actor, recorded_at, occurred_at "
    "FROM events WHERE position > ? AND position <= ? ORDER BY position"
)
# Each stream the batch touches: its newest version and that event's time; a new stream's
# created_at is its first event's time.
INDEX_STREAMS = (
    "INSERT INTO streams (stream_id, version, created_at, updated_at) "
    "SELECT g.stream_id, g.version, COALESCE(f.recorded_at, l.recorded_at), l.recorded_at "
    "FROM (SELECT stream_id, MAX(stream_version) AS version FROM events "
    "WHERE position > ? AND position <= ? GROUP BY stream_id) g "
    "JOIN events l ON l.stream_id = g.stream_id AND l.stream_version = g.version "
    "LEFT JOIN events f ON f.stream_id = g.stream_id AND f.stream_version = 1 "
    "WHERE true "
    "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, "
    "updated_at = excluded.updated_at"
)
CLOCK_BLOCK = 1024
"""Positions per row of `event_clock_blocks` (0-1023, 1024-2047, ...)."""
# The earliest time on each clock of every block the batch touches, from the index rows
# (the first block again whole: part of it was indexed by an earlier batch).
INDEX_CLOCK_BLOCKS = (
    "INSERT INTO event_clock_blocks (block, recorded_min, occurred_min) "
    f"SELECT position / {CLOCK_BLOCK}, MIN(recorded_at), MIN(occurred_at) FROM event_index "
    f"WHERE position >= ? AND position <= ? GROUP BY position / {CLOCK_BLOCK} "
    "ON CONFLICT (block) DO UPDATE SET recorded_min = excluded.recorded_min, "
    "occurred_min = excluded.occurred_min"
)
CLEAR_EVENT_INDEX = "DELETE FROM event_index"
CLEAR_CLOCK_BLOCKS = "DELETE FROM event_clock_blocks"
CLEAR_STREAMS = "DELETE FROM streams"
BATCH = 20_000
"""Events indexed per transaction: a catch-up of a long log commits every BATCH events."""
DELAY = 0.05
"""Seconds the background builder gathers appends before it indexes them."""
IDLE_POLL = 1.0
"""Seconds between looks at the head when no append of this process woke the builder
(other processes' events, a builder killed elsewhere)."""


class BackgroundIndexer:
    """A daemon thread that runs `catch_up` soon after appends (`nudge`) and, once
    `start`ed, also every IDLE_POLL seconds. Restarts itself after a fork."""

    def __init__(self, catch_up: Callable[[bool], int], *, delay: float | None = None) -> None:
        self._catch_up = catch_up
        self._delay = delay
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._polling = False
        self._lock = threading.Lock()

    def nudge(self) -> None:
        """New events: index them within about DELAY seconds."""
        if self._wake.is_set() and self._pid == os.getpid():
            return  # woken already and not yet run: this append is in its round
        self._ensure_running()
        self._wake.set()

    def start(self) -> None:
        """Catch up now (in the thread) and keep watching the head, not only own appends."""
        self._polling = True
        self.nudge()

    def stop(self) -> None:
        """Stop the thread (the caller runs the final catch-up itself)."""
        thread = self._thread
        if thread is None or self._pid != os.getpid():
            return
        self._stopping.set()
        self._wake.set()
        thread.join()
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()

    def _ensure_running(self) -> None:
        if self.running:
            return
        with self._lock:
            if self.running or self._stopping.is_set():
                return
            self._pid = os.getpid()
            self._wake = threading.Event()
            self._thread = threading.Thread(
                target=self._run, name="eventscope-index-builder", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            woken = self._wake.wait(IDLE_POLL if self._polling else None)
            if self._stopping.is_set():
                return
            if woken:
                self._stopping.wait(DELAY if self._delay is None else self._delay)  # gather
                self._wake.clear()
            try:
                self._catch_up(False)
            except Exception:  # a busy or unreachable database: try again on the next wake
                log.warning("index builder: catch-up failed; retrying later", exc_info=True)
                self._stopping.wait(IDLE_POLL)
