"""Resuming a stopped projection or process manager, on an operator's request.

A unit whose failure policy is "stop" halts at the event its handler could not
handle and keeps its checkpoint before that event. An operator (dashboard, API or
`eventscope projections resume`) then asks for one of two things, recorded in
`projection_resume_requests` for whichever worker runs the unit:

- retry: the worker reloads the unit and handles the event again (after the cause
  was fixed: a full disk, a missing table, data corrected by hand);
- skip: the event is recorded in the unit's errors as skipped by that operator, the
  checkpoint moves past it, and the unit goes on.

A request names the event the unit had stopped at, and the worker carries it out only
while the unit is stopped at that very event (no clocks compared: the web process and
the worker may run on different hosts). The worker looks for a request on every turn
of its loop while a unit it runs is stopped; a request for another stop is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.projections import schema


@dataclass(frozen=True)
class ResumeRequest:
    name: str
    stopped_position: int
    skip: bool
    requested_by: str
    requested_at: float


def request_resume(
    engine: sa.Engine, name: str, *, actor: str, stopped_position: int, skip: bool = False
) -> None:
    """Record the request (replacing an earlier one not yet carried out)."""
    table = schema.resume_requests
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.name == name))
        conn.execute(
            table.insert().values(
                name=name,
                stopped_position=stopped_position,
                skip=skip,
                requested_by=actor[:200],
                requested_at=time.time(),
            )
        )


def _from_row(row: sa.Row) -> ResumeRequest:
    return ResumeRequest(
        name=row.name,
        stopped_position=int(row.stopped_position),
        skip=bool(row.skip),
        requested_by=row.requested_by,
        requested_at=float(row.requested_at),
    )


def pending_request(engine: sa.Engine, name: str) -> ResumeRequest | None:
    """The request waiting for the worker, if any (left in place)."""
    table = schema.resume_requests
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        row = conn.execute(sa.select(table).where(table.c.name == name)).first()
    return None if row is None else _from_row(row)


def take_request(engine: sa.Engine, name: str, *, stopped_position: int) -> ResumeRequest | None:
    """The request for `name`'s stop at `stopped_position`, removed in the same
    transaction; None if there is none. A request made for another stop is removed and
    ignored."""
    request = pending_request(engine, name)  # a read: a stopped unit asks every turn
    if request is None:
        return None
    table = schema.resume_requests
    with engine.begin() as conn:
        taken = conn.execute(
            table.delete().where(table.c.name == name, table.c.requested_at == request.requested_at)
        ).rowcount
    if taken != 1:  # replaced by a newer request meanwhile: the next turn takes that one
        return None
    return request if request.stopped_position == stopped_position else None


def skip_note(request: ResumeRequest) -> str:
    return f"skipped by {request.requested_by} (operator request); the handler had failed"
