"""Runs one projection: catch-up then live, in batches that commit with their checkpoint.

One runner per projection, driven by one thread of one worker (the one holding the
projection's leadership), so a projection's tables have a single writer. Each batch
of events and the checkpoint after it are written in one transaction; a batch whose
handler fails is retried event by event under the projection's failure policy. A
rebuild (webapp.projections.generations) is fed by the same batches, into the next
generation's tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from webapp.projections import controls
from webapp.projections.failures import describe_failure
from webapp.projections.generations import Generations, TableSet
from webapp.projections.leadership import Leadership
from webapp.projections.milestones import MilestoneKeeper
from webapp.projections.projection import Projection
from webapp.projections.unit import (
    SAVE_CHECKPOINT,
    EventPreparer,
    LostLeadership,
    UnitRunner,
    checkpoint_move,
)
from webapp.store import EventStore
from webapp.store.types import RecordedEvent

log = logging.getLogger(__name__)

DATABASE_RETRIES = 5


class ProjectionRunner(UnitRunner):
    """Drives one projection through the global log."""

    kind = "projection"

    def __init__(
        self,
        store: EventStore,
        projection: Projection,
        *,
        worker_id: str = "local",
        prepare: EventPreparer | None = None,
        batch_size: int = 2000,
        rebuild_batch_size: int = 4000,
        status_every: float = 1.0,
        leadership: Leadership | None = None,
        milestones: MilestoneKeeper | None = None,
        hold_version_bumps: bool = False,
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
        self.milestones = milestones
        self.tables = TableSet(projection)
        self.generations = Generations(
            self.engine, projection, self.tables, hold_version_bumps=hold_version_bumps
        )
        self._init_unit()
        handles = projection.handles
        self.types = sorted(handles) if handles is not None else None
        self.type_set = frozenset(handles) if handles is not None else None

    # --- lifecycle ---------------------------------------------------------------------

    def load(self) -> None:
        """Read (or create) the registry row and checkpoints; call after gaining leadership."""
        self.generations.load()
        self.progress.position = self.position
        self.stopped = False
        self._rate_mark = (time.monotonic(), self.progress.position)

    @property
    def position(self) -> int:
        """The live generation's checkpoint."""
        return self.generations.live_position

    @property
    def rebuilding(self) -> bool:
        return self.generations.rebuild is not None

    @property
    def live_frozen(self) -> bool:
        """The live generation waits for a held preview's switch (Generations.live_frozen)."""
        return self.generations.live_frozen

    @property
    def rebuild_pending(self) -> bool:
        """A rebuild is still to finish: one filling, or a held preview not caught up with
        the live generation (a caught-up preview waits for an admin, not for events)."""
        generations = self.generations
        rebuild = generations.rebuild
        if rebuild is None:
            return False
        return not generations.held or generations.positions[rebuild] < self.position

    def step(self) -> bool:
        """Do one batch of work (retries asked for, rebuild and/or live); True if anything
        moved. A paused projection does nothing."""
        self._live_generation()
        if self.stopped or self.check_paused():
            return False
        moved = self.retry_parked()
        moved |= self.step_rebuild()  # may switch the live generation
        head = self.store.head_position()
        self.progress.head = head
        if not self.stopped and not self.generations.live_frozen:
            moved |= self._advance(self._live_generation(), self.batch_size, head)
        if not self.stopped:
            moved |= self.follow_live()
        self.update_progress(head)
        self.keep_milestones()
        return moved

    def keep_milestones(self) -> None:
        """Take the milestone the live position has just passed, if one is due (a failure
        is logged: milestones only shorten as-of reads, the live model does not wait)."""
        if self.milestones is None or self.stopped:
            return
        try:
            self.milestones.after_step(self.position)
        except Exception:  # noqa: BLE001 - the next step tries again
            log.exception("projection %s: could not take a milestone", self.name)

    def step_rebuild(self) -> bool:
        """Start a requested rebuild, or advance one under way (switching when caught up)."""
        self._live_generation()
        if self.stopped:
            return False
        generations = self.generations
        if generations.rebuild_requested():
            generations.start_rebuild(self._fence)
        rebuild = generations.rebuild
        if rebuild is None:
            return False
        if generations.held:
            return self._carry_out_decision() or self.follow_live()
        head = self.store.head_position()
        self._advance(rebuild, self.rebuild_batch_size, head)
        if not self.stopped and generations.positions[rebuild] >= self.position:
            generations.switch(self._fence)
        return True

    def follow_live(self) -> bool:
        """Advance a held preview's generation towards the live one's position, never past
        it, so that once caught up both stand at the same position of the log (the worker
        calls this after each live batch). True if it moved."""
        generations = self.generations
        rebuild = generations.rebuild
        if rebuild is None or not generations.held or self.stopped:
            return False
        target = self.position
        position = generations.positions[rebuild]
        if position >= target:
            return False
        limit = self.rebuild_batch_size
        page = self.store.read_all(after=position, limit=limit, types=self.types)
        # every handled event up to the live checkpoint is committed (the live generation
        # has applied them): a short page, or one ending past it, covers all up to `target`
        end = page[-1].position if len(page) >= limit and page[-1].position < target else target
        events = [e for e in page if e.position <= end]
        if self.prepare is not None:
            events = [self.prepare(e) for e in events]
        self._apply(rebuild, events, end)
        return True

    def _carry_out_decision(self) -> bool:
        """Switch in or discard the held preview as an admin decided; True if done. A
        switch waits until the preview has caught up with the live generation."""
        generations = self.generations
        decided = generations.decision()
        if decided is None:
            return False
        action, actor = decided
        if action == "discard":
            generations.discard(self._fence, actor=actor)
            return True
        self.follow_live()
        rebuild = generations.rebuild
        assert rebuild is not None
        if self.stopped or generations.positions[rebuild] < self.position:
            generations.check_decision_soon()
            return False
        generations.switch(self._fence, actor=actor)
        return True

    def apply_live(self, events: Sequence[RecordedEvent], target: int) -> None:
        """Apply prepared events (handled types only, above the position) up to `target`."""
        live = self.generations.live
        assert live is not None
        self._apply(live, events, target)

    def run_until_caught_up(self, *, include_rebuild: bool = True) -> int:
        """Process until the live (and rebuild) generation reached the head, or the unit is
        stopped or paused; the position. Requests and preview decisions already made are
        looked for at once."""
        self._live_generation()
        self.generations.check_request_soon()
        self.generations.check_decision_soon()
        while not self.stopped:
            head = self.store.head_position()
            self.step()
            if self.paused:
                break
            rebuilding = include_rebuild and self.rebuild_pending
            live_done = self.position >= head or self.generations.live_frozen
            if live_done and not rebuilding:
                break
        self.write_status(force=True)
        return self.position

    def request_rebuild(self, after: int = 0) -> None:
        """Ask for a rebuild that replays the events after position `after` (0: all)."""
        self.generations.request(after)

    def retry_parked(self, requested: Sequence[sa.Row[Any]] | None = None) -> bool:
        """Apply again the parked events an operator asked to retry (webapp.projections.
        controls), each in a transaction of its own: on success it leaves the dead letters,
        on failure it stays with the new error. True if any was tried. `requested`, this
        unit's requests as read for the round, saves the read."""
        if requested is None:
            requested = controls.retries_requested(self.engine, self.name)
        for row in requested:
            generation = int(row.generation)
            if generation not in self.generations.positions:  # its tables were replaced
                with self.engine.begin() as conn:
                    self._fence(conn)
                    controls.forget_generation(conn, self.name, generation)
                continue
            found = self.store.read_all(after=int(row.position) - 1, limit=1)
            if not found or found[0].position != row.position:
                controls.retry_failed(self.engine, row, "the event is no longer in the store")
                continue
            event = self.prepare(found[0]) if self.prepare is not None else found[0]
            try:
                with self.engine.begin() as conn:
                    self._fence(conn)
                    self.projection.handle_batch(conn, self.tables.tables(generation), [event])
                    controls.retried(conn, row)
            except LostLeadership:
                raise
            except Exception as exc:  # noqa: BLE001 - the handler failed again
                controls.retry_failed(self.engine, row, describe_failure(exc, event.data))
                continue
            log.info("projection %s: parked event %d retried", self.name, event.position)
        return bool(requested)

    def _resuming(self) -> None:
        self.generations.check_request_soon()  # a rebuild asked while stopped starts at once

    def update_progress(self, head: int) -> None:
        """Bring `progress` up to date with the checkpoints and write it when due."""
        p = self.progress
        p.position = self.position
        if self.paused and not self.stopped:
            p.state = "paused"
        elif not self.stopped:
            rebuild = self.generations.rebuild
            if rebuild is not None and self.generations.held and not self.rebuild_pending:
                # a caught-up preview waits for an admin; the live model runs as usual
                p.state = "running" if p.position >= head else "catching_up"
                p.rebuild_position = self.generations.positions[rebuild]
                p.rebuild_target = p.position
            elif rebuild is not None:
                p.state = "rebuilding"
                p.rebuild_position = self.generations.positions[rebuild]
                # a preview goes as far as the live generation, a rebuild to the head
                p.rebuild_target = p.position if self.generations.held else head
            else:
                p.state = "running" if p.position >= head else "catching_up"
                p.rebuild_position = p.rebuild_target = None
        self.write_status()

    # --- batches -----------------------------------------------------------------------

    def _live_generation(self) -> int:
        if self.generations.live is None:
            self.load()
        live = self.generations.live
        assert live is not None
        return live

    def _read(self, after: int, limit: int) -> list[RecordedEvent]:
        events = self.store.read_all(after=after, limit=limit, types=self.types)
        if self.prepare is not None:
            events = [self.prepare(e) for e in events]
        return events

    def _advance(self, generation: int, limit: int, head: int) -> bool:
        position = self.generations.positions[generation]
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
                log.warning(
                    "projection %s: batch failed (%s); isolating the event",
                    self.name,
                    describe_failure(exc, *(e.data for e in events)),
                )
                self._apply_one_by_one(generation, events, target)
                return
        self.generations.positions[generation] = target

    def _apply_one_by_one(
        self, generation: int, events: Sequence[RecordedEvent], target: int
    ) -> None:
        tables = self.tables.tables(generation)
        positions = self.generations.positions
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
                    error = describe_failure(exc, event.data)
                    if attempt < policy.max_attempts:
                        time.sleep(policy.delay(attempt))
                        attempt += 1
                        continue
                    if policy.action == "skip":
                        self._skip(generation, event, error)
                        break
                    if policy.action == "park":
                        self._park(generation, event, error)
                        break
                    self._stop(generation, event, error)
                    return
            positions[generation] = event.position
        if target > positions[generation]:
            with self.engine.begin() as conn:
                self._fence(conn)
                self._save_checkpoint(conn, generation, target)
            positions[generation] = target


