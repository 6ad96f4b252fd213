"""What an operator asks of a projection or process manager: rebuild, resume, pause, reset,
retry or skip a parked event.

request_rebuild(projections, "account_summary")   # the worker running it rebuilds
rebuild_now(projections, "account_summary")       # no worker runs it: rebuild here
request_resume(projections, "ledger", actor="ada", skip_position=42)
pause(projections, "ledger", actor="ada")         # resume with request_resume
request_reset(projections, "ledger", 120, actor="ada")   # replay the events after 120
retry_parked(projections, "ledger", 42, actor="ada") / skip_parked(...)
request_preview(projections, "ledger", actor="ada")      # a rebuild held for comparison
decide_preview(projections, "ledger", "switch", actor="ada")   # or "discard"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from webapp.projections import controls, generations, preview, resume, schema
from webapp.projections.errors import (
    ControlRefused,
    InvalidPosition,
    NotParked,
    ResumeRefused,
    UnknownProjection,
)
from webapp.projections.leadership import leadership_for, new_worker_id

if TYPE_CHECKING:
    from webapp.projections.runner import ProjectionRunner
    from webapp.projections.service import Projections


def _refuse_if_preview(projections: Projections, name: str) -> None:
    held = preview.preview_state(projections.engine, name)
    if held is not None:
        msg = (
            f"{name} has a preview held (generation {held['generation'] or 'not started'}); "
            "switch it in or discard it first"
        )
        raise ControlRefused(msg)


def request_rebuild(projections: Projections, name: str) -> dict[str, Any]:
    """Ask the worker running `name` to rebuild it into new tables; returns its status.
    Refused (ControlRefused) while a preview is held: it is switched in or discarded."""
    projections.get(name)
    projections.ensure_ready()
    _refuse_if_preview(projections, name)
    generations.request_rebuild(projections.engine, name)
    return projections.status_of(name)


def request_preview(projections: Projections, name: str, *, actor: str) -> dict[str, Any]:
    """Ask the worker running `name` to build its next generation and hold it for preview;
    returns its status. Refused while a rebuild, reset or preview is asked or under way."""
    projections.get(name)
    projections.ensure_ready()
    preview.request_preview(projections.engine, name, actor=actor)
    return projections.status_of(name)


def decide_preview(
    projections: Projections, name: str, action: str, *, actor: str
) -> dict[str, Any]:
    """Ask for the preview of `name` to be switched in or discarded (the worker running it
    does it); its status with `preview_outcome` ("asked" or "discarded")."""
    projections.get(name)
    projections.ensure_ready()
    outcome = preview.decide(projections.engine, name, action, actor=actor)
    status = projections.status_of(name)
    status["preview_outcome"] = outcome
    return status


@contextmanager
def _preview_runner_here(projections: Projections, name: str) -> Iterator[ProjectionRunner | None]:
    """A runner of `name` leading it in this process for the while, or None when a worker
    leads it (that worker carries out what a preview asks)."""
    projections.get(name)
    lease = leadership_for(projections.engine, name, new_worker_id())
    if not lease.try_acquire():
        yield None
        return
    try:
        runner = projections.runner(name, worker_id="preview")
        runner.leadership = lease
        runner.load()
        try:
            yield runner
        finally:
            runner.write_status(force=True)
    finally:
        lease.release()


def carry_out_here(projections: Projections, name: str) -> bool:
    """Carry out the decision on the preview of `name` here if no worker leads it; True if
    the preview is gone (switched in or discarded)."""
    with _preview_runner_here(projections, name) as runner:
        if runner is None:
            return False
        for _ in range(1000):  # a switch first brings the preview to the live position
            runner.step()
            if not runner.generations.held or runner.stopped:
                break
        return not runner.generations.held


def build_preview_here(projections: Projections, name: str) -> int | None:
    """Build the preview asked for of `name` in this process when no worker leads it: the
    next generation filled up to the live one's position and held there. Returns that
    position, or None when a worker leads `name` (that worker builds it)."""
    with _preview_runner_here(projections, name) as runner:
        if runner is None:
            return None
        runner.generations.check_request_soon()
        while runner.step():
            pass
        if runner.stopped:
            msg = f"projection {name!r} stopped while building its preview: "
            raise RuntimeError(msg + str(runner.progress.last_error))
        generations = runner.generations
        if generations.rebuild is None or not generations.held:
            return None
        return generations.positions[generations.rebuild]


def rebuild_now(
    projections: Projections,
    name: str,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild `name` in this process (no worker holds it); returns the final position.

    `on_progress(done, target)` is called after each batch.
    """
    _refuse_if_preview(projections, name)
    runner = projections.runner(name, worker_id="rebuild")
    runner.load()
    runner.request_rebuild()
    while True:
        runner.step()
        if on_progress is not None:
            p = runner.progress
            on_progress(p.rebuild_position or runner.position, p.rebuild_target or p.head)
        if runner.stopped:
            msg = f"projection {name!r} stopped while rebuilding: {runner.progress.last_error}"
            raise RuntimeError(msg)
        if not runner.rebuilding and runner.position >= projections.store.head_position():
            break
    runner.progress.state = "idle"
    runner.write_status(force=True)
    return runner.position


