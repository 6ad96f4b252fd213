"""Loading aggregates from their streams (with snapshots) and appending their events.

Read path: store -> codec.decode -> upcast -> event class -> apply.
Write path: event -> NewEvent -> codec.encode -> store.append.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.domain.aggregate import Aggregate
from webapp.domain.codec import IdentityCodec, PayloadCodec
from webapp.domain.messages import from_data, schema_version_of, to_data, type_name_of
from webapp.domain.upcasting import DEFAULT_UPCASTERS, UpcasterChain
from webapp.store.types import NO_STREAM, NewEvent, RecordedEvent, Snapshot

log = logging.getLogger(__name__)
_NIL_ID = uuid.UUID(int=0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

READ_PAGE = 5000


@dataclass(frozen=True)
class LoadReport:
    """How an aggregate was loaded: from which snapshot, how many events replayed, how long."""

    stream_id: str
    aggregate_type: str
    version: int
    snapshot_version: int | None
    """Stream version of the snapshot used, or None for a full replay."""
    events_replayed: int
    duration_ms: float
    stale_snapshots: tuple[int, ...] = ()
    """Stream versions of snapshots ignored because their shape version is not current."""

    @property
    def source(self) -> str:
        return "snapshot" if self.snapshot_version is not None else "replay"

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "source": self.source}


@dataclass
class LoadStats:
    from_snapshot: int = 0
    full_replay: int = 0
    events_replayed: int = 0
    stale_snapshots: int = 0
    snapshots_taken: int = 0
    total_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        loads = self.from_snapshot + self.full_replay
        return {
            **dataclasses.asdict(self),
            "loads": loads,
            "mean_ms": self.total_ms / loads if loads else 0.0,
        }


class Repository:
    """Reads and writes aggregates' events through the payload codec and the upcasters."""

    def __init__(
        self,
        store: Any,
        *,
        codec: PayloadCodec | None = None,
        upcasters: UpcasterChain | None = None,
        snapshots: bool = True,
    ) -> None:
        self.store = store
        self.codec: PayloadCodec = codec or IdentityCodec()
        self.upcasters = upcasters or DEFAULT_UPCASTERS
        self.snapshots_enabled = snapshots
        self.stats = LoadStats()
        self._stats_lock = threading.Lock()

    # --- reading events ---------------------------------------------------------

    def decode(self, recorded: RecordedEvent) -> RecordedEvent:
        """The event as the domain sees it: decoded by the codec, then upcast."""
        return self.upcasters.upcast(self.codec.decode(recorded))

    def decode_with_original(self, recorded: RecordedEvent) -> tuple[RecordedEvent, RecordedEvent]:
        """(decoded as stored, decoded and upcast) for showing both forms."""
        decoded = self.codec.decode(recorded)
        return decoded, self.upcasters.upcast(decoded)

    def read_events(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """A stream's events, decoded and upcast, from `from_version` up to `to_version`."""
        out: list[RecordedEvent] = []
        for recorded in self._iter_stream(stream_id, from_version, to_version):
            out.append(self.decode(recorded))
        return out

    def _iter_stream(self, stream_id: str, from_version: int, to_version: int | None):
        for page in self._iter_pages(stream_id, from_version, to_version):
            yield from page

    # --- loading aggregates -----------------------------------------------------

    def load(
        self, aggregate_cls: type[Aggregate], stream_id: str, *, max_version: int | None = None
    ) -> tuple[Aggregate, int, LoadReport]:
        """Rebuild an aggregate at `max_version` (or latest): newest current snapshot + events."""
        started = time.perf_counter()
        aggregate: Aggregate | None = None
        from_version, snap_at, stale = 1, None, []
        if self.snapshots_enabled and aggregate_cls.snapshot_every:
            snapshot, stale = self._current_snapshot(aggregate_cls, stream_id, max_version)
            if snapshot is not None:
                try:
                    aggregate = aggregate_cls.from_snapshot(snapshot.data)
                    snap_at = snapshot.version
                    from_version = snapshot.version + 1
                except Exception:  # noqa: BLE001 - a snapshot we cannot read is just skipped
                    log.warning("snapshot of %s at %s unreadable", stream_id, snapshot.version)
                    stale.append(snapshot.version)
                    aggregate = None
        if aggregate is None:
            aggregate = aggregate_cls()
        version, replayed = self._replay(aggregate, stream_id, from_version, max_version)
        version = version or snap_at or 0
        elapsed = (time.perf_counter() - started) * 1000
        report = LoadReport(
            stream_id=stream_id,
            aggregate_type=aggregate_cls.aggregate_type,
            version=version,
            snapshot_version=snap_at,
            events_replayed=replayed,
            duration_ms=elapsed,
            stale_snapshots=tuple(stale),
        )
        with self._stats_lock:
            if snap_at is not None:
                self.stats.from_snapshot += 1
            else:
                self.stats.full_replay += 1
            self.stats.events_replayed += replayed
            self.stats.stale_snapshots += len(stale)
            self.stats.total_ms += elapsed
        return aggregate, version, report

    def _replay(
        self, aggregate: Aggregate, stream_id: str, from_version: int, max_version: int | None
    ) -> tuple[int, int]:
        """Fold the stream's events from `from_version` into `aggregate`: (last version, count).

        The hot loop of a load. With the store's lean `read_stream_payloads`, a codec that
        is the identity or says which payloads it would change (`needs_decode`), and the
        plain upcaster chain, events are folded from (version, type, schema version, data)
        rows; a page holding a payload to decode is read again in full and folded through
        the codec. The chain is consulted once per event type: only older schema versions
        go through `upcast`.
        """
        codec = self.codec
        identity = type(codec) is IdentityCodec
        needs_decode = None if identity else getattr(codec, "needs_decode", None)
        lean = (
            (identity or needs_decode is not None)
            and type(self.upcasters) is UpcasterChain
            and hasattr(self.store, "read_stream_payloads")
        )
        current: dict[str, int] = {}  # type -> current schema version (0: never upcast)
        version = replayed = 0
        if not lean:
            for page in self._iter_pages(stream_id, from_version, max_version):
                self._fold_recorded(aggregate, page, current)
                if page:
                    version = page[-1].stream_version
                    replayed += len(page)
            return version, replayed
        upcasters = self.upcasters
        apply = aggregate.apply
        read = self.store.read_stream_payloads
        version = from_version - 1
        while True:
            limit = READ_PAGE
            if max_version is not None:
                limit = min(limit, max_version - version)
                if limit <= 0:
                    break
            page = read(stream_id, version + 1, limit=limit)
            if needs_decode is not None and any(needs_decode(row[3]) for row in page):
                full = self.store.read_stream(stream_id, version + 1, limit=len(page))
                self._fold_recorded(aggregate, full, current)
            else:
                for _, type_name, schema_version, data in page:
                    latest = current.get(type_name)
                    if latest is None:
                        latest = current[type_name] = upcasters.current_version(type_name) or 0
                    if schema_version < latest:
                        type_name, data = self._upcast_payload(
                            stream_id, type_name, schema_version, data
                        )
                    apply(from_data(type_name, data))
            if page:
                version = page[-1][0]
                replayed += len(page)
            if len(page) < limit:
                break
        return (version if replayed else 0), replayed

    def _fold_recorded(
        self, aggregate: Aggregate, page: list[RecordedEvent], current: dict[str, int]
    ) -> None:
        """Decode, upcast and apply recorded events (the general path of `_replay`)."""
        upcasters, codec = self.upcasters, self.codec
        decode = None if type(codec) is IdentityCodec else codec.decode
        upcast = upcasters.upcast
        plain_chain = type(upcasters) is UpcasterChain
        apply = aggregate.apply
        for recorded in page:
            ev = recorded if decode is None else decode(recorded)
            if plain_chain:
                latest = current.get(ev.type)
                if latest is None:
                    latest = current[ev.type] = upcasters.current_version(ev.type) or 0
                if ev.schema_version < latest:
                    ev = upcast(ev)
            else:
                ev = upcast(ev)
            apply(from_data(ev.type, ev.data))

    def _upcast_payload(
        self, stream_id: str, type_name: str, schema_version: int, data: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        stand_in = RecordedEvent(
            0, stream_id, 0, _NIL_ID, type_name, schema_version, data, {}, _EPOCH
        )
        upcast = self.upcasters.upcast(stand_in)
        return upcast.type, upcast.data

    def _iter_pages(self, stream_id: str, from_version: int, to_version: int | None):
        version = from_version
        while True:
            limit = READ_PAGE
            if to_version is not None:
                limit = min(limit, to_version - version + 1)
                if limit <= 0:
                    return
            page = self.store.read_stream(stream_id, version, limit=limit)
            yield page
            if len(page) < limit:
                return
            version = page[-1].stream_version + 1

    def _current_snapshot(
        self, aggregate_cls: type[Aggregate], stream_id: str, max_version: int | None
    ) -> tuple[Snapshot | None, list[int]]:
        snapshot = self.store.read_snapshot(stream_id, max_version=max_version)
        if snapshot is None:
            return None, []
        if self._is_current(aggregate_cls, snapshot):
            return snapshot, []
        stale = [snapshot.version]
        for older in sorted(
            self.store.list_snapshots(stream_id), key=lambda s: s.version, reverse=True
        ):
            if max_version is not None and older.version > max_version:
                continue
            if older.version == snapshot.version:
                continue
            if self._is_current(aggregate_cls, older):
                return older, stale
            stale.append(older.version)
        return None, stale

    @staticmethod
    def _is_current(aggregate_cls: type[Aggregate], snapshot: Snapshot) -> bool:
        return (
            snapshot.snapshot_version == aggregate_cls.snapshot_version
            and snapshot.type == aggregate_cls.aggregate_type
        )

    def snapshot_health(
        self, aggregate_cls: type[Aggregate], stream_id: str
    ) -> list[dict[str, Any]]:
        """Each stored snapshot of the stream and whether it is current or stale."""
        return [
            {
                "version": s.version,
                "snapshot_version": s.snapshot_version,
                "type": s.type,
                "taken_at": s.taken_at.isoformat() if s.taken_at else None,
                "current": self._is_current(aggregate_cls, s),
            }
            for s in self.store.list_snapshots(stream_id)
        ]

    # --- writing ----------------------------------------------------------------

    def new_event(
        self, event: Any, metadata: dict[str, Any], event_id: uuid.UUID | None = None
    ) -> NewEvent:
        return NewEvent(
            type=type_name_of(event),
            data=to_data(event),
            metadata=metadata,
            event_id=event_id or uuid.uuid4(),
            schema_version=schema_version_of(event),
        )

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: int,
        *,
        check_ids: bool = False,
    ) -> list[RecordedEvent]:
        """Append through the codec; return the recorded events with the plain (unencoded) data.

        Raises the store's WrongExpectedVersion when the stream moved on. `check_ids`: the
        ids may be stored already (see EventStore.append); then that append is returned.
        """
        encoded = [self.codec.encode(stream_id, ev) for ev in events]
        expected: Any = NO_STREAM if expected_version == 0 else expected_version
        result = self.store.append(
            stream_id, encoded, expected_version=expected, check_ids=check_ids
        )
        return [
            dataclasses.replace(rec, data=plain.data)
            for rec, plain in zip(result.events, events, strict=True)
        ]

    def save_snapshot(self, aggregate: Aggregate, stream_id: str, version: int) -> None:
        self.store.save_snapshot(
            Snapshot(
                stream_id=stream_id,
                version=version,
                snapshot_version=type(aggregate).snapshot_version,
                type=type(aggregate).aggregate_type,
                data=aggregate.to_snapshot(),
            )
        )
        with self._stats_lock:
            self.stats.snapshots_taken += 1

    def maybe_snapshot(
        self, aggregate: Aggregate, stream_id: str, old_version: int, new_version: int
    ) -> bool:
        """Snapshot if the stream crossed a multiple of the aggregate's `snapshot_every`."""
        every = type(aggregate).snapshot_every
        if not self.snapshots_enabled or not every or new_version // every == old_version // every:
            return False
        try:
            self.save_snapshot(aggregate, stream_id, new_version)
        except Exception:  # noqa: BLE001 - a failed snapshot only costs a longer load later
            log.warning("snapshot of %s at %s failed", stream_id, new_version, exc_info=True)
            return False
        return True
