"""Read models as they stood at a position of the log, computed from the log itself.

    reader.query(projection, 1234, fn)     # fn(conn, tables) on the model as of position 1234

The model at position P is a scratch generation (webapp.projections.copies): the rows of
the nearest milestone at or before P, if any, then the projection's own handlers over the
events after it up to P, never a guess from the live rows; at a kept milestone's position
exactly, the milestone itself. A scratch generation serves the reads of the same
(projection, position) for `ttl_seconds` in each process that uses it, and stays in the
database `grace_seconds` longer (a read begun just before the end finishes), then anyone
may drop it. Requests for one moment that arrive together build it once: in a process, a
lock per key; across processes, the copy's claim (`milestones.build_once`): the others
wait for the builder, or take over if it died. Every process sweeps the expired copies of
every process (leftovers of a stopped one included) when its reader starts and at most
every `ttl_seconds` after, in a thread of its own (no read waits for the drops).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

from webapp.projections import copies
from webapp.projections.copies import SCRATCH, Copy
from webapp.projections.generations import TableSet
from webapp.projections.milestones import MilestoneKeeper, build_once
from webapp.projections.projection import Tables

log = logging.getLogger(__name__)

T = TypeVar("T")

SCRATCH_TTL_SECONDS = 30.0
GRACE_SECONDS = 60.0
"""How long past its time in every process that uses it a scratch generation stays in the
database, so a read begun just before the end is not cut short by another's sweep."""
WAIT_SECONDS = 120.0
"""How long a request waits for another process building the same moment (then an error)."""


@dataclass
class _Scratch:
    copy: Copy
    usable_until: float
    readers: int = 0


