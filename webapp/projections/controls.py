"""An operator's controls over a unit, kept in the store for whichever worker runs it.

pause(engine, "account_summary", actor="ada")      # the worker stops applying events
unpause(engine, "account_summary", actor="ada")
park(conn, "ledger", generation, event, error)     # the "park" failure policy
dead_letters(engine, "ledger")                     # what is parked, oldest first
request_retry(engine, "ledger", 42, actor="ada")   # the worker applies event 42 again
skip_parked(engine, "ledger", 42, actor="ada")     # event 42 leaves the list, unapplied
operator_log(engine, "ledger")                     # who did what, newest first

The web process, the CLI and the worker may run on different hosts: a pause and a retry
are rows the worker reads on each turn of its loop; nothing compares clocks. Every
operator action is written to `projection_operator_log` with its actor and time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from webapp.projections import schema
from webapp.projections.schema import iso
from webapp.store.types import RecordedEvent

MAX_ACTOR = 200


def log_action(
    conn: sa.Connection,
    name: str,
    action: str,
    actor: str,
    *,
    position: int | None = None,
    detail: str | None = None,
) -> None:
    """Append one operator action to `projection_operator_log` (in the caller's transaction)."""
    conn.execute(
        schema.operator_log.insert().values(
            name=name,
            action=action,
            position=position,
            actor=actor[:MAX_ACTOR],
            detail=detail[:4000] if detail else None,
            at=time.time(),
        )
    )


def operator_log(engine: sa.Engine, name: str, limit: int = 50) -> list[dict[str, Any]]:
    """The operator actions on unit `name`, newest first."""
    table = schema.operator_log
    query = sa.select(table).where(table.c.name == name).order_by(table.c.id.desc()).limit(limit)
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return [
            {
                "action": r.action,
                "position": None if r.position is None else int(r.position),
                "by": r.actor,
                "at": iso(r.at),
                "detail": r.detail,
            }
            for r in conn.execute(query)
        ]


# --- pause and resume -----------------------------------------------------------------------


def pause(engine: sa.Engine, name: str, *, actor: str) -> bool:
    """Pause `name`; False if it was already paused (then nothing changes)."""
    table = schema.pauses
    with engine.begin() as conn:
        if conn.execute(sa.select(table.c.name).where(table.c.name == name)).first():
            return False
        conn.execute(
            table.insert().values(name=name, paused_by=actor[:MAX_ACTOR], paused_at=time.time())
        )
        log_action(conn, name, "pause", actor)
    return True


def unpause(engine: sa.Engine, name: str, *, actor: str) -> bool:
    """Lift the pause of `name`; False if it was not paused."""
    table = schema.pauses
    with engine.begin() as conn:
        if conn.execute(table.delete().where(table.c.name == name)).rowcount != 1:
            return False
        log_action(conn, name, "resume", actor)
    return True


def paused(engine: sa.Engine, name: str) -> dict[str, Any] | None:
    """`{"by": ..., "at": ...}` while `name` is paused, else None."""
    table = schema.pauses
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        row = conn.execute(sa.select(table).where(table.c.name == name)).first()
    return None if row is None else {"by": row.paused_by, "at": iso(row.paused_at)}


def all_paused(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """Every paused unit's `{"by", "at"}`, by name."""
    return {
        r.name: {"by": r.paused_by, "at": iso(r.paused_at)}
        for r in conn.execute(sa.select(schema.pauses))
    }


# --- dead letters -----------------------------------------------------------------------------


def park(conn: sa.Connection, name: str, generation: int, event: RecordedEvent, error: str) -> None:
    """Park `event` for unit `name` (in the caller's transaction, which also moves the
    checkpoint past it); parking it again replaces the error and counts the attempt."""
    table = schema.dead_letters
    key = (
        table.c.name == name,
        table.c.generation == generation,
        table.c.position == event.position,
    )
    found = conn.execute(sa.select(table.c.attempts).where(*key)).scalar()
    if found is not None:
        conn.execute(
            table.update()
            .where(*key)
            .values(error=error[:4000], parked_at=time.time(), attempts=int(found) + 1)
        )
        return
    conn.execute(
        table.insert().values(
            name=name,
            generation=generation,
            position=event.position,
            event_id=str(event.event_id),
            event_type=event.type,
            error=error[:4000],
            parked_at=time.time(),
            attempts=1,
        )
    )


def _letter(row: sa.Row[Any]) -> dict[str, Any]:
    retry = None
    if row.retry_requested_by is not None:
        retry = {"by": row.retry_requested_by, "at": iso(row.retry_requested_at)}
    return {
        "position": int(row.position),
        "generation": int(row.generation),
        "event_id": row.event_id,
        "event_type": row.event_type,
        "error": row.error,
        "parked_at": iso(row.parked_at),
        "attempts": int(row.attempts),
        "retry_requested": retry,
    }


def dead_letters(
    engine: sa.Engine, name: str, *, after: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """The events parked for unit `name` after position `after`, oldest first."""
    table = schema.dead_letters
    query = (
        sa.select(table)
        .where(table.c.name == name, table.c.position > after)
        .order_by(table.c.position, table.c.generation)
        .limit(limit)
    )
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return [_letter(r) for r in conn.execute(query)]


def count_dead_letters(conn: sa.Connection) -> dict[str, int]:
    """How many events each unit has parked, by name."""
    table = schema.dead_letters
    return {
        name: int(count)
        for name, count in conn.execute(
            sa.select(table.c.name, sa.func.count()).group_by(table.c.name)
        )
    }


def is_parked(engine: sa.Engine, name: str, position: int) -> bool:
    table = schema.dead_letters
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        found = conn.execute(
            sa.select(table.c.position).where(table.c.name == name, table.c.position == position)
        ).first()
    return found is not None


def request_retry(engine: sa.Engine, name: str, position: int, *, actor: str) -> bool:
    """Ask the worker to apply parked event `position` again; False if it is not parked."""
    table = schema.dead_letters
    with engine.begin() as conn:
        marked = conn.execute(
            table.update()
            .where(table.c.name == name, table.c.position == position)
            .values(retry_requested_by=actor[:MAX_ACTOR], retry_requested_at=time.time())
        ).rowcount
        if not marked:
            return False
        log_action(conn, name, "retry_requested", actor, position=position)
    return True


def skip_parked(
    engine: sa.Engine, name: str, position: int, *, actor: str
) -> dict[str, Any] | None:
    """Drop parked event `position` from the list unapplied; the letter, or None if it was
    not parked."""
    table = schema.dead_letters
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(table).where(table.c.name == name, table.c.position == position)
        ).first()
        if row is None:
            return None
        conn.execute(table.delete().where(table.c.name == name, table.c.position == position))
        log_action(
            conn, name, "skipped", actor, position=position, detail=f"parked with: {row.error}"
        )
    return _letter(row)


def _retry_requests() -> sa.Select[Any]:
    """The parked events an operator asked to retry, oldest first."""
    table = schema.dead_letters
    return (
        sa.select(table)
        .where(table.c.retry_requested_at.is_not(None))
        .order_by(table.c.position, table.c.generation)
    )


def retries_requested(engine: sa.Engine, name: str) -> list[sa.Row[Any]]:
    """The parked events of `name` an operator asked to retry, oldest first."""
    query = _retry_requests().where(schema.dead_letters.c.name == name)
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return list(conn.execute(query))


@dataclass(frozen=True)
class RoundControls:
    """What operators asked of every unit, read once for a round of the worker's loop."""

    paused: dict[str, dict[str, Any]]
    retries: dict[str, list[sa.Row[Any]]]


def controls_for_round(engine: sa.Engine) -> RoundControls:
    """Every pause and every requested retry, on one connection (the worker asks each round;
    one read per unit each would be two statements per projection per round)."""
    retries: dict[str, list[sa.Row[Any]]] = {}
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        paused = all_paused(conn)
        for row in conn.execute(_retry_requests()):
            retries.setdefault(row.name, []).append(row)
    return RoundControls(paused, retries)


def retried(conn: sa.Connection, row: sa.Row[Any]) -> None:
    """The retry of `row` succeeded: it leaves the list (in the transaction that applied it)."""
    table = schema.dead_letters
    conn.execute(
        table.delete().where(
            table.c.name == row.name,
            table.c.generation == row.generation,
            table.c.position == row.position,
        )
    )
    log_action(
        conn, row.name, "retried", row.retry_requested_by or "unknown", position=int(row.position)
    )


def retry_failed(engine: sa.Engine, row: sa.Row[Any], error: str) -> None:
    """The retry of `row` failed again: it stays parked with the new error."""
    table = schema.dead_letters
    with engine.begin() as conn:
        conn.execute(
            table.update()
            .where(
                table.c.name == row.name,
                table.c.generation == row.generation,
                table.c.position == row.position,
            )
            .values(
                error=error[:4000],
                attempts=table.c.attempts + 1,
                retry_requested_by=None,
                retry_requested_at=None,
            )
        )
        log_action(
            conn,
            row.name,
            "retry_failed",
            row.retry_requested_by or "unknown",
            position=int(row.position),
            detail=error,
        )


def forget_generation(conn: sa.Connection, name: str, generation: int) -> None:
    """Drop the letters of a generation whose tables are dropped (a rebuild replaced it)."""
    table = schema.dead_letters
    conn.execute(table.delete().where(table.c.name == name, table.c.generation == generation))
