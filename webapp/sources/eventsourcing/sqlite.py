"""`EventsourcingSQLiteSource`: an `eventsourcing` SQLite file read through the source port."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Unpack

from webapp.sources.errors import ForeignStoreError
from webapp.sources.eventsourcing import files
from webapp.sources.eventsourcing.checkpoints import Checkpoints
from webapp.sources.eventsourcing.files import Database, open_read_only
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
from webapp.sources.port import Capabilities, Subscription
from webapp.store.filters import LogFilters
from webapp.store.reader import LogPage
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo

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


class EventsourcingSQLiteSource:
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
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def wal_pending(self) -> bool:
        """A non-empty `-wal` file lies beside the store: its commits are not read here."""
        return files.wal_pending(self.path)

    # --- streams

    def list_streams(
        self, prefix: str = "", *, after: str | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams by id over the primary-key index; two payload decodes per stream listed."""
        return self._streams.by_id(prefix, after, limit)

    def list_streams_by_activity(
        self, *, prefix: str = "", before: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[StreamInfo]:
        """Streams newest-active first: activity = the timestamp of a stream's last event.

        The order is that of each stream's newest rowid (its last commit), which is the
        timestamps' order when one application writes the file. Cost: one pass over the
        primary-key index grouping every event by stream (O(events), no payload read),
        then two payload decodes per stream listed. The cursor's stream is found by id and
        the page continues below its newest rowid; a cursor naming no stream is compared by
        (updated_at, stream_id), decoding up to `SCAN_BUDGET` streams to fill the page.
        """
        return self._streams.by_activity(prefix, before, limit, budget=SCAN_BUDGET)

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        return self._streams.info(stream_id)

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = 1,
        *,
        limit: int | None = None,
        backward: bool = False,
    ) -> list[RecordedEvent]:
        return self._streams.read(stream_id, from_version, limit, backward)

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

    def get_event(self, position: int) -> RecordedEvent | None:
        return self._log.at(position)

    def get_event_by_id(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        """The event whose derived id this is: a scan of the primary-key index (no payload
        read) over at most `SCAN_BUDGET` events."""
        return self._log.by_id(event_id, budget=SCAN_BUDGET)

    def read_correlated(self, correlation_id: str, *, limit: int) -> list[RecordedEvent]:
        msg = "an eventsourcing store records no correlation ids"
        raise ValueError(msg)

    # --- counts and the head

    def head_position(self) -> int:
        return self._log.head()

    def count_events(self) -> int:
        return self._log.count()

    def count_streams(self) -> int:
        return self._streams.count()

    def count_by_type(self, type_names: Sequence[str]) -> dict[str, int]:
        """Events of each type: one scan of the table grouping by topic (no payload read)."""
        return self._log.count_by_type(type_names)

    def wait_for_events(self, after: int, timeout: float) -> int:
        """The head; an immutable file never grows, so this only waits out the timeout."""
        head = self.head_position()
        if head <= after and timeout > 0:
            time.sleep(timeout)
        return head

    # --- snapshots and checkpoints

    def read_snapshot(self, stream_id: str, *, max_version: int | None = None) -> Snapshot | None:
        return self._checkpoints.latest(stream_id, max_version)

    def list_snapshots(self, stream_id: str) -> list[Snapshot]:
        return self._checkpoints.all_of(stream_id)

    def read_latest_snapshots(self, stream_ids: Sequence[str]) -> dict[str, Snapshot]:
        return self._checkpoints.latest_of_each(stream_ids)

    def subscriptions(self) -> list[Subscription]:
        """Each application's tracked notification id (the library's own `__` rows left out)."""
        return self._checkpoints.subscriptions(self.head_position)

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"EventsourcingSQLiteSource({str(self.path)!r})"
