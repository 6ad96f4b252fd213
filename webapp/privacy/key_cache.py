"""What a process remembers of the key store, and how a forget in another process clears it.

Key records are kept for `seconds` (at most `size` of them), together with the stream
links and lookups this process has already written. Every forget (and re-registration)
also writes a fresh random "forget mark" in its own transaction. The cache compares the
mark with the one it last saw at most once per `check_seconds` while it is used, and drops
everything when it changed: a forget run by another process stops this one from decrypting
within about a second, not at the end of the cache lifetime.

Whatever a process keeps that was decoded with these keys (pages of events shown again)
reads `generation` before decoding and is told of every drop (`when_dropped`): one
generation holds no forget.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from webapp.database import reading
from webapp.privacy.tables import insert_for, meta

if TYPE_CHECKING:
    from webapp.privacy.keystore import SubjectKey

FORGET_MARK = "forget_mark"

Link = tuple[str, str]
"""(subject id, stream id)"""
Lookup = tuple[str, str]
"""(blind-index HMAC, subject id)"""


class KeyCache:
    """Subject key records for a bounded time, and the links and lookups already written."""

    def __init__(
        self,
        engine: Engine,
        *,
        seconds: float = 60.0,
        size: int = 10_000,
        check_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self.seconds = seconds
        self.size = size
        self.check_seconds = check_seconds
        self._records: dict[str, tuple[SubjectKey, float]] = {}
        self._links: set[Link] = set()
        self._lookups: set[Lookup] = set()
        self._lock = threading.Lock()
        self._mark = read_forget_mark(engine)
        self.checked_at = time.monotonic()
        """When the forget mark was last compared (see `changed_elsewhere`)."""
        self.changes_seen = 0
        """How many times a new forget mark was found."""
        self.generation = 0
        """Bumped by every drop: what was decoded under one generation saw no forget since."""
        self._listeners: list[Callable[[], None]] = []

    def when_dropped(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every drop (of one subject or all), on the dropping thread."""
        self._listeners.append(listener)

    def current_generation(self) -> int:
        """`generation`, once a forget committed elsewhere is due to be looked for has been."""
        self._look_elsewhere_if_due(time.monotonic())
        return self.generation

    def get(self, subject_id: str) -> SubjectKey | None:
        """The cached record, unless it expired or a forget elsewhere dropped it."""
        now = time.monotonic()
        self._look_elsewhere_if_due(now)
        entry = self._records.get(subject_id)  # one dict read: no lock needed to look
        if entry is None:
            return None
        if entry[1] < now:
            with self._lock:
                if self._records.get(subject_id) is entry:
                    del self._records[subject_id]
            return None
        return entry[0]

    def put(self, record: SubjectKey) -> None:
        with self._lock:
            if len(self._records) >= self.size:
                now = time.monotonic()
                for sid in [s for s, (_, exp) in self._records.items() if exp < now]:
                    del self._records[sid]
                if len(self._records) >= self.size:
                    self._records.pop(next(iter(self._records)))
            self._records[record.subject_id] = (record, time.monotonic() + self.seconds)

    def unwritten(
        self, subject_id: str, stream_ids: Iterable[str], hmacs: Iterable[str]
    ) -> tuple[set[Link], set[Lookup]]:
        """The links and lookups of the subject this process has not written yet."""
        links, lookups = self._links, self._lookups
        return (
            {(subject_id, s) for s in stream_ids if (subject_id, s) not in links},
            {(h, subject_id) for h in hmacs if (h, subject_id) not in lookups},
        )

    def written(self, links: set[Link], lookups: set[Lookup]) -> None:
        with self._lock:
            self._links |= links
            self._lookups |= lookups

    def drop(self, subject_id: str | None = None) -> None:
        """Forget what is remembered of a subject (or of every subject)."""
        with self._lock:
            self.generation += 1
            if subject_id is None:
                self._records.clear()
                self._links.clear()
                self._lookups.clear()
            else:
                self._records.pop(subject_id, None)
                self._links = {x for x in self._links if x[0] != subject_id}
                self._lookups = {x for x in self._lookups if x[1] != subject_id}
        for listener in self._listeners:
            listener()

    def _look_elsewhere_if_due(self, now: float) -> None:
        """Compare the forget mark if the last look is `check_seconds` old."""
        if now - self.checked_at >= self.check_seconds:
            self.changed_elsewhere()

    def changed_elsewhere(self) -> bool:
        """True (and everything dropped) if a forget was committed since the last check."""
        self.checked_at = time.monotonic()
        mark = read_forget_mark(self.engine)
        if mark == self._mark:
            return False
        self._mark = mark
        self.changes_seen += 1
        self.drop()
        return True


def read_forget_mark(engine: Engine) -> bytes | None:
    with reading(engine) as conn:
        return conn.execute(
            sa.select(meta.c.value).where(meta.c.name == FORGET_MARK)
        ).scalar_one_or_none()


def write_forget_mark(conn: Connection) -> None:
    """A new random mark, in the forget's own transaction. The cache keeps the old one, so
    its next check also catches a forget committed just before this one."""
    insert = insert_for(conn)
    mark = os.urandom(16)
    conn.execute(
        insert(meta)
        .values(name=FORGET_MARK, value=mark)
        .on_conflict_do_update(index_elements=["name"], set_={"value": mark})
    )
