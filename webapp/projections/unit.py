"""What every unit a worker runs shares: fencing, status, recorded errors, stop and resume.

A unit is a projection runner, a process-manager runner or the timeout runner. Each
writes only while its worker holds the unit's leadership (`_fence`), keeps a
`Progress` that reaches `projection_status` at most every `status_every` seconds (an
unchanged one only every `HEARTBEAT_PERIODS` of them, as the worker's heartbeat),
records the events its failure policy skipped or stopped at in `projection_errors`, and
carries out an operator's resume (webapp.projections.resume).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.database.upserts import upsert
from webapp.projections import controls, schema
from webapp.projections.leadership import Leadership
from webapp.projections.resume import skip_note, take_request
from webapp.store.types import RecordedEvent

log = logging.getLogger(__name__)

HEARTBEAT_PERIODS = 3
"""An idle unit's unchanged status is written every this many `status_every` periods: often
enough for the health page (stale after 10 s), and a still store is not written to each
second by every unit of every worker."""

EventPreparer = Callable[[RecordedEvent], RecordedEvent]
"""Turns an event as stored into the one handlers see (upcast, personal fields decoded)."""


class LostLeadership(Exception):
    """This worker no longer holds the right to write the unit."""


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


class UnitRunner:
    """The base of the projection, process-manager and timeout runners.

    Subclasses set `name`, `kind`, `engine`, `worker_id`, `leadership` and
    `status_every`, call `_init_unit()`, and implement `load()`.
    """

    name: str
    kind: str
    engine: sa.Engine
    worker_id: str
    leadership: Leadership | None
    status_every: float

    def _init_unit(self) -> None:
        self.progress = Progress()
        self.stopped = False
        self._stopped_at: tuple[int, RecordedEvent, str] | None = None
        """(generation, event, error) of the stop, for an operator's skip."""
        self._status_at = 0.0
        self._status_written: tuple[object, ...] | None = None
        self._rate_mark = (time.monotonic(), 0)
        self.paused = False

    def check_paused(self, pauses: Mapping[str, object] | None = None) -> bool:
        """Read whether an operator paused the unit (webapp.projections.controls); a paused
        unit applies nothing and keeps its checkpoint. True while paused. `pauses`, every
        paused unit by name as read for this round, saves the read."""
        was = self.paused
        if pauses is None:
            self.paused = controls.paused(self.engine, self.name) is not None
        else:
            self.paused = self.name in pauses
        if self.paused != was and not self.stopped:
            self.progress.state = "paused" if self.paused else "catching_up"
            self.write_status(force=True)
            log.info("%s %s %s", self.kind, self.name, "paused" if self.paused else "resumed")
        return self.paused

    def load(self) -> None:
        raise NotImplementedError

    def _fence(self, conn: sa.Connection | None = None) -> None:
        """Raise LostLeadership unless this worker still runs the unit.

        Inside a write transaction pass `conn`: the check then joins it (see
        `Leadership.still_held`) instead of waiting on a second connection.
        """
        if self.leadership is not None and not self.leadership.still_held(conn):
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
        if self._status_changed(now, force):
            write_status_row(self.engine, self.name, self.kind, self.progress, self.worker_id)

    def _status_changed(self, now: float, force: bool) -> bool:
        """Whether the status is worth a write: forced, changed since the last one, or its
        heartbeat due (also once a minute, for the health page's history of minutes)."""
        p = self.progress
        seen = (
            p.state,
            p.position,
            p.head,
            p.events_per_second,
            p.last_error,
            p.error_position,
            p.rebuild_position,
            p.rebuild_target,
            int(time.time() // 60),
        )
        last = self._status_written
        if (
            not force
            and last is not None
            and seen == last[1:]
            and now - last[0] < HEARTBEAT_PERIODS * self.status_every
        ):
            return False
        self._status_written = (now, *seen)
        return True

    def _save_checkpoint(self, conn: sa.Connection, generation: int, position: int) -> None:
        conn.execute(SAVE_CHECKPOINT, checkpoint_move(self.name, generation, position))

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

    def _park(self, generation: int, event: RecordedEvent, error: str) -> None:
        """The "park" policy: put the event in the dead letters and go on after it (the
        letter, the error record and the checkpoint in one transaction)."""
        with self.engine.begin() as conn:
            self._fence(conn)
            controls.park(conn, self.name, generation, event, error)
            conn.execute(
                schema.errors.insert().values(
                    name=self.name,
                    generation=generation,
                    position=event.position,
                    event_id=str(event.event_id),
                    event_type=event.type,
                    outcome="parked",
                    error=error[:4000],
                    recorded_at=time.time(),
                )
            )
            self._save_checkpoint(conn, generation, event.position)
        self.progress.last_error = f"parked event {event.position}: {error}"
        self.progress.error_position = event.position
        log.warning(
            "%s %s parked event %d (%s): %s",
            self.kind,
            self.name,
            event.position,
            event.type,
            error,
        )

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


SAVE_CHECKPOINT = (
    schema.checkpoints.update()
    .where(
        schema.checkpoints.c.name == sa.bindparam("cp_name"),
        schema.checkpoints.c.generation == sa.bindparam("cp_generation"),
    )
    .values(position=sa.bindparam("cp_position"), updated_at=sa.bindparam("cp_at"))
)
"""Move a unit's checkpoint (`cp_name`, `cp_generation`) to `cp_position`; built once, as a
unit saves its checkpoint with every batch."""


def checkpoint_move(name: str, generation: int | None, position: int) -> dict[str, object]:
    """The parameters of SAVE_CHECKPOINT moving `name`'s `generation` to `position` now."""
    return {
        "cp_name": name,
        "cp_generation": generation,
        "cp_position": position,
        "cp_at": time.time(),
    }


def write_status_row(
    engine: sa.Engine, name: str, kind: str, progress: Progress, worker: str | None
) -> None:
    """Upsert the unit's row of `projection_status` (best effort: a failure is logged)."""
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
            if kind != "timer":  # a timer's position counts pending timeouts, not events
                record_progress(
                    conn, name, kind, progress.position, progress.head, row["heartbeat_at"]
                )
    except sa.exc.OperationalError as exc:  # the next write catches up
        log.warning("could not write status of %s: %s", name, exc)


def record_progress(
    conn: sa.Connection, name: str, kind: str, position: int, head: int, now: float
) -> None:
    """Keep the unit's position and the head as last seen in the current minute (the health
    page's history), and drop the unit's minutes older than PROGRESS_KEPT_MINUTES."""
    minute = int(now // 60)
    row = {"name": name, "minute": minute, "kind": kind, "position": position, "head": head}
    upsert(conn, schema.progress, [{**row, "at": now}], ["name", "minute"])
    conn.execute(
        schema.progress.delete().where(
            schema.progress.c.name == name,
            schema.progress.c.minute < minute - schema.PROGRESS_KEPT_MINUTES,
        )
    )
