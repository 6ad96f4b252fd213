"""A projection's generations: the live one readers see, and the one a rebuild fills.

Each generation has its own read-model tables (`rm_account_summary_v3`) and its own
checkpoint. The registry row (`projection_registry`) names the live generation and,
while a rebuild runs, the one being filled beside it. A rebuild starts when its
request is seen, fills generation N+1 batch by batch, and switches the registry row
once N+1 has caught up with N; the old tables are then dropped, so readers only ever
see a complete generation. A rebuild held for preview (`rebuild_hold`,
webapp.projections.preview) is not switched in when caught up: it waits for an admin's
decision to switch or discard it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import sqlalchemy as sa

from webapp.database.upserts import insert_ignore
from webapp.projections import schema
from webapp.projections.controls import forget_generation, log_action
from webapp.projections.leadership import lock_key
from webapp.projections.projection import Projection

log = logging.getLogger(__name__)

Fence = Callable[[sa.Connection], None]
"""Raises unless the caller still holds the projection's leadership (checked in `conn`)."""

REQUEST_POLL_SECONDS = 0.25
VERSION_BUMP = "model version bump"
"""Who asked for a preview the worker started itself (`hold_requested_by`)."""


NO_HOLD = {
    "rebuild_hold": None,
    "hold_requested_by": None,
    "preview_decision": None,
    "decided_by": None,
}
"""The registry values of a projection with no preview held."""


