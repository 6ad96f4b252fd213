"""The aggregate registry: aggregates stay in memory after use, as Commanded keeps processes.

Each live aggregate has a deadline set by its lifespan (None = keep forever).
A reaper thread evicts expired aggregates without waiting for a request, and a
hard cap (least recently used first) protects the process even from a lifespan
that keeps everything. The registry also samples its size and memory over time
for the dashboard's chart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp.domain.aggregate import Aggregate
from webapp.domain.lifespan import INFINITY, STOP, Timeout
from webapp.domain.repository import LoadReport, Repository
from webapp.domain.snapshots import approx_size

log = logging.getLogger(__name__)


@dataclass(eq=False)
class LiveAggregate:
    """An aggregate held in memory, with its stream version and lifespan bookkeeping."""

    stream_id: str
    aggregate: Aggregate
    version: int
    load_report: LoadReport | None = None
    last_used: float = field(default_factory=time.time)
    deadline: float | None = None
    memory: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    evicted: bool = False

    @property
    def aggregate_type(self) -> str:
        return self.aggregate.aggregate_type


@dataclass(frozen=True)
class LiveInfo:
    stream_id: str
    aggregate_type: str
    version: int
    last_used: datetime
    deadline: datetime | None
    memory: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "aggregate_type": self.aggregate_type,
            "version": self.version,
            "last_used": self.last_used.isoformat(),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "memory": self.memory,
        }


@dataclass
class RegistryStats:
    hits: int = 0
    loads: int = 0
    evictions: int = 0
    expired: int = 0
    stopped: int = 0
    capped: int = 0
    size: int = 0
    memory: int = 0
    max_live: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class AggregateRegistry:
    """Live aggregates by stream id, with lifespans, a reaper and an LRU cap."""

    def __init__(
        self,
        repository: Repository,
        *,
        max_live: int = 10_000,
        reap_interval: float = 1.0,
        history_size: int = 720,
        clock: Callable[[], float] = time.time,
        track_memory: bool = True,
    ) -> None:
        if max_live < 1:
            msg = f"max_live must be at least 1, not {max_live}"
            raise ValueError(msg)
        self.repository = repository
        self.max_live = max_live
        self.reap_interval = reap_interval
        self.clock = clock
        self.track_memory = track_memory
        self._live: OrderedDict[str, LiveAggregate] = OrderedDict()
        self._lock = threading.Lock()
        self._stats = RegistryStats(max_live=max_live)
        self._history: deque[tuple[float, int, int]] = deque(maxlen=history_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_hooks: list[Callable[[], object]] = []

    # --- using aggregates -------------------------------------------------------

    def get(self, aggregate_cls: type[Aggregate], stream_id: str) -> LiveAggregate:
        """The live aggregate of `stream_id`, loaded from the store if it is not in memory."""
        with self._lock:
            entry = self._live.get(stream_id)
            if entry is not None and isinstance(entry.aggregate, aggregate_cls):
                self._live.move_to_end(stream_id)
                self._stats.hits += 1
                return entry
        aggregate, version, report = self.repository.load(aggregate_cls, stream_id)
        fresh = LiveAggregate(
            stream_id, aggregate, version, load_report=report, last_used=self.clock()
        )
        if self.track_memory:
            fresh.memory = approx_size(aggregate.state())
        with self._lock:
            entry = self._live.get(stream_id)
            if entry is not None and isinstance(entry.aggregate, aggregate_cls):
                self._stats.hits += 1  # another thread loaded it meanwhile
                self._live.move_to_end(stream_id)
                return entry
            self._stats.loads += 1
            self._live[stream_id] = fresh
            self._stats.memory += fresh.memory
            self._enforce_cap()
        return fresh

    def peek(self, stream_id: str) -> LiveAggregate | None:
        """The live aggregate if it is in memory; never loads and counts no hit."""
        with self._lock:
            return self._live.get(stream_id)

    def touched(self, entry: LiveAggregate, timeout: Timeout) -> None:
        """Record a use of `entry` and apply the lifespan's decision."""
        now = self.clock()
        entry.last_used = now
        if timeout is STOP:
            self._remove(entry, reason="stopped")
            return
        if timeout is INFINITY:
            entry.deadline = None
        elif isinstance(timeout, timedelta):
            entry.deadline = now + timeout.total_seconds()
        if self.track_memory:
            new_memory = approx_size(entry.aggregate.state())
            with self._lock:
                if not entry.evicted:
                    self._stats.memory += new_memory - entry.memory
                entry.memory = new_memory

    def replaced(self, entry: LiveAggregate) -> None:
        """Forget `entry` so the next `get` reloads it (after a concurrency conflict)."""
        self._remove(entry, reason=None)

    # --- eviction ---------------------------------------------------------------

    def _remove(self, entry: LiveAggregate, reason: str | None) -> bool:
        with self._lock:
            if self._live.get(entry.stream_id) is not entry:
                entry.evicted = True
                return False
            del self._live[entry.stream_id]
            entry.evicted = True
            self._stats.memory -= entry.memory
            if reason is not None:
                self._stats.evictions += 1
                if reason == "stopped":
                    self._stats.stopped += 1
                elif reason == "expired":
                    self._stats.expired += 1
                elif reason == "capped":
                    self._stats.capped += 1
            return True

    def _enforce_cap(self) -> None:
        # caller holds self._lock
        while len(self._live) > self.max_live:
            _, oldest = self._live.popitem(last=False)
            oldest.evicted = True
            self._stats.memory -= oldest.memory
            self._stats.evictions += 1
            self._stats.capped += 1

    def evict(self, stream_id: str) -> bool:
        """Drop one aggregate from memory (it reloads on next use)."""
        entry = self.peek(stream_id)
        return entry is not None and self._remove(entry, reason="evicted")

    def evict_where(self, predicate: Callable[[LiveAggregate], bool]) -> int:
        """Drop every live aggregate for which `predicate(entry)` is true; return how many."""
        with self._lock:
            chosen = [e for e in self._live.values() if predicate(e)]
        return sum(1 for e in chosen if self._remove(e, reason="evicted"))

    def evict_subject(self, subject_id: str) -> int:
        """Drop every live aggregate holding data of `subject_id` (after it was forgotten)."""
        return self.evict_where(lambda e: subject_id in e.aggregate.subject_ids())

    def clear(self) -> int:
        return self.evict_where(lambda _e: True)

    def live_subject_ids(self) -> set[str]:
        """Every data subject whose personal data some live aggregate holds."""
        with self._lock:
            entries = list(self._live.values())
        return {s for e in entries for s in e.aggregate.subject_ids()}

    def reap(self) -> int:
        """Evict every aggregate whose deadline has passed (skipping ones busy with a command)."""
        now = self.clock()
        with self._lock:
            expired = [
                e for e in self._live.values() if e.deadline is not None and e.deadline <= now
            ]
        count = 0
        for entry in expired:
            if not entry.lock.acquire(blocking=False):
                continue
            try:
                if entry.deadline is not None and entry.deadline <= self.clock():
                    count += self._remove(entry, reason="expired")
            finally:
                entry.lock.release()
        return count

    # --- the reaper thread ------------------------------------------------------

    def start(self) -> None:
        """Start the background reaper (also samples size and memory for the history)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="aggregate-reaper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def add_tick_hook(self, hook: Callable[[], object]) -> None:
        """Run `hook` on the reaper thread after every reap (it holds no aggregate's lock)."""
        self._tick_hooks.append(hook)

    def _run(self) -> None:
        while not self._stop.wait(self.reap_interval):
            try:
                self.reap()
                self.sample()
                for hook in self._tick_hooks:
                    hook()
            except Exception:  # noqa: BLE001 - the reaper must outlive a bad tick
                log.exception("aggregate reaper tick failed")

    # --- reporting --------------------------------------------------------------

    def sample(self) -> tuple[float, int, int]:
        with self._lock:
            point = (self.clock(), len(self._live), self._stats.memory)
        self._history.append(point)
        return point

    def history(self) -> list[dict[str, Any]]:
        """Recent (time, live aggregates, approximate bytes) samples, oldest first."""
        return [{"time": _ts(t).isoformat(), "size": n, "memory": m} for t, n, m in self._history]

    def live(self, limit: int | None = None) -> list[LiveInfo]:
        """What is in memory, most recently used first."""
        with self._lock:
            entries = list(reversed(self._live.values()))
        if limit is not None:
            entries = entries[:limit]
        return [
            LiveInfo(
                stream_id=e.stream_id,
                aggregate_type=e.aggregate_type,
                version=e.version,
                last_used=_ts(e.last_used),
                deadline=_ts(e.deadline) if e.deadline is not None else None,
                memory=e.memory,
            )
            for e in entries
        ]

    def stats(self) -> RegistryStats:
        with self._lock:
            snapshot = RegistryStats(**self._stats.__dict__)
            snapshot.size = len(self._live)
        return snapshot

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, stream_id: object) -> bool:
        return stream_id in self._live
