"""Writers of one SQLite file take turns on a lock of their own, not in SQLite's busy handler.

SQLite lets one transaction write at a time. A writer that finds the file locked waits
in SQLite's busy handler, which sleeps in growing steps (1, 2, 5 ... 100 ms) and tries
again; it is not told when the lock is free. Under load (two server processes appending,
the index builder, the projections, the access-log writer) those sleeps make the tail of
command latency, however short each transaction is.

So every eventscope write transaction on a SQLite file first takes an exclusive `flock`
on a lock file beside it (`<file>-writers`, mode 0600), and gives it back after its
COMMIT or ROLLBACK. Each connection opens the lock file itself, so threads and processes
queue alike. A waiting writer looks again within 2 ms (`flock` cannot wait with a
timeout) and gives up after SQLite's own busy timeout, with the error SQLite gives. A
process that dies gives its turn back with its descriptors. A writer that is not
eventscope (the sqlite3 shell) still meets SQLite's busy timeout, as before.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from pathlib import Path

from webapp.database.files import create_private_file

LOCK_SUFFIX = "-writers"
FIRST_PAUSE = 0.0002
LONGEST_PAUSE = 0.002
"""A waiting writer looks again after 0.2 ms, then twice as late each time, at most 2 ms
later: SQLite's busy handler waits up to 100 ms between looks."""


def lock_path(database: str) -> Path:
    """The lock file of the SQLite file at `database` (an absolute path)."""
    return Path(database + LOCK_SUFFIX)


class WriterTurn:
    """One connection's handle on its file's write turn (not shared between connections)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._fd: int | None = None
        self._opened = False
        self.held = False

    def _descriptor(self) -> int | None:
        """The lock file, opened on the first write (a connection that only reads, as the
        explorer's, leaves nothing beside the file). None where it cannot be made: the
        writer then meets SQLite's busy timeout alone."""
        if not self._opened:
            self._opened = True
            path = lock_path(self.database)
            try:
                create_private_file(path)
                self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except OSError:
                self._fd = None
        return self._fd

    def take(self, seconds: float) -> None:
        """Wait up to `seconds` for this file's write turn; then fail as SQLite does when
        its busy timeout runs out ("database is locked": the store is unavailable)."""
        if not self.take_within(seconds):
            msg = f"database is locked (no write turn within {seconds:g} s)"
            raise sqlite3.OperationalError(msg)

    def take_within(self, seconds: float) -> bool:
        """Take the turn if it comes within `seconds`; False (not taken) otherwise."""
        fd = self._descriptor()
        if fd is None or self.held:
            return True
        deadline = time.monotonic() + seconds
        pause = FIRST_PAUSE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                time.sleep(min(pause, left))
                pause = min(pause * 2, LONGEST_PAUSE)
            else:
                self.held = True
                return True

    def give_back(self) -> None:
        if self.held and self._fd is not None:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        self.held = False
        if fd is not None:
            os.close(fd)
