"""Runs one projection: catch-up then live, batches with checkpoints, rebuild, failure policy.

One runner per projection, driven by one thread of one worker (the one holding
the projection's leadership), so a projection's tables have a single writer.
A rebuild fills generation N+1 batch by batch beside the live generation N and
switches the registry row once it has caught up with N; readers only ever see a
complete generation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.projections import schema
from webapp.projections.projection import Projection
from webapp.projections.resume import skip_note, take_request
from webapp.store.types import RecordedEvent

log = logging.getLogger(__name__)

EventPreparer = Callable[[RecordedEvent], RecordedEvent]
DATABASE_RETRIES = 5


class LostLeadership(Exception):
    """This worker no longer holds the right to write the projection."""


class ProjectionStopped(Exception):
    """The failure policy stopped the projection at an event."""


@dataclass
class Progress:
    """A runner's in-memory view, written to `projection_status` every second."""

    state: str = "catching_up"
    position: int = 0
    head: int = 0
    events_per_second: float = 0.0
    last_error: str | None = None
    error_position: int | None = None
    rebuild_position: int | None = None
    rebuild_target: int | None = None


def registered_generation(conn: sa.Connection, name: str) -> int | None:
    row = conn.execute(
        sa.select(schema.registry.c.live_generation).where(schema.registry.c.name == name)
    ).first()
    return None if row is None else int(row[0])


def insert_ignore(conn: sa.Connection, table: sa.Table, values: dict) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())