class TableSet:
    """Per-generation table objects of one projection (pure metadata, no DB access)."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self._cache: dict[int, tuple[sa.MetaData, dict[str, sa.Table]]] = {}
        self._lock = threading.Lock()

    def tables(self, generation: int) -> dict[str, sa.Table]:
        return self._entry(generation)[1]

    def metadata(self, generation: int) -> sa.MetaData:
        return self._entry(generation)[0]

    def _entry(self, generation: int) -> tuple[sa.MetaData, dict[str, sa.Table]]:
        with self._lock:
            entry = self._cache.get(generation)
            if entry is None:
                md = sa.MetaData()
                entry = (md, self.projection.define_tables(md, generation))
                self._cache[generation] = entry
            return entry

    def forget(self, generation: int) -> None:
        with self._lock:
            self._cache.pop(generation, None)


def registered_generation(conn: sa.Connection, name: str) -> int | None:
    """The live generation of `name`, or None if it is not registered."""
    row = conn.execute(
        sa.select(schema.registry.c.live_generation).where(schema.registry.c.name == name)
    ).first()
    return None if row is None else int(row[0])


def registered_generations(engine: sa.Engine, name: str) -> list[int]:
    """The live generation of `name` and the one being rebuilt, if any (none if unregistered)."""
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        row = conn.execute(sa.select(schema.registry).where(schema.registry.c.name == name)).first()
    if row is None:
        return []
    return [g for g in (row.live_generation, row.rebuild_generation) if g is not None]


def ensure_registered(engine: sa.Engine, projection: Projection, table_set: TableSet) -> int:
    """Create the registry row, generation 1's tables and checkpoint if missing.

    Returns the live generation.
    """
    name = projection.name
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two processes starting on a new database
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(f"register:{name}"))))
        generation = registered_generation(conn, name)
        if generation is not None:
            return generation
        table_set.metadata(1).create_all(conn, checkfirst=True)
        now = time.time()
        insert_ignore(
            conn,
            schema.checkpoints,
            {"name": name, "generation": 1, "position": 0, "updated_at": now},
        )
        insert_ignore(
            conn,
            schema.registry,
            {
                "name": name,
                "live_generation": 1,
                "updated_at": now,
                "model_version": projection.version,
            },
        )
        return registered_generation(conn, name) or 1


def request_rebuild(
    engine: sa.Engine, name: str, after: int = 0, *, hold_for: str | None = None
) -> None:
    """Ask the worker that runs `name` to rebuild it from the events after position `after`
    (0: all of them; a no-op if one is already under way). With `hold_for` (who asks), the
    rebuild is a preview: held beside the live generation once caught up, not switched in."""
    with engine.begin() as conn:
        done = conn.execute(
            schema.registry.update()
            .where(schema.registry.c.name == name)
            .values(
                rebuild_requested_at=time.time(),
                rebuild_from=after or None,
                rebuild_hold=True if hold_for is not None else None,
                hold_requested_by=hold_for[:200] if hold_for is not None else None,
                preview_decision=None,
                decided_by=None,
            )
        ).rowcount
    if done != 1:
        msg = f"unknown projection {name!r} (or it has never been started)"
        raise KeyError(msg)


class Generations:
    """One projection's generations as its runner holds them: the live one, the one a
    rebuild fills (None when no rebuild runs), whether that rebuild is held for preview,
    and each one's checkpoint position.

    `hold_version_bumps`: the rebuild a model-version bump asks for is held for preview
    (EVENTSCOPE_PREVIEW_REBUILDS=1) instead of switching in once caught up.
    """

    def __init__(
        self,
        engine: sa.Engine,
        projection: Projection,
        tables: TableSet,
        *,
        hold_version_bumps: bool = False,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.name = projection.name
        self.tables = tables
        self.hold_version_bumps = hold_version_bumps
        self.live: int | None = None
        self.rebuild: int | None = None
        self.held = False
        self.live_outdated = False
        """The live generation was built by handlers older than `projection.version`."""
        self.positions: dict[int, int] = {}
        self._checked_at = 0.0
        self._decision_checked_at = 0.0

    def load(self) -> None:
        """Read (or create) the registry row and the checkpoints.

        A model built by handlers older than `projection.version` gets a rebuild
        requested: reads stay on the old generation until the new one switches in.
        """
        ensure_registered(self.engine, self.projection, self.tables)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(schema.registry).where(schema.registry.c.name == self.name)
            ).one()
            self.live = row.live_generation
            self.rebuild = row.rebuild_generation
            self.held = self.rebuild is not None and bool(row.rebuild_hold)
            outdated = (row.model_version or 1) < self.projection.version
            self.live_outdated = outdated
            if outdated and row.rebuild_generation is None and row.rebuild_requested_at is None:
                hold = self.hold_version_bumps
                conn.execute(
                    schema.registry.update()
                    .where(schema.registry.c.name == self.name)
                    .values(
                        rebuild_requested_at=time.time(),
                        rebuild_hold=True if hold else None,
                        hold_requested_by=VERSION_BUMP if hold else None,
                    )
                )
                self.check_request_soon()
            self._decision_checked_at = 0.0
            self.tables.metadata(self.live).create_all(conn, checkfirst=True)
            self.positions = {
                int(r.generation): int(r.position)
                for r in conn.execute(
                    sa.select(schema.checkpoints).where(schema.checkpoints.c.name == self.name)
                )
            }
        self.positions.setdefault(self.live, 0)
        if self.rebuild is not None:
            self.positions.setdefault(self.rebuild, 0)

    @property
    def live_frozen(self) -> bool:
        """A live generation built by older handlers is not fed by the running (newer) ones
        while their preview is held, or at all when bumps are held for preview: they may
        not fit its tables nor build what the old version would. Readers see it as of its
        position until the switch, and the preview is compared with it there."""
        return self.live_outdated and (self.held or self.hold_version_bumps)

    @property
    def live_position(self) -> int:
        return self.positions.get(self.live or 0, 0)

    def request(self, after: int = 0) -> None:
        """Ask for a rebuild of this projection (of the events after `after`) and look for
        the request at once."""
        request_rebuild(self.engine, self.name, after)
        self.check_request_soon()

    def check_request_soon(self) -> None:
        """Make the next `rebuild_requested()` read the registry whatever the time."""
        self._checked_at = 0.0

    def rebuild_requested(self) -> bool:
        """True if no rebuild runs and one was asked for (the registry is read at most
        every REQUEST_POLL_SECONDS)."""
        now = time.monotonic()
        if self.rebuild is not None or now - self._checked_at < REQUEST_POLL_SECONDS:
            return False
        self._checked_at = now
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            requested = conn.execute(
                sa.select(schema.registry.c.rebuild_requested_at).where(
                    schema.registry.c.name == self.name
                )
            ).scalar()
        return requested is not None

    def start_rebuild(self, fence: Fence) -> int | None:
        """Create the next generation's tables and checkpoint and register it as the one
        being rebuilt; returns it (None when the request was withdrawn meanwhile: a
        preview discarded before it started)."""
        generation = max(self.positions) + 1
        metadata = self.tables.metadata(generation)
        registry = schema.registry
        with self.engine.begin() as conn:
            fence(conn)
            row = conn.execute(
                sa.select(registry.c.rebuild_from, registry.c.rebuild_hold).where(
                    registry.c.name == self.name
                )
            ).one()
            start = int(row.rebuild_from or 0)
            taken = conn.execute(
                registry.update()
                .where(registry.c.name == self.name, registry.c.rebuild_requested_at.is_not(None))
                .values(
                    rebuild_generation=generation,
                    rebuild_requested_at=None,
                    rebuild_from=None,
                    updated_at=time.time(),
                )
            ).rowcount
            if taken != 1:
                return None
            metadata.drop_all(conn, checkfirst=True)  # leftovers of an abandoned attempt
            metadata.create_all(conn)
            conn.execute(
                schema.checkpoints.delete().where(
                    schema.checkpoints.c.name == self.name,
                    schema.checkpoints.c.generation == generation,
                )
            )
            conn.execute(
                schema.checkpoints.insert().values(
                    name=self.name, generation=generation, position=start, updated_at=time.time()
                )
            )
            forget_generation(conn, self.name, generation)  # letters of an abandoned attempt
        self.rebuild = generation
        self.held = bool(row.rebuild_hold)
        self.positions[generation] = start
        self._decision_checked_at = 0.0
        log.info(
            "projection %s: %s into generation %d from position %d",
            self.name,
            "building a preview" if self.held else "rebuilding",
            generation,
            start,
        )
        return generation

    def decision(self) -> tuple[str, str] | None:
        """An admin's decision on the held preview, `(action, actor)` with action "switch"
        or "discard", or None (the registry is read at most every REQUEST_POLL_SECONDS)."""
        now = time.monotonic()
        if not self.held or now - self._decision_checked_at < REQUEST_POLL_SECONDS:
            return None
        self._decision_checked_at = now
        registry = schema.registry
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            row = conn.execute(
                sa.select(registry.c.preview_decision, registry.c.decided_by).where(
                    registry.c.name == self.name
                )
            ).first()
        if row is None or row.preview_decision not in ("switch", "discard"):
            return None
        return str(row.preview_decision), str(row.decided_by or "unknown")

    def check_decision_soon(self) -> None:
        """Make the next `decision()` read the registry whatever the time."""
        self._decision_checked_at = 0.0

    def discard(self, fence: Fence, *, actor: str) -> None:
        """Drop the held preview's tables, checkpoint and letters; the live one stays."""
        old = self.rebuild
        assert old is not None
        with self.engine.begin() as conn:
            fence(conn)
            conn.execute(
                schema.registry.update()
                .where(schema.registry.c.name == self.name)
                .values(rebuild_generation=None, updated_at=time.time(), **NO_HOLD)
            )
            self._drop_generation(conn, old)
            log_action(
                conn,
                self.name,
                "preview_discarded",
                actor,
                position=self.positions.get(old),
                detail=f"generation {old} dropped; generation {self.live} stays live",
            )
        self.rebuild, self.held = None, False
        self.positions.pop(old, None)
        self.tables.forget(old)
        log.info("projection %s: preview generation %d discarded by %s", self.name, old, actor)

    def _drop_generation(self, conn: sa.Connection, generation: int) -> None:
        """Drop a generation that is no longer live nor filled: checkpoint, records, tables."""
        conn.execute(
            schema.checkpoints.delete().where(
                schema.checkpoints.c.name == self.name,
                schema.checkpoints.c.generation == generation,
            )
        )
        forget_generation(conn, self.name, generation)
        self.tables.metadata(generation).drop_all(conn, checkfirst=True)

    def switch(self, fence: Fence, *, actor: str | None = None) -> None:
        """Make the rebuilt generation live and drop the old one's tables and checkpoint
        (`actor`: the admin whose decision switches a held preview in, logged)."""
        old, new = self.live, self.rebuild
        assert old is not None and new is not None
        with self.engine.begin() as conn:
            fence(conn)
            conn.execute(
                schema.registry.update()
                .where(schema.registry.c.name == self.name)
                .values(
                    live_generation=new,
                    rebuild_generation=None,
                    updated_at=time.time(),
                    model_version=self.projection.version,
                    **NO_HOLD,
                )
            )
            if actor is not None:
                log_action(
                    conn,
                    self.name,
                    "preview_switched",
                    actor,
                    position=self.positions.get(new),
                    detail=f"generation {new} is live; generation {old} dropped",
                )
            self._drop_generation(conn, old)
        self.live, self.rebuild, self.held = new, None, False
        self.live_outdated = False
        self.positions.pop(old, None)
        self.tables.forget(old)
        log.info("projection %s: generation %d is live (was %d)", self.name, new, old)
