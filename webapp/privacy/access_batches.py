"""Access-log rows written off the request's path: queued in memory, written in batches.

An API read that shows personal data to support or admin must log a "view" entry. Writing
it in the request, in a write transaction of its own, makes every such read queue behind
SQLite's one writer. Instead the request hands the rows to a `BatchWriter`, and one
background thread writes whatever has queued in a single transaction, at most
`FLUSH_SECONDS` after the first of them was queued.

What the audit trail keeps:

- nothing is dropped: when `CAPACITY` rows wait (the database is slow or down), the next
  request waits for room instead; a batch that fails is kept and tried again;
- `flush()` writes every row queued so far before it returns: readers of the access log
  call it first, so a page read right after a view shows that view;
- `close()` (a clean shutdown: `Runtime.close`, a gunicorn worker's exit, interpreter exit)
  writes what is left. Only a killed process (SIGKILL, power loss) can lose the rows of
  its last `FLUSH_SECONDS`.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25
"""The longest a queued row waits before its batch is written (while the database answers)."""
CAPACITY = 10_000
"""Rows that may wait; a request that finds the queue full waits for room."""
RETRY_SECONDS = 1.0

Row = dict[str, Any]


class BatchWriter:
    """Rows queued by any thread, written in order by `write(rows)`, one call per batch."""

    def __init__(
        self,
        write: Callable[[list[Row]], None],
        *,
        flush_seconds: float = FLUSH_SECONDS,
        capacity: int = CAPACITY,
    ) -> None:
        self._write = write
        self.flush_seconds = flush_seconds
        self.capacity = capacity
        self._pending: list[Row] = []
        self._changed = threading.Condition()
        self._writing = threading.Lock()
        """Held while a batch is taken and written, so batches land in the order queued."""
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, rows: list[Row]) -> None:
        """Queue `rows` to be written within `flush_seconds`; waits while the queue is full."""
        with self._changed:
            if self._closed:
                closed = True
            else:
                closed = False
                while len(self._pending) >= self.capacity and not self._closed:
                    self._changed.notify_all()
                    self._changed.wait(0.1)
                idle = not self._pending
                self._pending.extend(rows)
                self._start_thread()
                # wake the writer only where it waits for this: an idle writer for the first
                # row, a waiting one for a half-full queue (each wake-up costs every request)
                if idle or len(self._pending) >= self.capacity // 2:
                    self._changed.notify_all()
        if closed:  # after close (a late request): written at once, never lost
            self._write(rows)

    def pending(self) -> int:
        """Rows queued and not written yet."""
        with self._changed:
            return len(self._pending)

    def flush(self) -> None:
        """Write every row queued before this call, in the caller's thread; raises if the
        database refuses (the rows stay queued)."""
        self._write_pending()

    def close(self) -> None:
        """Stop the background thread and write what is left (later rows are written at once)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self._write_pending()

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=_run, args=(weakref.ref(self),), name="access-log-writer", daemon=True
            )
            self._thread.start()
            atexit.register(_close_at_exit, weakref.ref(self))

    def _wait_for_batch(self, idle_seconds: float = 1.0) -> str:
        """Says "write" once a batch is due, "idle" after `idle_seconds` without rows, "stop" once
        closed with nothing left to write."""
        with self._changed:
            if not self._pending and not self._closed:
                self._changed.wait(idle_seconds)
            if not self._pending:
                return "stop" if self._closed else "idle"
            due = time.monotonic() + self.flush_seconds
            while not self._closed and len(self._pending) < self.capacity // 2:
                left = due - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return "write"

    def _write_pending(self) -> None:
        with self._writing:
            with self._changed:
                batch, self._pending = self._pending, []
                self._changed.notify_all()
            if not batch:
                return
            try:
                self._write(batch)
            except BaseException:
                with self._changed:
                    self._pending[:0] = batch
                raise


def _run(ref: weakref.ref[BatchWriter]) -> None:
    """The background thread: write each batch when due; keep failed batches and retry. It
    holds its writer only while busy, so a writer nobody closed can still be collected."""
    while True:
        writer = ref()
        if writer is None:
            return
        step = writer._wait_for_batch()
        if step == "stop":
            return
        if step == "write":
            try:
                writer._write_pending()
            except Exception:  # noqa: BLE001 - the rows stay queued; try again shortly
                log.exception("access-log batch not written; retrying in %.0f s", RETRY_SECONDS)
                if writer._closed:
                    return
                del writer
                time.sleep(RETRY_SECONDS)
                continue
        del writer


def _close_at_exit(ref: weakref.ref[BatchWriter]) -> None:
    writer = ref()
    if writer is not None:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - at exit there is no one left to raise to
            log.exception("access-log rows could not be written at exit")