class AsOfReader:
    """Builds, caches and drops the scratch generations of one process."""

    def __init__(
        self,
        engine: sa.Engine,
        keepers: dict[str, MilestoneKeeper],
        *,
        ttl_seconds: float = SCRATCH_TTL_SECONDS,
    ) -> None:
        self.engine = engine
        self.keepers = keepers
        self.ttl_seconds = ttl_seconds
        self.grace_seconds = GRACE_SECONDS
        self.wait_seconds = WAIT_SECONDS
        self.lease_seconds = copies.BUILD_LEASE_SECONDS
        self.owner = f"as-of-{uuid.uuid4().hex[:12]}"
        self.builds = 0
        """Scratch generations built by this reader (tests count them)."""
        self.adopted = 0
        """Scratch generations another process built that this reader used."""
        self._lock = threading.Lock()
        self._building: dict[tuple[str, int, int], threading.Lock] = {}
        self._cache: dict[tuple[str, int, int], _Scratch] = {}
        self._swept_at = 0.0
        self._sweeper: threading.Thread | None = None

    def query(self, name: str, position: int, fn: Callable[[sa.Connection, Tables], T]) -> T:
        """Run `fn(conn, tables)` on projection `name`'s model as of `position`."""
        keeper = self.keepers[name]
        for attempt in (1, 2):
            try:
                scratch = self._acquire(keeper, position)
            except sa.exc.DBAPIError:  # its tables dropped mid-build (a forget): build again
                if attempt == 2:
                    raise
                continue
            try:
                with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
                    return fn(conn, keeper.tables.tables(scratch.copy.generation))
            except sa.exc.DBAPIError:  # dropped under us (a sweep elsewhere): build it again
                if attempt == 2:
                    raise
                self._discard(keeper.tables, scratch)
            finally:
                with self._lock:
                    scratch.readers -= 1
                self._sweep_in_background()
        msg = "unreachable"
        raise AssertionError(msg)

    def _acquire(self, keeper: MilestoneKeeper, position: int) -> _Scratch:
        key = (keeper.projection.name, position, keeper.projection.version)
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                scratch = self._cache.get(key)
            if (
                scratch is not None
                and scratch.usable_until > time.monotonic()
                and copies.is_ready(self.engine, scratch.copy)  # not dropped by a forget
            ):
                with self._lock:
                    scratch.readers += 1
                return scratch
            built = self._build(keeper, position)
            with self._lock:
                old = self._cache.get(key)
                self._cache[key] = built
                built.readers += 1
            if old is not None and old.readers == 0 and old.copy.id != built.copy.id:
                self._drop_if_done(keeper.tables, old.copy)
            return built

    def _build(self, keeper: MilestoneKeeper, position: int) -> _Scratch:
        usable_until = time.monotonic() + self.ttl_seconds
        base = keeper.nearest(position)
        if base is not None and base.position == position:  # read the milestone itself
            return _Scratch(base, usable_until)
        scratch, built = build_once(
            keeper,
            kind=SCRATCH,
            position=position,
            owner=self.owner,
            keep_for=self.ttl_seconds + self.grace_seconds,
            wait_seconds=self.wait_seconds,
            lease_seconds=self.lease_seconds,
        )
        if built:
            self.builds += 1
        else:
            self.adopted += 1
        return _Scratch(scratch, usable_until)

    def _drop_if_done(self, tables: TableSet, copy: Copy) -> bool:
        """Drop a scratch generation this process is done with, unless another process
        has kept it for longer since (its expiry is later than the one this one set)."""
        if copy.kind != SCRATCH or copy.expires_at is None:
            return False  # a milestone: kept until pruned
        return copies.drop_copy(self.engine, tables, copy, expired_before=copy.expires_at + 1e-3)

    def _discard(self, tables: TableSet, scratch: _Scratch) -> None:
        with self._lock:
            key = (scratch.copy.name, scratch.copy.position, scratch.copy.model_version)
            if self._cache.get(key) is scratch:
                del self._cache[key]
        tables.forget(scratch.copy.generation)

    def forget_projection(self, name: str) -> None:
        """Stop serving the cached scratch generations of projection `name` (their tables
        are being dropped): the next read of it builds anew."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == name]:
                del self._cache[key]

    def _sweep_in_background(self) -> None:
        """Sweep in a thread of its own when one is due, so no read waits for the drops."""
        now = time.monotonic()
        with self._lock:
            due = now - self._swept_at >= self.ttl_seconds or any(
                s.usable_until <= now and s.readers == 0 for s in self._cache.values()
            )
            if not due or self._sweeper is not None:
                return
            self._sweeper = threading.Thread(
                target=self._sweep_then_rest, name="as-of-sweep", daemon=True
            )
        self._sweeper.start()

    def _sweep_then_rest(self) -> None:
        try:
            self._sweep_quietly()
        finally:
            with self._lock:
                self._sweeper = None

    def _sweep_quietly(self) -> None:
        try:
            self.sweep()
        except sa.exc.DBAPIError as exc:  # a later sweep drops what this one could not
            log.warning("could not sweep scratch generations: %s", exc)

    def sweep(self, *, force: bool = False) -> int:
        """Stop serving this process's scratch generations past their time that nobody
        reads (dropping those expired in the database), and (at most every `ttl_seconds`,
        or with `force`) drop every expired copy in the database; how many were dropped."""
        now = time.monotonic()
        with self._lock:
            done = [
                (key, s)
                for key, s in self._cache.items()
                if s.usable_until <= now and s.readers == 0
            ]
            for key, _ in done:
                del self._cache[key]
            for key in [k for k, lock in self._building.items() if not lock.locked()]:
                if key not in self._cache:
                    del self._building[key]
            due = force or now - self._swept_at >= self.ttl_seconds
            if due:
                self._swept_at = now
        dropped = sum(
            copies.drop_copy(
                self.engine,
                self.keepers[key[0]].tables,
                s.copy,
                expired_before=time.time(),
            )
            for key, s in done
            if s.copy.kind == SCRATCH
        )
        if due:
            dropped += copies.drop_expired(
                self.engine, {name: k.tables for name, k in self.keepers.items()}
            )
        return dropped

    def close(self) -> None:
        """Drop the scratch generations this process used (readers have finished), but for
        those another process has kept for longer since."""
        sweeper = self._sweeper
        if sweeper is not None:
            sweeper.join()
        with self._lock:
            held = list(self._cache.items())
            self._cache.clear()
        for key, scratch in held:
            try:
                self._drop_if_done(self.keepers[key[0]].tables, scratch.copy)
            except sa.exc.DBAPIError as exc:  # the sweep of the next start drops it
                log.warning("could not drop scratch generation %d: %s", scratch.copy.id, exc)

    def scratch_generations(self) -> list[Copy]:
        """The scratch generations this process holds now."""
        with self._lock:
            return [s.copy for s in self._cache.values()]
