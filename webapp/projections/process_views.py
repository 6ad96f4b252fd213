"""What the process managers hold, for people: their instances and their timeouts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from webapp.projections import schema
from webapp.projections.schema import iso


def process_instances(
    engine: sa.Engine,
    process: str | None = None,
    *,
    status: str | None = None,
    instance_id: str | None = None,
    before: tuple[float, str, str] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Process-manager instances, most recently active first.

    `before` is the `cursor` of the last instance of a page: the next page starts
    after it (keyset, on an index of (updated_at, process, instance_id))."""
    table = schema.process_instances
    key = (table.c.updated_at, table.c.process, table.c.instance_id)
    query = sa.select(table).order_by(*(c.desc() for c in key)).limit(limit)
    if process is not None:
        query = query.where(table.c.process == process)
    if status is not None:
        query = query.where(table.c.status == status)
    if instance_id is not None:
        query = query.where(table.c.instance_id == instance_id)
    if before is not None:
        query = query.where(sa.tuple_(*key) < sa.tuple_(*before))
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return [
            {
                "process": r.process,
                "instance_id": r.instance_id,
                "status": r.status,
                "state": r.state,
                "last_position": int(r.last_position),
                "started_at": iso(r.started_at),
                "updated_at": iso(r.updated_at),
                "cursor": [r.updated_at, r.process, r.instance_id],
            }
            for r in conn.execute(query)
        ]


def pending_timeouts(
    engine: sa.Engine, *, limit: int = 100, include_done: bool = False
) -> list[dict[str, Any]]:
    """Timeouts not fired yet, soonest first (with `include_done`, the others too)."""
    table = schema.process_timeouts
    query = sa.select(table).order_by(table.c.due_at).limit(limit)
    if not include_done:
        query = query.where(table.c.status == "pending")
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return [
            {
                "process": r.process,
                "instance_id": r.instance_id,
                "name": r.name,
                "due_at": iso(r.due_at),
                "command": r.command_type,
                "data": r.command_data,
                "status": r.status,
                "outcome": r.outcome,
                "fired_at": iso(r.fired_at) if r.fired_at else None,
            }
            for r in conn.execute(query)
        ]


def count_pending_timeouts(engine: sa.Engine) -> int:
    table = schema.process_timeouts
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.status == "pending")
            ).scalar()
            or 0
        )