class TableSet:
    """Per-generation table objects of one projection (pure metadata, no DB access)."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self._cache: dict[int, tuple[sa.MetaData, dict[str, sa.Table]]] = {}
        self._lock = threading.Lock()

    def tables(self, generation: int) -> dict[str, sa.Table]:
        return self._entry(generation)[1]

    def metadata(self, generation: int) -> sa.MetaData:
        return self._entry(generation)[0]

    def _entry(self, generation: int) -> tuple[sa.MetaData, dict[str, sa.Table]]:
        with self._lock:
            entry = self._cache.get(generation)
            if entry is None:
                md = sa.MetaData()
                entry = (md, self.projection.define_tables(md, generation))
                self._cache[generation] = entry
            return entry

    def forget(self, generation: int) -> None:
        with self._lock:
            self._cache.pop(generation, None)


def ensure_registered(engine: sa.Engine, projection: Projection, table_set: TableSet) -> int:
    """Create the registry row, generation 1's tables and checkpoint if missing.

    Returns the live generation.
    """
    name = projection.name
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two processes starting on a new database
            from webapp.projections.leadership import lock_key

            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(f"register:{name}"))))
        generation = registered_generation(conn, name)
        if generation is not None:
            return generation
        table_set.metadata(1).create_all(conn, checkfirst=True)
        now = time.time()
        insert_ignore(
            conn,
            schema.checkpoints,
            {"name": name, "generation": 1, "position": 0, "updated_at": now},
        )
        insert_ignore(
            conn,
            schema.registry,
            {
                "name": name,
                "live_generation": 1,
                "updated_at": now,
                "model_version": projection.version,
            },
        )
        return registered_generation(conn, name) or 1


class UnitRunner:
    """What the projection and process-manager runners share: leadership fencing, the
    status row written at most every `status_every` seconds, recorded errors, the stop
    of the failure policy, and an operator's resume (webapp.projections.resume).

    Subclasses set `name`, `kind`, `engine`, `worker_id`, `leadership` and
    `status_every`, call `_init_unit()`, and implement `load()`.
    """

    name: str
    kind: str
    engine: sa.Engine
    worker_id: str
    leadership: object
    status_every: float

    def _init_unit(self) -> None:
        self.progress = Progress()
        self.stopped = False
        self._stopped_at: tuple[int, RecordedEvent, str] | None = None
        """(generation, event, error) of the stop, for an operator's skip."""
        self._status_at = 0.0
        self._rate_mark = (time.monotonic(), 0)

    def load(self) -> None:
        raise NotImplementedError

    def _fence(self, conn: sa.Connection | None = None) -> None:
        """Raise LostLeadership unless this worker still runs the unit.

        Inside a write transaction pass `conn`: the check then joins it (see
        `Leadership.still_held`) instead of waiting on a second connection.
        """
        if self.leadership is not None and not self.leadership.still_held(conn):  # type: ignore[attr-defined]
            raise LostLeadership(self.name)

    def write_status(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_at < self.status_every:
            return
        mark_time, mark_position = self._rate_mark
        if now - mark_time >= 0.5:
            self.progress.events_per_second = (self.progress.position - mark_position) / (
                now - mark_time
            )
            self._rate_mark = (now, self.progress.position)
        self._status_at = now
        write_status_row(self.engine, self.name, self.kind, self.progress, self.worker_id)

    def _save_checkpoint(self, conn: sa.Connection, generation: int, position: int) -> None:
        conn.execute(
            schema.checkpoints.update()
            .where(
                schema.checkpoints.c.name == self.name,
                schema.checkpoints.c.generation == generation,
            )
            .values(position=position, updated_at=time.time())
        )

    def _record_error(
        self, generation: int, event: RecordedEvent, outcome: str, error: str, *, advance: bool
    ) -> None:
        """Record the event and error in `projection_errors`; with `advance`, move the
        checkpoint past the event in the same transaction."""
        with self.engine.begin() as conn:
            conn.execute(
                schema.errors.insert().values(
                    name=self.name,
                    generation=generation,
                    position=event.position,
                    event_id=str(event.event_id),
                    event_type=event.type,
                    outcome=outcome,
                    error=error[:4000],
                    recorded_at=time.time(),
                )
            )
            if advance:
                self._save_checkpoint(conn, generation, event.position)

    def _skip(self, generation: int, event: RecordedEvent, error: str) -> None:
        """The "skip" policy: record the event and go on after it."""
        self._record_error(generation, event, "skipped", error, advance=True)
        self.progress.last_error = f"skipped event {event.position}: {error}"
        self.progress.error_position = event.position

    def _stop(self, generation: int, event: RecordedEvent, error: str) -> None:
        """The "stop" policy: record the event and halt before it until resumed."""
        self._record_error(generation, event, "stopped", error, advance=False)
        self.progress.state = "stopped"
        self.progress.last_error = error
        self.progress.error_position = event.position
        self.stopped = True
        self._stopped_at = (generation, event, error)
        self.write_status(force=True)
        log.error(
            "%s %s stopped at event %d (%s): %s",
            self.kind,
            self.name,
            event.position,
            event.type,
            error,
        )

    def _resuming(self) -> None:
        """Called just before a resumed unit reloads (a hook for subclasses)."""

    def resume_if_requested(self) -> bool:
        """While stopped, carry out an operator's request to retry or skip the event it
        stopped at (webapp.projections.resume); True if the unit runs again."""
        if not self.stopped or self._stopped_at is None:
            return False
        generation, event, error = self._stopped_at
        request = take_request(self.engine, self.name, stopped_position=event.position)
        if request is None:
            return False
        self._stopped_at = None
        self._resuming()
        note = None
        if request.skip:
            note = f"{skip_note(request)}: {error}"
            self._record_error(generation, event, "skipped", note, advance=True)
            log.warning(
                "%s %s: event %d skipped by %s",
                self.kind,
                self.name,
                event.position,
                request.requested_by,
            )
        else:
            log.info("%s %s: resumed by %s", self.kind, self.name, request.requested_by)
        self.load()
        self.progress.last_error = (
            None if note is None else f"skipped event {event.position}: {note}"
        )
        self.progress.error_position = None if note is None else event.position
        self.progress.state = "catching_up"
        self.write_status(force=True)
        return True


class ProjectionRunner(UnitRunner):
    """Drives one projection through the global log."""

    kind = "projection"

    def __init__(
        self,
        store,
        projection: Projection,
        *,
        worker_id: str = "local",
        prepare: EventPreparer | None = None,
        batch_size: int = 2000,
        rebuild_batch_size: int = 4000,
        status_every: float = 1.0,
        leadership=None,
    ) -> None:
        self.store = store
        self.engine: sa.Engine = store.engine
        self.projection = projection
        self.name = projection.name
        self.worker_id = worker_id
        self.prepare = prepare
        self.batch_size = batch_size
        self.rebuild_batch_size = rebuild_batch_size
        self.status_every = status_every
        self.leadership = leadership
        self.tables = TableSet(projection)
        self._init_unit()
        handles = projection.handles
        self._types = sorted(handles) if handles is not None else None
        self.types = self._types
        self.type_set = frozenset(handles) if handles is not None else None
        self._live: int | None = None
        self._rebuild: int | None = None
        self._positions: dict[int, int] = {}
        self._registry_checked_at = 0.0

    # --- lifecycle ---------------------------------------------------------------------

    def load(self) -> None:
        """Read (or create) the registry row and checkpoints; call after gaining leadership."""
        ensure_registered(self.engine, self.projection, self.tables)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(schema.registry).where(schema.registry.c.name == self.name)
            ).one()
            self._live = row.live_generation
            self._rebuild = row.rebuild_generation
            outdated = (row.model_version or 1) < self.projection.version
            if outdated and row.rebuild_generation is None and row.rebuild_requested_at is None:
                # Built by older handlers: rebuild in the background (reads stay on the old
                # generation until the new one has caught up and switches in).
                conn.execute(
                    schema.registry.update()
                    .where(schema.registry.c.name == self.name)
                    .values(rebuild_requested_at=time.time())
                )
                self._registry_checked_at = 0.0
            self.tables.metadata(self._live).create_all(conn, checkfirst=True)
            self._positions = {
                int(r.generation): int(r.position)
                for r in conn.execute(
                    sa.select(schema.checkpoints).where(schema.checkpoints.c.name == self.name)
                )
            }
        self._positions.setdefault(self._live, 0)
        if self._rebuild is not None:
            self._positions.setdefault(self._rebuild, 0)
        self.progress.position = self._positions[self._live]
        self.stopped = False
        self._rate_mark = (time.monotonic(), self.progress.position)

    @property
    def position(self) -> int:
        return self._positions.get(self._live or 0, 0)

    def step(self) -> bool:
        """Do one batch of work (rebuild and/or live); True if anything moved."""
        if self._live is None:
            self.load()
        if self.stopped:
            return False
        moved = self.step_rebuild()
        head = self.store.head_position()
        self.progress.head = head
        if not self.stopped:
            moved |= self._advance(self._live, self.batch_size, head)
        self._update_progress(head)
        return moved

    @property
    def rebuilding(self) -> bool:
        return self._rebuild is not None

    def step_rebuild(self) -> bool:
        """Start a requested rebuild, or advance one under way (switching when caught up)."""
        if self._live is None:
            self.load()
        if self.stopped:
            return False
        self._check_rebuild_request()
        if self._rebuild is None:
            return False
        head = self.store.head_position()
        self._advance(self._rebuild, self.rebuild_batch_size, head)
        if not self.stopped and self._positions[self._rebuild] >= self.position:
            self._switch()
        return True

    def apply_live(self, events: Sequence[RecordedEvent], target: int) -> None:
        """Apply prepared events (handled types only, above the position) up to `target`."""
        assert self._live is not None
        self._apply(self._live, events, target)

    def run_until_caught_up(self, *, include_rebuild: bool = True) -> int:
        """Process until the live (and rebuild) generation reached the head; the position."""
        if self._live is None:
            self.load()
        while not self.stopped:
            head = self.store.head_position()
            self.step()
            rebuilding = include_rebuild and self._rebuild is not None
            if self.position >= head and not rebuilding:
                break
        self.write_status(force=True)
        return self.position

    def request_rebuild(self) -> None:
        request_rebuild(self.engine, self.name)
        self._registry_checked_at = 0.0

    def _resuming(self) -> None:
        self._registry_checked_at = 0.0  # a rebuild asked while stopped starts at once

    # --- internals ---------------------------------------------------------------------

    def _check_rebuild_request(self) -> None:
        now = time.monotonic()
        if self._rebuild is not None or now - self._registry_checked_at < 0.25:
            return
        self._registry_checked_at = now
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            requested = conn.execute(
                sa.select(schema.registry.c.rebuild_requested_at).where(
                    schema.registry.c.name == self.name
                )
            ).scalar()
        if requested is not None:
            self._start_rebuild()

    def _start_rebuild(self) -> None:
        generation = max(self._positions) + 1
        metadata = self.tables.metadata(generation)
        with self.engine.begin() as conn:
            self._fence(conn)
            metadata.drop_all(conn, checkfirst=True)  # leftovers of an abandoned attempt
            metadata.create_all(conn)
            conn.execute(
                schema.checkpoints.delete().where(
                    schema.checkpoints.c.name == self.name,
                    schema.checkpoints.c.generation == generation,
                )
            )
            conn.execute(
                schema.checkpoints.insert().values(
                    name=self.name, generation=generation, position=0, updated_at=time.time()
                )
            )
            conn.execute(
                schema.registry.update()
                .where(schema.registry.c.name == self.name)
                .values(
                    rebuild_generation=generation,
                    rebuild_requested_at=None,
                    updated_at=time.time(),
                )
            )
        self._rebuild = generation
        self._positions[generation] = 0
        log.info("projection %s: rebuilding into generation %d", self.name, generation)

    def _switch(self) -> None:
        old, new = self._live, self._rebuild
        assert old is not None and new is not None
        with self.engine.begin() as conn:
            self._fence(conn)
            conn.execute(
                schema.registry.update()
                .where(schema.registry.c.name == self.name)
                .values(
                    live_generation=new,
                    rebuild_generation=None,
                    updated_at=time.time(),
                    model_version=self.projection.version,
                )
            )
            conn.execute(
                schema.checkpoints.delete().where(
                    schema.checkpoints.c.name == self.name,
                    schema.checkpoints.c.generation == old,
                )
            )
            self.tables.metadata(old).drop_all(conn, checkfirst=True)
        self._live, self._rebuild = new, None
        self._positions.pop(old, None)
        self.tables.forget(old)
        log.info("projection %s: generation %d is live (was %d)", self.name, new, old)

    def _read(self, after: int, limit: int) -> list[RecordedEvent]:
        events = self.store.read_all(after=after, limit=limit, types=self._types)
        if self.prepare is not None:
            events = [self.prepare(e) for e in events]
        return events

    def _advance(self, generation: int, limit: int, head: int) -> bool:
        position = self._positions[generation]
        if head <= position:
            return False
        events = self._read(position, limit)
        # A short page has seen every handled event up to `head` (the store never
        # commits an event below a position a reader has seen), so the checkpoint may
        # move to the head even when the last events were of other types.
        target = events[-1].position if len(events) >= limit else max(head, position)
        if events and events[-1].position > target:
            target = events[-1].position
        self._apply(generation, events, target)
        return True

    def _apply(self, generation: int, events: Sequence[RecordedEvent], target: int) -> None:
        tables = self.tables.tables(generation)
        busy = 0
        while True:
            try:
                with self.engine.begin() as conn:
                    self._fence(conn)
                    if events:
                        self.projection.handle_batch(conn, tables, events)
                    self._save_checkpoint(conn, generation, target)
                break
            except LostLeadership:
                raise
            except sa.exc.OperationalError as exc:
                # Most likely the database (locked, restarting): wait and retry a few times;
                # if it persists it is the handler's (e.g. a missing column): apply the policy.
                busy += 1
                if busy > DATABASE_RETRIES:
                    log.warning("projection %s: %s; isolating the event", self.name, exc)
                    self._apply_one_by_one(generation, events, target)
                    return
                log.warning("projection %s: database unavailable (%s); retrying", self.name, exc)
                time.sleep(0.5 * busy)
                self._fence()
            except Exception as exc:  # noqa: BLE001 - handler failure: apply the policy
                log.warning("projection %s: batch failed (%s); isolating the event", self.name, exc)
                self._apply_one_by_one(generation, events, target)
                return
        self._positions[generation] = target

    def _apply_one_by_one(
        self, generation: int, events: Sequence[RecordedEvent], target: int
    ) -> None:
        tables = self.tables.tables(generation)
        policy = self.projection.on_error
        for event in events:
            attempt = 1
            while True:
                try:
                    with self.engine.begin() as conn:
                        self._fence(conn)
                        self.projection.handle_batch(conn, tables, [event])
                        self._save_checkpoint(conn, generation, event.position)
                    break
                except LostLeadership:
                    raise
                except Exception as exc:  # noqa: BLE001 - the handler's own error
                    error = f"{type(exc).__name__}: {exc}"
                    if attempt < policy.max_attempts:
                        time.sleep(policy.delay(attempt))
                        attempt += 1
                        continue
                    if policy.action == "skip":
                        self._skip(generation, event, error)
                        break
                    self._stop(generation, event, error)
                    return
            self._positions[generation] = event.position
        if target > self._positions[generation]:
            with self.engine.begin() as conn:
                self._fence(conn)
                self._save_checkpoint(conn, generation, target)
            self._positions[generation] = target

    def _update_progress(self, head: int) -> None:
        p = self.progress
        p.position = self.position
        if not self.stopped:
            if self._rebuild is not None:
                p.state = "rebuilding"
                p.rebuild_position = self._positions[self._rebuild]
                p.rebuild_target = head
            else:
                p.state = "running" if p.position >= head else "catching_up"
                p.rebuild_position = p.rebuild_target = None
        self.write_status()


