"""Copies of a read model at one position of the log: milestones and scratch generations.

A copy is a generation of the projection's tables outside the registry's live and
rebuilt ones: its row in `projection_copies` says whose it is, at which position, built by
which handlers (`model_version`), and whether it is still being built. Its tables are those
of generation `COPY_GENERATION_BASE + id` (`rm_account_summary_v1000007`), so a projection
names them through its own `define_tables`, as it does its live ones.

- a *milestone* is kept (until pruned) as the start of later as-of reads;
- a *scratch* generation answers as-of reads for a short while, then is dropped.

One copy of a moment at a time, across processes: the row's `moment` (kind, projection,
handlers' version, position) is unique, so the process whose insert wins (`claim_copy`)
builds the copy and the others find its row and wait for it to be ready. While building,
the builder renews its claim (`Heartbeat`) every third of `BUILD_LEASE_SECONDS`; a builder
that died stops renewing and its row expires.

A claim is its row's id *and* its `owner`, which names the claim itself: a builder that
was only stalled past its lease (not dead) may find its row dropped and the moment claimed
anew, on SQLite even under the same id and table names. Everything a builder does to its
copy is therefore fenced by the whole claim: each of its transactions first confirms the
claim stands (`hold`, which on PostgreSQL also keeps the row from being dropped until the
transaction ends), and a renewal, a finish or a drop touches only the row of that claim.
A stalled builder's late batch is refused (`ClaimLost`) and changes nothing.

Any row whose `expires_at` has passed (a scratch generation nobody renewed, or a copy
whose builder died) may be dropped by anyone: `drop_copy(..., expired_before=now)` deletes
the row only if it is still expired (a renewal that came first wins) and drops the tables
only if it was the one to delete it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace

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

BUILD_LEASE_SECONDS = 30.0
"""A copy being built whose builder has not renewed its claim for this long is abandoned."""


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
    owner: str
    """Who claimed it and which claim this is: a moment claimed anew has another owner."""

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
        owner=row.owner,
    )


class ClaimLost(RuntimeError):
    """A builder's claim on a copy lapsed and was dropped (it stalled past its lease): the
    copy is no longer its to write, finish or drop."""


def _this_claim(copy: Copy) -> list[sa.ColumnElement[bool]]:
    """The conditions that find `copy`'s row as claimed then, not a later claim that may
    have been given the same id."""
    c = schema.copies.c
    return [c.id == copy.id, c.owner == copy.owner]


def hold(conn: sa.Connection, copy: Copy) -> None:
    """At the start of a builder's transaction: confirm its claim on `copy` still stands
    and keep the row from being dropped until the transaction ends (on SQLite the write
    lock `BEGIN IMMEDIATE` took already does); ClaimLost if it is gone."""
    c = schema.copies.c
    found = conn.execute(
        sa.select(c.id)
        .where(*_this_claim(copy), c.state == BUILDING)
        .with_for_update(read=True, key_share=True)  # a renewal may still update it
    ).first()
    if found is None:
        msg = f"the claim on copy {copy.id} of {copy.name} lapsed and was dropped"
        raise ClaimLost(msg)


def moment_of(kind: str, name: str, model_version: int, position: int) -> str:
    """What a copy holds, as its unique `moment`: one copy of it at a time."""
    return f"{kind}:{name}:{model_version}:{position}"


def claim_copy(
    engine: sa.Engine,
    tables: TableSet,
    *,
    kind: str,
    position: int,
    owner: str,
    lease_seconds: float = BUILD_LEASE_SECONDS,
) -> Copy | None:
    """Register a copy being built (droppable by anyone once its claim lapses) and create its
    empty tables; None if a copy of this moment exists already (another process claimed it)."""
    projection = tables.projection
    now = time.time()
    moment = moment_of(kind, projection.name, projection.version, position)
    claim = f"{owner[:80]}#{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as conn:  # the row and its tables appear together
            copy_id = conn.execute(
                schema.copies.insert()
                .values(
                    name=projection.name,
                    kind=kind,
                    position=position,
                    model_version=projection.version,
                    state=BUILDING,
                    owner=claim,
                    created_at=now,
                    expires_at=now + lease_seconds,
                    moment=moment,
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
                claim,
            )
            metadata = tables.metadata(copy.generation)
            metadata.drop_all(conn, checkfirst=True)  # leftovers of a restored dump
            metadata.create_all(conn)
    except sa.exc.IntegrityError:
        return None
    return copy


def find_copy(
    engine: sa.Engine, name: str, kind: str, model_version: int, position: int
) -> Copy | None:
    """The copy of this moment, whatever its state, or None."""
    moment = moment_of(kind, name, model_version, position)
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        row = conn.execute(sa.select(schema.copies).where(schema.copies.c.moment == moment)).first()
    return None if row is None else _copy(row)


def is_ready(engine: sa.Engine, copy: Copy) -> bool:
    """Whether `copy`'s row is still there and built (a forget or a sweep may drop it)."""
    c = schema.copies.c
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        found = conn.execute(sa.select(c.id).where(*_this_claim(copy), c.state == READY)).first()
    return found is not None


