"""What an operator asks of a projection or process manager: rebuild it, resume it.

request_rebuild(projections, "account_summary")   # the worker running it rebuilds
rebuild_now(projections, "account_summary")       # no worker runs it: rebuild here
request_resume(projections, "ledger", actor="ada", skip_position=42)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from webapp.projections import generations, resume
from webapp.projections.errors import ResumeRefused, UnknownProjection

if TYPE_CHECKING:
    from webapp.projections.service import Projections


def request_rebuild(projections: Projections, name: str) -> dict[str, Any]:
    """Ask the worker running `name` to rebuild it into new tables; returns its status."""
    projections.get(name)
    projections.ensure_ready()
    generations.request_rebuild(projections.engine, name)
    return projections.status_of(name)


def rebuild_now(
    projections: Projections,
    name: str,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild `name` in this process (no worker holds it); returns the final position.

    `on_progress(done, target)` is called after each batch.
    """
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


def request_resume(
    projections: Projections, name: str, *, actor: str, skip_position: int | None = None
) -> dict[str, Any]:
    """Ask the worker to resume stopped unit `name`: retry the event it stopped at, or
    (with `skip_position`, which must be that event) skip it. Returns its status."""
    if name not in projections.names() and name not in projections.process_names():
        msg = f"unknown projection or process manager {name!r}"
        raise UnknownProjection(msg)
    status = projections.status_of(name)
    if status["state"] != "stopped":
        msg = f"{name} is {status['state']}, not stopped: there is nothing to resume"
        raise ResumeRefused(msg)
    stopped_at = status.get("error_position")
    if stopped_at is None:
        msg = f"{name} is stopped but its status names no event; restart its worker"
        raise ResumeRefused(msg)
    if skip_position is not None and skip_position != stopped_at:
        msg = f"{name} stopped at event {stopped_at}, not {skip_position}; nothing was skipped"
        raise ResumeRefused(msg)
    resume.request_resume(
        projections.engine,
        name,
        actor=actor,
        stopped_position=int(stopped_at),
        skip=skip_position is not None,
    )
    status = dict(status)
    status["resume_requested"] = {"skip_position": skip_position, "by": actor}
    return status
