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
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.projections import copies
from webapp.projections.copies import MILESTONE, Copy
from webapp.projections.generations import TableSet
from webapp.projections.replay import replay
from webapp.projections.unit import EventPreparer
from webapp.store import EventStore

log = logging.getLogger(__name__)

MILESTONE_WAIT_SECONDS = 3600.0
"""How long taking a milestone waits for another process building the same one."""
WAIT_POLL_SECONDS = 0.05
"""How often a process waiting for another's build looks at its row."""


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
        self.lease_seconds = copies.BUILD_LEASE_SECONDS
        self.wait_seconds = MILESTONE_WAIT_SECONDS
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
        holds personal data (it keeps none) or one is kept there already (another process
        taking the same one at the same time builds it once: this call waits for it)."""
        if not self.enabled:
            return None
        base = self.nearest(position)
        if base is not None and base.position == position:
            self._latest = max(self._latest or 0, position)
            return None
        started = time.monotonic()
        milestone, built = build_once(
            self,
            kind=MILESTONE,
            position=position,
            owner=self.owner,
            keep_for=None,
            wait_seconds=self.wait_seconds,
            lease_seconds=self.lease_seconds,
        )
        if not built:  # another process took it
            self._latest = max(self._latest or 0, position)
            return None
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


class CopyBusy(RuntimeError):
    """Another process has been building the same copy for longer than the wait allows."""


def build_once(
    keeper: MilestoneKeeper,
    *,
    kind: str,
    position: int,
    owner: str,
    keep_for: float | None,
    wait_seconds: float,
    lease_seconds: float = copies.BUILD_LEASE_SECONDS,
) -> tuple[Copy, bool]:
    """The copy of `kind` at `position`, built once across processes: (copy, True) if this
    call built it, (copy, False) if another process had (or was building) it.

    The first to claim the moment builds it from the nearest milestone and the log
    (`build_at`), renewing its claim meanwhile, and marks it built, to be kept `keep_for`
    seconds (None: until pruned); the others wait up to `wait_seconds` (CopyBusy after).
    A claim whose builder died lapses within `lease_seconds` and is dropped by whoever
    finds it, who then claims the moment anew. A scratch copy someone else built is kept
    `keep_for` seconds from now (`copies.extend`). A failed build leaves nothing."""
    engine, tables, projection = keeper.engine, keeper.tables, keeper.projection
    deadline = time.monotonic() + wait_seconds
    while True:
        found = copies.find_copy(engine, projection.name, kind, projection.version, position)
        now = time.time()
        if found is None:
            claimed = copies.claim_copy(
                engine,
                tables,
                kind=kind,
                position=position,
                owner=owner,
                lease_seconds=lease_seconds,
            )
            if claimed is not None:
                try:
                    built = _fill(keeper, claimed, lease_seconds, keep_for)
                except copies.ClaimLost:  # stalled past the lease: another may hold it now
                    log.warning("lost the claim on copy %d of %s", claimed.id, claimed.name)
                    built = None
                if built is not None:
                    return built, True
                # dropped under us (a forget, a lapse): look again
            # else another process claimed it first: wait for it
        elif found.expires_at is not None and found.expires_at < now:
            copies.drop_copy(engine, tables, found, expired_before=now)  # lapsed: take over
            continue
        elif found.state == copies.READY:
            if found.expires_at is None or keep_for is None:
                return found, False
            kept = copies.extend(engine, found, now + keep_for)
            if kept is not None:
                return kept, False
        if time.monotonic() >= deadline:
            msg = (
                f"{projection.name} as of position {position} is still being built by "
                f"another process after {wait_seconds:g} s; try again later"
            )
            raise CopyBusy(msg)
        time.sleep(WAIT_POLL_SECONDS)


def _fill(
    keeper: MilestoneKeeper, claimed: Copy, lease_seconds: float, keep_for: float | None
) -> Copy | None:
    """Build a claimed copy and mark it built; None if its row went away meanwhile."""
    try:
        with copies.Heartbeat(keeper.engine, claimed, lease_seconds) as heartbeat:
            build_at(
                keeper, claimed, keeper.nearest(claimed.position), between=heartbeat.beat_if_due
            )
    except BaseException:
        copies.drop_copy(keeper.engine, keeper.tables, claimed)
        raise
    expires_at = None if keep_for is None else time.time() + keep_for
    done = copies.finish_copy(keeper.engine, claimed, expires_at=expires_at)
    if done is None:
        copies.drop_copy(keeper.engine, keeper.tables, claimed)
    return done


def build_at(
    keeper: MilestoneKeeper,
    target: Copy,
    base: Copy | None,
    *,
    between: Callable[[], None] | None = None,
) -> None:
    """Fill `target`'s tables: the rows of milestone `base` (if any), then the projection's
    handlers over the events after it up to `target.position`; `between()` runs after each
    transaction. Each transaction first confirms `target` is still this builder's claim
    (`copies.hold`): ClaimLost, with that transaction undone, if it lapsed."""
    tables = keeper.tables
    into = tables.tables(target.generation)
    start = 0
    if base is not None:
        try:
            with keeper.engine.begin() as conn:
                copies.hold(conn, target)
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
        between=between,
        guard=lambda conn: copies.hold(conn, target),
    )
