"""Milestones: a read model's tables kept as they stood at every N-th position of the log.

An as-of read starts from the nearest milestone at or before its position and replays only
the rest. A milestone at position M is built honestly, like any as-of generation: from the
milestone before it (or empty tables) by the projection's own handlers over the events up
to M, never copied from the live tables (which a retried dead letter may have changed out
of order). The projection worker takes them as its live position passes each multiple of
`every` (`MilestoneKeeper.after_step`); `Projections.take_milestone` takes one at once.

Retention: the latest `keep` milestones built by the projection's current handlers stay;
older ones, and any built by older handlers (`Projection.version`), are dropped.

A projection that holds personal data (`holds_personal_data`) gets no milestones: its
as-of reads always replay from the start through the payload codec, so no kept copy ever
holds a subject's plaintext, and a forgotten subject's data replays as the placeholder.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.projections import copies
from webapp.projections.copies import MILESTONE, Copy
from webapp.projections.generations import TableSet
from webapp.projections.replay import replay
from webapp.projections.unit import EventPreparer
from webapp.store import EventStore

log = logging.getLogger(__name__)

BUILD_LEASE_SECONDS = 3600.0
"""A copy still building after this long is taken for abandoned (its builder died)."""


@dataclass(frozen=True)
class MilestonePolicy:
    """Take a milestone every `every` events of the log; keep the latest `keep`."""

    every: int = 100_000
    keep: int = 5

    def __post_init__(self) -> None:
        if self.every < 1 or self.keep < 1:
            msg = "milestones need every >= 1 and keep >= 1"
            raise ValueError(msg)

    @classmethod
    def from_env(cls) -> MilestonePolicy:
        """`EVENTSCOPE_MILESTONE_EVERY` and `EVENTSCOPE_MILESTONES_KEPT`, else the defaults."""
        env = os.environ
        return cls(
            every=int(env.get("EVENTSCOPE_MILESTONE_EVERY") or cls.every),
            keep=int(env.get("EVENTSCOPE_MILESTONES_KEPT") or cls.keep),
        )

    def due(self, position: int) -> int:
        """The latest multiple of `every` at or before `position` (0: none yet)."""
        return position - position % self.every


class MilestoneKeeper:
    """Takes and prunes the milestones of one projection."""

    def __init__(
        self,
        store: EventStore,
        tables: TableSet,
        policy: MilestonePolicy,
        *,
        prepare: EventPreparer | None = None,
        owner: str = "local",
    ) -> None:
        self.store = store
        self.engine: sa.Engine = store.engine
        self.tables = tables
        self.projection = tables.projection
        self.policy = policy
        self.prepare = prepare
        self.owner = owner
        self._latest: int | None = None

    @property
    def enabled(self) -> bool:
        return not self.projection.holds_personal_data

    def milestones(self) -> list[Copy]:
        """The usable milestones (current handlers, built), oldest first."""
        return copies.ready_milestones(self.engine, self.projection.name, self.projection.version)

    def nearest(self, position: int) -> Copy | None:
        """The usable milestone at the highest position at or before `position`."""
        found = [m for m in self.milestones() if m.position <= position]
        return found[-1] if found else None

    def after_step(self, live_position: int) -> list[Copy]:
        """Take the milestones at the multiples of `every` the live position has passed
        since the latest one (only the last `keep` of them: older ones would be pruned)."""
        if not self.enabled:
            return []
        due = self.policy.due(live_position)
        if self._latest is None:
            kept = self.milestones()
            self._latest = kept[-1].position if kept else 0
        every = self.policy.every
        first = max(self._latest + every, due - (self.policy.keep - 1) * every, every)
        taken = [self.take(position) for position in range(first, due + 1, every)]
        return [m for m in taken if m is not None]

    def take(self, position: int) -> Copy | None:
        """Build and keep the milestone at `position`, then prune; None if this projection
        holds personal data (it keeps none) or one is kept there already."""
        if not self.enabled:
            return None
        base = self.nearest(position)
        if base is not None and base.position == position:
            self._latest = max(self._latest or 0, position)
            return None
        started = time.monotonic()
        milestone = build_copy(
            self,
            kind=MILESTONE,
            position=position,
            base=base,
            owner=self.owner,
            lease_seconds=BUILD_LEASE_SECONDS,
            expires_at=None,
        )
        self._latest = max(self._latest or 0, position)
        log.info(
            "projection %s: milestone at position %d (%.1f s)",
            self.projection.name,
            position,
            time.monotonic() - started,
        )
        self.prune()
        return milestone

    def prune(self) -> int:
        """Drop milestones beyond the latest `keep` and those of older handlers; how many."""
        every = copies.copies_of(self.engine, self.projection.name, MILESTONE)
        current = [
            m
            for m in every
            if m.state == copies.READY and m.model_version == self.projection.version
        ]
        kept = {m.id for m in sorted(current, key=lambda m: m.position)[-self.policy.keep :]}
        outdated = [m for m in every if m.state == copies.READY and m.id not in kept]
        return sum(copies.drop_copy(self.engine, self.tables, m) for m in outdated)


def build_copy(
    keeper: MilestoneKeeper,
    *,
    kind: str,
    position: int,
    base: Copy | None,
    owner: str,
    lease_seconds: float,
    expires_at: float | None,
) -> Copy:
    """Register a copy of `kind` at `position`, fill it from milestone `base` and the log
    (`build_at`) and mark it built with `expires_at`; a failed build leaves nothing."""
    copy = copies.start_copy(
        keeper.engine,
        keeper.tables,
        kind=kind,
        position=position,
        owner=owner,
        lease_seconds=lease_seconds,
    )
    try:
        build_at(keeper, copy, base)
    except BaseException:
        copies.drop_copy(keeper.engine, keeper.tables, copy)
        raise
    return copies.finish_copy(keeper.engine, copy, expires_at=expires_at)


def build_at(keeper: MilestoneKeeper, target: Copy, base: Copy | None) -> None:
    """Fill `target`'s tables: the rows of milestone `base` (if any), then the projection's
    handlers over the events after it up to `target.position`."""
    tables = keeper.tables
    into = tables.tables(target.generation)
    start = 0
    if base is not None:
        try:
            with keeper.engine.begin() as conn:
                copies.fill_from(conn, tables.tables(base.generation), into)
            start = base.position
        except sa.exc.DBAPIError:  # pruned meanwhile: replay from the start instead
            log.info("milestone %d of %s went away; replaying from 0", base.id, base.name)
    replay(
        keeper.store,
        keeper.engine,
        keeper.projection,
        into,
        after=start,
        until=target.position,
        prepare=keeper.prepare,
    )
