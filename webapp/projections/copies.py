"""Copies of a read model at one position of the log: milestones and scratch generations.

A copy is a generation of the projection's tables outside the registry's live and
rebuilt ones: its row in `projection_copies` says whose it is, at which position, built by
which handlers (`model_version`), and whether it is still being built. Its tables are those
of generation `COPY_GENERATION_BASE + id` (`rm_account_summary_v1000007`), so a projection
names them through its own `define_tables`, as it does its live ones.

- a *milestone* is kept (until pruned) as the start of later as-of reads;
- a *scratch* generation answers as-of reads for a short while, then is dropped.

Any row whose `expires_at` has passed (a scratch generation nobody renewed, or a copy
whose builder died) may be dropped by anyone: `drop_expired` deletes the row first and
drops the tables only if it was the one to delete it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.projections import schema
from webapp.projections.generations import TableSet

log = logging.getLogger(__name__)

COPY_GENERATION_BASE = 1_000_000
"""Copies' generations start here, far above any a rebuild reaches."""

MILESTONE = "milestone"
SCRATCH = "scratch"
BUILDING = "building"
READY = "ready"


@dataclass(frozen=True)
class Copy:
    """One row of `projection_copies`."""

    id: int
    name: str
    kind: str
    position: int
    model_version: int
    state: str
    expires_at: float | None

    @property
    def generation(self) -> int:
        return COPY_GENERATION_BASE + self.id


def _copy(row: sa.Row) -> Copy:
    return Copy(
        id=int(row.id),
        name=row.name,
        kind=row.kind,
        position=int(row.position),
        model_version=int(row.model_version),
        state=row.state,
        expires_at=row.expires_at,
    )


def start_copy(
    engine: sa.Engine,
    tables: TableSet,
    *,
    kind: str,
    position: int,
    owner: str,
    lease_seconds: float,
) -> Copy:
    """Register a copy being built (droppable by anyone after `lease_seconds`) and create
    its empty tables."""
    projection = tables.projection
    now = time.time()
    with engine.begin() as conn:  # the row and its tables appear together
        copy_id = conn.execute(
            schema.copies.insert()
            .values(
                name=projection.name,
                kind=kind,
                position=position,
                model_version=projection.version,
                state=BUILDING,
                owner=owner,
                created_at=now,
                expires_at=now + lease_seconds,
            )
            .returning(schema.copies.c.id)
        ).scalar_one()
        copy = Copy(
            int(copy_id),
            projection.name,
            kind,
            position,
            projection.version,
            BUILDING,
            now + lease_seconds,
        )
        metadata = tables.metadata(copy.generation)
        metadata.drop_all(conn, checkfirst=True)  # leftovers of a database restored from a dump
        metadata.create_all(conn)
    return copy


def finish_copy(engine: sa.Engine, copy: Copy, *, expires_at: float | None) -> Copy:
    """Mark a copy built; a scratch generation gets its expiry, a milestone none."""
    with engine.begin() as conn:
        conn.execute(
            schema.copies.update()
            .where(schema.copies.c.id == copy.id)
            .values(state=READY, expires_at=expires_at)
        )
    return Copy(copy.id, copy.name, copy.kind, copy.position, copy.model_version, READY, expires_at)


def fill_from(
    conn: sa.Connection, source: dict[str, sa.Table], target: dict[str, sa.Table]
) -> None:
    """Copy every row of one generation's tables into another's (same projection)."""
    for logical, table in source.items():
        into = target[logical]
        columns = [c.name for c in table.columns]
        conn.execute(into.insert().from_select(columns, sa.select(*table.columns)))


def ready_milestones(engine: sa.Engine, name: str, model_version: int) -> list[Copy]:
    """The milestones of projection `name` built by handlers of `model_version`, oldest first."""
    c = schema.copies.c
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        rows = conn.execute(
            sa.select(schema.copies)
            .where(
                c.name == name,
                c.kind == MILESTONE,
                c.state == READY,
                c.model_version == model_version,
            )
            .order_by(c.position)
        ).all()
    return [_copy(r) for r in rows]


def copies_of(engine: sa.Engine, name: str, kind: str | None = None) -> list[Copy]:
    """Every copy of projection `name` (of one kind when given), whatever its state."""
    c = schema.copies.c
    query = sa.select(schema.copies).where(c.name == name).order_by(c.id)
    if kind is not None:
        query = query.where(c.kind == kind)
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return [_copy(r) for r in conn.execute(query)]


def drop_copy(engine: sa.Engine, tables: TableSet, copy: Copy) -> bool:
    """Delete the copy's row and, if this call deleted it, drop its tables; True if it did."""
    with engine.begin() as conn:
        deleted = conn.execute(schema.copies.delete().where(schema.copies.c.id == copy.id)).rowcount
        if deleted:
            tables.metadata(copy.generation).drop_all(conn, checkfirst=True)
    tables.forget(copy.generation)
    return bool(deleted)


def drop_expired(engine: sa.Engine, table_sets: dict[str, TableSet]) -> int:
    """Drop every copy whose expiry has passed (any owner: leftovers of a stopped process
    included) of the projections in `table_sets`; how many were dropped."""
    c = schema.copies.c
    now = time.time()
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        rows = conn.execute(
            sa.select(schema.copies).where(c.expires_at.is_not(None), c.expires_at < now)
        ).all()
    dropped = 0
    for row in rows:
        copy = _copy(row)
        tables = table_sets.get(copy.name)
        if tables is None:  # a projection this process does not know: its owner's business
            continue
        try:
            dropped += drop_copy(engine, tables, copy)
        except sa.exc.DBAPIError as exc:  # busy or dropped meanwhile: the next sweep retries
            log.warning("could not drop copy %d of %s: %s", copy.id, copy.name, exc)
    return dropped