def write_status_row(
    engine: sa.Engine, name: str, kind: str, progress: Progress, worker: str | None
) -> None:
    from webapp.projections.projection import upsert

    row = {
        "name": name,
        "kind": kind,
        "state": progress.state,
        "position": progress.position,
        "head": progress.head,
        "events_per_second": round(progress.events_per_second, 2),
        "last_error": progress.last_error[:4000] if progress.last_error else None,
        "error_position": progress.error_position,
        "rebuild_position": progress.rebuild_position,
        "rebuild_target": progress.rebuild_target,
        "worker": worker,
        "heartbeat_at": time.time(),
    }
    try:
        with engine.begin() as conn:
            upsert(conn, schema.status, [row], ["name"])
    except sa.exc.OperationalError as exc:  # status is best effort; the next write catches up
        log.warning("could not write status of %s: %s", name, exc)


def request_rebuild(engine: sa.Engine, name: str) -> None:
    """Ask the worker that runs `name` to rebuild it (a no-op if one is already under way)."""
    with engine.begin() as conn:
        done = conn.execute(
            schema.registry.update()
            .where(schema.registry.c.name == name)
            .values(rebuild_requested_at=time.time())
        ).rowcount
    if done != 1:
        msg = f"unknown projection {name!r} (or it has never been started)"
        raise KeyError(msg)