def extend(engine: sa.Engine, copy: Copy, until: float) -> Copy | None:
    """Keep a copy that has not expired yet until at least `until`: the copy as it is now,
    or None if it has expired or is gone (a sweep may be dropping it)."""
    c = schema.copies.c
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            schema.copies.update()
            .where(
                *_this_claim(copy), c.state == copy.state, c.expires_at >= now, c.expires_at < until
            )
            .values(expires_at=until)
        )
        row = conn.execute(sa.select(schema.copies).where(*_this_claim(copy))).first()
    if row is None or row.state != copy.state or row.expires_at is None or row.expires_at < now:
        return None
    return _copy(row)


class Heartbeat:
    """Renews a building copy's claim every third of its lease until stopped (from a thread,
    and from the builder between its transactions: `beat_if_due`), so the copy expires
    `lease_seconds` after its builder dies, never while it lives.

        with Heartbeat(engine, copy):
            ...  # fill the copy
    """

    def __init__(
        self, engine: sa.Engine, copy: Copy, lease_seconds: float = BUILD_LEASE_SECONDS
    ) -> None:
        self.engine = engine
        self.copy = copy
        self.lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._beaten = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, name=f"copy-heartbeat-{copy.id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._beaten = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def beat_if_due(self) -> None:
        """Renew now if a third of the lease has passed since the last renewal: the builder
        calls this between its transactions, where SQLite's write lock is free (a beat from
        the thread may wait behind the builder's back-to-back writes)."""
        if time.monotonic() - self._beaten >= self.lease_seconds / 3:
            self._beat()

    def _beat(self) -> bool:
        try:
            if extend(self.engine, self.copy, time.time() + self.lease_seconds) is None:
                return False  # lapsed or dropped: the build finds its claim lost
            self._beaten = time.monotonic()
        except sa.exc.DBAPIError as exc:  # busy: the next beat tries again
            log.warning("could not renew the claim of copy %d: %s", self.copy.id, exc)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            if not self._beat():
                return


def finish_copy(engine: sa.Engine, copy: Copy, *, expires_at: float | None) -> Copy | None:
    """Mark a copy built; a scratch generation gets its expiry, a milestone none. None if
    its row is no longer a building one (a forget dropped it, or its claim lapsed and
    another process took the moment over)."""
    c = schema.copies.c
    with engine.begin() as conn:
        done = conn.execute(
            schema.copies.update()
            .where(*_this_claim(copy), c.state == BUILDING)
            .values(state=READY, expires_at=expires_at)
        ).rowcount
    return replace(copy, state=READY, expires_at=expires_at) if done else None


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


def drop_copy(
    engine: sa.Engine, tables: TableSet, copy: Copy, *, expired_before: float | None = None
) -> bool:
    """Delete the copy's row (with `expired_before`: only if its expiry is still before that
    time, so a renewal that came first wins) and, if this call deleted it, drop its tables;
    True if it did."""
    c = schema.copies.c
    where = _this_claim(copy)
    if expired_before is not None:
        where += [c.expires_at.is_not(None), c.expires_at < expired_before]
    with engine.begin() as conn:
        deleted = conn.execute(schema.copies.delete().where(*where)).rowcount
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
            dropped += drop_copy(engine, tables, copy, expired_before=now)
        except sa.exc.DBAPIError as exc:  # busy or dropped meanwhile: the next sweep retries
            log.warning("could not drop copy %d of %s: %s", copy.id, copy.name, exc)
    return dropped