def _require_unit(projections: Projections, name: str) -> None:
    if name not in projections.names() and name not in projections.process_names():
        msg = f"unknown projection or process manager {name!r}"
        raise UnknownProjection(msg)


def request_resume(
    projections: Projections, name: str, *, actor: str, skip_position: int | None = None
) -> dict[str, Any]:
    """Let unit `name` run again: lift its pause, and if it is stopped ask the worker to
    retry the event it stopped at, or (with `skip_position`, which must be that event) skip
    it. Refused, changing nothing, when it is neither paused nor stopped. Returns its status."""
    _require_unit(projections, name)
    status = projections.status_of(name)
    was_paused = status.get("paused") is not None
    stopped = status["state"] == "stopped"
    if not stopped and not (was_paused and skip_position is None):
        state = "paused" if was_paused else status["state"]
        msg = f"{name} is {state}, not stopped: there is nothing to "
        msg += f"skip (event {skip_position})" if was_paused else "resume"
        raise ResumeRefused(msg)
    stopped_at = status.get("error_position")
    if stopped:
        if stopped_at is None:
            msg = f"{name} is stopped but its status names no event; restart its worker"
            raise ResumeRefused(msg)
        if skip_position is not None and skip_position != stopped_at:
            msg = f"{name} stopped at event {stopped_at}, not {skip_position}; nothing was skipped"
            raise ResumeRefused(msg)
    if was_paused:
        controls.unpause(projections.engine, name, actor=actor)
    if not stopped:
        return projections.status_of(name)
    resume.request_resume(
        projections.engine,
        name,
        actor=actor,
        stopped_position=int(stopped_at),
        skip=skip_position is not None,
    )
    status = projections.status_of(name)
    status["resume_requested"] = {"skip_position": skip_position, "by": actor}
    return status


def pause(projections: Projections, name: str, *, actor: str) -> dict[str, Any]:
    """Pause unit `name`: its worker applies no more events to it and keeps its checkpoint
    until it is resumed. Returns its status (state "paused", `paused`: by, at)."""
    _require_unit(projections, name)
    if not controls.pause(projections.engine, name, actor=actor):
        who = controls.paused(projections.engine, name) or {}
        msg = f"{name} is already paused (by {who.get('by')} at {who.get('at')})"
        raise ControlRefused(msg)
    return projections.status_of(name)


def request_reset(
    projections: Projections, name: str, position: int, *, actor: str
) -> dict[str, Any]:
    """Ask the worker to replay projection `name` from the events after `position` into a
    new generation (like a rebuild; readers keep the current tables until it has caught up).
    Refused for process managers, positions beyond the log's head, and while a rebuild
    runs. Returns its status."""
    if name in projections.process_names():
        msg = (
            f"{name} is a process manager: it cannot be reset (replaying its events would "
            "repeat or skip commands it sends); pause it, or resume it with a skip"
        )
        raise ControlRefused(msg)
    projections.get(name)
    head = projections.store.head_position()
    if position < 0 or position > head:
        msg = f"position {position} is not in the log (its head is at {head})"
        raise InvalidPosition(msg)
    projections.ensure_ready()
    _refuse_if_preview(projections, name)
    with projections.engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.registry.c.rebuild_generation).where(schema.registry.c.name == name)
        ).first()
    if row is not None and row.rebuild_generation is not None:
        msg = (
            f"{name} is being rebuilt into generation {row.rebuild_generation}; "
            "reset it once that is done"
        )
        raise ControlRefused(msg)
    generations.request_rebuild(projections.engine, name, position)
    with projections.engine.begin() as conn:
        controls.log_action(conn, name, "reset", actor, position=position)
    return projections.status_of(name)


def dead_letters(
    projections: Projections, name: str, *, after: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """The events unit `name` parked (its "park" failure policy), oldest first."""
    _require_unit(projections, name)
    return controls.dead_letters(projections.engine, name, after=after, limit=limit)


def retry_parked(projections: Projections, name: str, position: int, *, actor: str) -> None:
    """Ask the worker running `name` to apply parked event `position` again (on success it
    leaves the dead letters; on failure it stays, with the new error)."""
    _require_unit(projections, name)
    if not controls.request_retry(projections.engine, name, position, actor=actor):
        msg = f"{name} has no event parked at position {position}"
        raise NotParked(msg)


def skip_parked(
    projections: Projections, name: str, position: int, *, actor: str
) -> dict[str, Any]:
    """Drop parked event `position` of `name` from its dead letters without applying it;
    returns the letter."""
    _require_unit(projections, name)
    letter = controls.skip_parked(projections.engine, name, position, actor=actor)
    if letter is None:
        msg = f"{name} has no event parked at position {position}"
        raise NotParked(msg)
    return letter