def apply_together(
    batches: Sequence[tuple[ProjectionRunner, Sequence[RecordedEvent]]], target: int
) -> None:
    """Apply each runner's prepared events and move its live checkpoint to `target`, all in
    one transaction: a savepoint per projection with events, one statement for the
    checkpoints of those with none.

    A round of the worker feeds every projection the same page of the log. One transaction
    each cost a write turn apiece on SQLite (every append waits while one is held) and a
    commit apiece on PostgreSQL; one for the round costs one. Each projection's batch and
    checkpoint still stand or fall together, and apart from the others': a batch that
    fails is rolled back to its savepoint and applied again on its own (`apply_live`: the
    retries, the isolation of the failing event, the projection's failure policy), after
    the others committed. A database error falls back to each projection's own apply."""
    if not batches:
        return
    engine = batches[0][0].engine
    with_events = [(runner, events) for runner, events in batches if events]
    idle = [
        checkpoint_move(r.name, r.generations.live, target) for r, events in batches if not events
    ]
    failed: list[tuple[ProjectionRunner, Sequence[RecordedEvent]]] = []
    try:
        with engine.begin() as conn:
            for runner, _ in batches:
                runner._fence(conn)  # noqa: SLF001 - the runners' own check, in this transaction
            for runner, events in with_events:
                live = runner.generations.live
                assert live is not None
                savepoint = conn.begin_nested()
                try:
                    runner.projection.handle_batch(conn, runner.tables.tables(live), events)
                    runner._save_checkpoint(conn, live, target)  # noqa: SLF001
                except Exception:  # noqa: BLE001 - applied again on its own below
                    savepoint.rollback()
                    failed.append((runner, events))
                else:
                    savepoint.commit()
            if idle:
                conn.execute(SAVE_CHECKPOINT, idle)
    except sa.exc.OperationalError:
        for runner, events in batches:
            runner.apply_live(events, target)
        return
    failed_ids = {id(runner) for runner, _ in failed}
    for runner, _ in batches:
        if id(runner) not in failed_ids:
            live = runner.generations.live
            assert live is not None
            runner.generations.positions[live] = target
    for runner, events in failed:
        runner.apply_live(events, target)
