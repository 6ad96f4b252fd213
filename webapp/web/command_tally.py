"""Commands counted per minute and outcome, for the health page's chart.

The Prometheus counters of webapp.web.metrics belong to one server process and start
again at zero with it; the health page shows the last hour of the whole deployment.
So every dispatch is also counted in memory under (minute, outcome), and the counts
reach `web_command_tally` (Alembic revision web_0007_command_tally) a moment later in
one additive upsert, made by a timer thread so that no request waits for it. Every
server process adds to the same rows. Minutes older than a day are deleted on the way.
Counts not yet written when a process dies are lost: the chart shows the load, it is not
an audit (the events are).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa

from webapp.database import reading, write_if_free
from webapp.database.upserts import upsert

log = logging.getLogger(__name__)

OUTCOMES = ("accepted", "refused", "failed")
"""accepted: events appended (or none needed); refused: the command was invalid, a
conflict or against a business rule (a 4xx); failed: an error of eventscope's (a 5xx)."""
_OUTCOME_OF_LABEL = {
    "ok": "accepted",
    "invalid": "refused",
    "conflict": "refused",
    "rejected": "refused",
}

KEPT_MINUTES = 24 * 60
FLUSH_AFTER_SECONDS = 2.0

_metadata = sa.MetaData()
tally_table = sa.Table(
    "web_command_tally",
    _metadata,
    sa.Column("minute", sa.Integer, primary_key=True),  # unix time // 60
    sa.Column("outcome", sa.String(16), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)


def outcome_of(label: str) -> str:
    """The tally's outcome for a metrics outcome label (webapp.web.metrics.COMMAND_OUTCOMES)."""
    return _OUTCOME_OF_LABEL.get(label, "failed")


class CommandTally:
    """Counts of dispatched commands per minute and outcome, shared through the database."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        flush_after: float = FLUSH_AFTER_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.flush_after = flush_after
        self.clock = clock
        self._pending: Counter[tuple[int, str]] = Counter()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def count(self, label: str) -> None:
        """Count one dispatch by its metrics outcome label; written within `flush_after`."""
        key = (int(self.clock() // 60), outcome_of(label))
        with self._lock:
            self._pending[key] += 1
            if self._timer is None:
                self._timer = threading.Timer(self.flush_after, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()

    def _flush_from_timer(self) -> None:
        with self._lock:
            self._timer = None
        try:
            written = self.flush()
        except Exception as exc:  # noqa: BLE001 - a timer thread has no caller to raise to
            # the counts stay pending; the next command's timer tries again
            log.warning("could not write the command tally: %s", type(exc).__name__)
            return
        if not written:  # another writer held the database: try again shortly
            with self._lock:
                if self._timer is None and self._pending:
                    self._timer = threading.Timer(self.flush_after, self._flush_from_timer)
                    self._timer.daemon = True
                    self._timer.start()

    def flush(self) -> bool:
        """Add the pending counts to the table now; False (counts kept) if the database was
        busy with another writer."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return True
        rows = [{"minute": m, "outcome": o, "count": n} for (m, o), n in sorted(pending.items())]
        oldest = int(self.clock() // 60) - KEPT_MINUTES

        def write(conn: sa.Connection) -> None:
            upsert(conn, tally_table, rows, ["minute", "outcome"], add=["count"])
            conn.execute(tally_table.delete().where(tally_table.c.minute < oldest))

        written = False
        try:
            written = write_if_free(self.engine, write)
        finally:
            if not written:
                with self._lock:
                    self._pending.update(pending)
        return written

    def per_minute(self, since: float) -> dict[int, dict[str, int]]:
        """{unix time of a minute's start: {outcome: count}} for the minutes since `since`,
        this process's pending counts included."""
        self.flush()
        with reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(tally_table).where(tally_table.c.minute >= int(since // 60))
            ).all()
        with self._lock:
            pending = dict(self._pending)  # left over when the database was busy
        out: dict[int, dict[str, int]] = {}
        for minute, outcome, count in rows:
            out.setdefault(int(minute) * 60, {})[outcome] = int(count)
        for (minute, outcome), count in pending.items():
            if minute >= int(since // 60):
                slot = out.setdefault(minute * 60, {})
                slot[outcome] = slot.get(outcome, 0) + count
        return out
