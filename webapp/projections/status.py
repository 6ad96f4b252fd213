"""How each unit is doing, for the dashboard and the CLI: state, position, lag, rate, errors.

A unit's row in `projection_status` is written by the worker running it; a row whose
heartbeat is older than STALE_AFTER_SECONDS belongs to no running worker, so the unit
shows as idle (or stopped, which stays until resumed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from webapp.projections import controls, schema
from webapp.projections.consistency import live_positions
from webapp.projections.process_views import count_pending_timeouts
from webapp.projections.resume import pending_request
from webapp.projections.schema import iso
from webapp.projections.timeouts import TimeoutRunner
from webapp.store import EventStore

STALE_AFTER_SECONDS = 10.0


def unit_statuses(
    store: EventStore, projections: Sequence[str], processes: Sequence[str]
) -> list[dict[str, Any]]:
    """Each named projection, then each process manager, then the timer if there are any."""
    engine = store.engine
    head = store.head_position()
    positions = live_positions(engine, projections)
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        rows = {r.name: r for r in conn.execute(sa.select(schema.status))}
        registry = {r.name: r for r in conn.execute(sa.select(schema.registry))}
        errors: dict[str, int] = dict(
            conn.execute(
                sa.select(schema.errors.c.name, sa.func.count()).group_by(schema.errors.c.name)
            ).all()
        )
        paused = controls.all_paused(conn)
        parked = controls.count_dead_letters(conn)
        pm_positions = dict(
            conn.execute(
                sa.select(schema.checkpoints.c.name, schema.checkpoints.c.position).where(
                    schema.checkpoints.c.generation == 0
                )
            ).all()
        )
    out = [
        status_item(
            store,
            name,
            "projection",
            positions.get(name, 0),
            head,
            rows.get(name),
            registry.get(name),
            errors.get(name, 0),
            paused.get(name),
            parked.get(name, 0),
        )
        for name in projections
    ]
    out += [
        status_item(
            store,
            name,
            "process_manager",
            int(pm_positions.get(name, 0)),
            head,
            rows.get(name),
            None,
            errors.get(name, 0),
            paused.get(name),
            parked.get(name, 0),
        )
        for name in processes
    ]
    if processes:
        row = rows.get(TimeoutRunner.name)
        item = status_item(store, TimeoutRunner.name, "timer", head, head, row, None, 0)
        item["pending_timeouts"] = count_pending_timeouts(engine)
        out.append(item)
    return out


def status_item(
    store: EventStore,
    name: str,
    kind: str,
    position: int,
    head: int,
    row: sa.Row[Any] | None,
    registry_row: sa.Row[Any] | None,
    error_count: int,
    paused: dict[str, Any] | None = None,
    dead_letters: int = 0,
) -> dict[str, Any]:
    """One unit's status from its `projection_status` and `projection_registry` rows; a
    paused unit (`paused`: who paused it, when) shows as "paused" unless it is stopped."""
    now = time.time()
    fresh = row is not None and now - row.heartbeat_at < STALE_AFTER_SECONDS
    if row is None:
        state = "idle"
    elif row.state == "stopped":
        state = "stopped"
    else:
        state = row.state if fresh else "idle"
    if paused is not None and state != "stopped":
        state = "paused"
    elif state == "paused":  # resumed; its worker has not written since
        state = "catching_up"
    lag_events = max(head - position, 0)
    lag_seconds = 0.0
    if lag_events:
        pending = store.read_all(after=position, limit=1)
        if pending:
            lag_seconds = max(now - pending[0].recorded_at.timestamp(), 0.0)
    rebuild = None
    if registry_row is not None and (
        registry_row.rebuild_generation is not None or registry_row.rebuild_requested_at is not None
    ):
        done = row.rebuild_position if row is not None and row.rebuild_position else 0
        target = row.rebuild_target if row is not None and row.rebuild_target else head
        percent = 100.0 if target <= 0 else min(100.0, 100.0 * done / target)
        rebuild = {
            "requested": registry_row.rebuild_generation is None,
            "generation": registry_row.rebuild_generation,
            "position": done,
            "target": target,
            "percent": round(percent, 1),
            # a preview (webapp.projections.preview): held beside the live generation
            "held": bool(registry_row.rebuild_hold),
            "held_by": registry_row.hold_requested_by,
            "decision": registry_row.preview_decision,
            "decided_by": registry_row.decided_by,
        }
    return {
        "name": name,
        "kind": kind,
        "state": state,
        "position": position,
        "head": head,
        "lag_events": lag_events,
        "lag_seconds": round(lag_seconds, 3),
        "events_per_second": float(row.events_per_second) if row is not None and fresh else 0.0,
        "last_error": row.last_error if row is not None else None,
        "error_position": row.error_position if row is not None else None,
        "errors_recorded": int(error_count),
        "paused": paused,
        "dead_letters": int(dead_letters),
        "generation": registry_row.live_generation if registry_row is not None else None,
        "rebuild": rebuild,
        "rebuild_percent": rebuild["percent"] if rebuild else None,
        "worker": row.worker if row is not None and fresh else None,
        "heartbeat_at": iso(row.heartbeat_at) if row is not None else None,
    }


def recorded_errors(
    engine: sa.Engine, name: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The events units skipped or stopped at, newest first (of unit `name`, or all)."""
    table = schema.errors
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if name is not None:
        query = query.where(table.c.name == name)
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return [
            {
                "name": r.name,
                "position": int(r.position),
                "event_id": r.event_id,
                "event_type": r.event_type,
                "outcome": r.outcome,
                "error": r.error,
                "recorded_at": iso(r.recorded_at),
            }
            for r in conn.execute(query)
        ]


def pending_resume(engine: sa.Engine, name: str) -> dict[str, Any] | None:
    """The resume request `name`'s worker has not carried out yet, if any."""
    request = pending_request(engine, name)
    if request is None:
        return None
    skip = request.stopped_position if request.skip else None
    return {"skip_position": skip, "by": request.requested_by}


def progress_history(engine: sa.Engine, since: float) -> list[dict[str, Any]]:
    """Each unit's minutes since `since` (unix time): name, kind, minute (unix time of its
    start), position and head as last seen in it and when (at); by name, then minute."""
    first = int(since // 60)
    table = schema.progress
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        rows = conn.execute(
            sa.select(
                table.c.name,
                table.c.kind,
                table.c.minute,
                table.c.position,
                table.c.head,
                table.c.at,
            )
            .where(table.c.minute >= first)
            .order_by(table.c.name, table.c.minute)
        ).all()
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "minute": int(r.minute) * 60,
            "position": int(r.position),
            "head": int(r.head),
            "at": float(r.at),
        }
        for r in rows
    ]
