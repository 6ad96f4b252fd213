"""`EventsourcingSQLiteSource`: an `eventsourcing` SQLite file read through the source port."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Unpack

from webapp.sources.errors import ForeignStoreError
from webapp.sources.eventsourcing import files
from webapp.sources.eventsourcing.checkpoints import Checkpoints
from webapp.sources.eventsourcing.files import Database, open_read_only
from webapp.sources.eventsourcing.library_reads import LibraryReads
from webapp.sources.eventsourcing.log import SCAN_BUDGET, Log
from webapp.sources.eventsourcing.payloads import PayloadDecoder
from webapp.sources.eventsourcing.rows import (
    EPOCH,
    EVENT_ID_NAMESPACE,
    HOUSEKEEPING,
    RowMapper,
    derived_event_id,
    type_name,
)
from webapp.sources.eventsourcing.streams import Streams
from webapp.sources.eventsourcing.tables import Tables, discover, quoted
from webapp.sources.port import Capabilities
from webapp.store.filters import LogFilters
from webapp.store.reader import LogPage
from webapp.store.types import RecordedEvent, StreamInfo

__all__ = [
    "EPOCH",
    "EVENT_ID_NAMESPACE",
    "HOUSEKEEPING",
    "SCAN_BUDGET",
    "EventsourcingSQLiteSource",
    "derived_event_id",
    "open_read_only",
    "type_name",
]


class EventsourcingSQLiteSource(LibraryReads):
    """The stored events, snapshots and tracking of an `eventsourcing` SQLite store.

    Stream id = `originator_id`; stream version = `originator_version`; position = the
    events table's implicit rowid (the library's notification id); type = the topic's
    last segment (the full topic in `metadata["topic"]`). Payloads are decoded by
    `PayloadDecoder`; one that cannot be shows a marker as its data, time = `EPOCH` and
    `metadata["time_unknown"] = True`.

    The file is opened with `immutable=1`: nothing is written beside it and nothing locked,
    so it reads from a read-only folder and a copy stays byte-identical. SQLite then
    assumes the file never changes: do not use it while the library (a writer) is live on
    the file, since the WAL is ignored and pages may be read torn. What it shows is the file
    as it was when closed by its writer; reopen the source to see later writes. A non-empty
    `-wal` file beside it (`wal_pending`) means a writer is live or did not close cleanly:
    commits in that WAL are not shown.

    Costs: reads by position, by stream and the stream listings use the primary-key index
    and the rowid. A filtered global-log read examines at most `SCAN_BUDGET` rows past
    `after` (or before `before`) and may return a short page, even an empty one, before the
    head: continue from `after + SCAN_BUDGET` while below `head_position()`.

    The work is done by `Log`, `Streams` and `Checkpoints`; `SCAN_BUDGET` is read from this
    module at each call and handed to them, so lowering it here takes effect at once.
    """

    dialect = "sqlite"

    def __init__(
        self, path: str | Path, *, cipher_key: str | None = None, compressor: str | None = None
    ) -> None:
        self.path = Path(path)
        rows = RowMapper(PayloadDecoder(cipher_key=cipher_key, compressor=compressor))
        conn = open_read_only(self.path)
        self._db = Database(conn)
        try:
            self.tables: Tables = discover(conn, str(self.path))
        except ForeignStoreError:
            conn.close()
            raise
        events = quoted(self.tables.events)
        self._log = Log(self._db, events, rows)
        self._streams = Streams(self._db, events, rows)
        self._checkpoints = Checkpoints(self._db, self.tables, rows)
        self._capabilities = Capabilities(has_snapshots=self.tables.snapshots is not None)

    @property
    def wal_pending(self) -> bool:
        """A non-empty `-wal` file lies beside the store: its commits are not read here."""
        return files.wal_pending(self.path)

    # --- streams

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams newest-active first: activity = the timestamp of a stream's last event.

        The order is that of each stream's newest rowid (its last commit), which is the
        timestamps' order when one application writes the file. Cost: a walk down the
        rowids from the head (or below the cursor's stream's newest row) keeping each
        stream's newest row, at most `SCAN_BUDGET` rows, no payload read; only a walk that
        ends short of a page groups the table by stream. Then two payload decodes per
        stream listed. A cursor naming no stream is compared by (updated_at, stream_id).
        """
        return self._streams.by_activity(prefix, before, limit, budget=SCAN_BUDGET)

    # --- the global log

    def read_all(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        """Events after `after` by rowid; `types`, `stream_prefix`, `since`, `until` served
        within `SCAN_BUDGET` rows; `correlation_id`, `actor`, `data_equals` refused."""
        return self._log.read(
            "read_all", after, max(0, limit), backward=False, budget=SCAN_BUDGET, filters=filters
        )

    def read_all_backward(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> list[RecordedEvent]:
        bound = self.head_position() + 1 if before is None else before
        return self._log.read(
            "read_all_backward",
            bound,
            max(0, limit),
            backward=True,
            budget=SCAN_BUDGET,
            filters=filters,
        )

    def read_all_page(
        self, after: int = 0, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage:
        """`read_all`, saying where it stopped: `exhausted`, or go on from `resume_after`."""
        return self._log.page(
            "read_all_page",
            int(after),
            max(0, limit),
            backward=False,
            budget=SCAN_BUDGET,
            filters=filters,
            head=self.head_position(),
        )

    def read_all_backward_page(
        self, before: int | None = None, *, limit: int = 1000, **filters: Unpack[LogFilters]
    ) -> LogPage:
        """`read_all_backward`, saying where it stopped: `exhausted`, or go on below
        `resume_before`."""
        head = self.head_position()
        return self._log.page(
            "read_all_backward_page",
            head + 1 if before is None else int(before),
            max(0, limit),
            backward=True,
            budget=SCAN_BUDGET,
            filters=filters,
            head=head,
        )

    def _budget(self) -> int:
        return SCAN_BUDGET

    def wait_for_events(self, after: int, timeout: float) -> int:
        """The head; an immutable file never grows, so this only waits out the timeout."""
        head = self.head_position()
        if head <= after and timeout > 0:
            time.sleep(timeout)
        return head

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"EventsourcingSQLiteSource({str(self.path)!r})"
