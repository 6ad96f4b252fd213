"""Replaying a projection's own handlers over a stretch of the log into one generation.

`replay(store, projection, tables, after=M, until=P)` applies every handled event with
M < position <= P, in order, batch by batch, to the tables given, exactly as the runner
applies them to the live generation, and stops at P. A batch whose handler fails is
applied event by event: an event the failure policy would skip or park is left out (as
the live model left it out); under "retry" and "stop" the replay is refused, since the
live model stopped there too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.projections.failures import describe_failure
from webapp.projections.projection import Projection, Tables
from webapp.projections.unit import EventPreparer
from webapp.store import EventStore
from webapp.store.types import RecordedEvent

REPLAY_BATCH = 2000
DENSE = 0.25
"""The share of handled events in a stretch of the log above which it is read whole."""


class ReplayRefused(RuntimeError):
    """A handler failed on an event the projection's policy does not let it pass."""


Guard = Callable[[sa.Connection], None]
"""Run first in each of a replay's transactions (a builder confirming its claim)."""


def replay(
    store: EventStore,
    engine: sa.Engine,
    projection: Projection,
    tables: Tables,
    *,
    after: int,
    until: int,
    prepare: EventPreparer | None = None,
    batch_size: int = REPLAY_BATCH,
    between: Callable[[], None] | None = None,
    guard: Guard | None = None,
) -> int:
    """Apply the handled events in (after, until] to `tables`; how many were applied
    (`between()` runs after each page's transaction; `guard(conn)` first in each
    transaction, and whatever it raises ends the replay with that transaction undone).

    Where the handled events are common (at least DENSE of the last page), pages are read
    by position alone and the rest skipped here: a filter by type reads the index of each
    type and sorts the matches, dearer than reading the few events it would skip; where
    they are rare, by type."""
    handles = projection.handles
    into = _Into(engine, projection, tables, guard)
    types = sorted(handles) if handles is not None else None
    position, applied, dense = after, 0, True
    while position < until:
        by_type = types is not None and not dense
        page = store.read_all(after=position, limit=batch_size, types=types if by_type else None)
        within = [e for e in page if e.position <= until]
        events = within if handles is None or by_type else [e for e in within if e.type in handles]
        if within:
            span = within[-1].position - position
            dense = len(events) >= DENSE * span if not by_type else len(within) >= DENSE * span
        if prepare is not None:
            events = [prepare(e) for e in events]
        if events:
            into.apply(events)
            applied += len(events)
        if between is not None:
            between()
        if len(page) < batch_size or len(within) < len(page):
            break
        position = page[-1].position
    return applied


@dataclass(frozen=True)
class _Into:
    """Where a replay writes: `projection`'s handlers over `tables`, each transaction
    begun by `guard` when there is one."""

    engine: sa.Engine
    projection: Projection
    tables: Tables
    guard: Guard | None

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        try:
            self._handle(events)
        except _HandlerFailed:  # isolate the failing event below
            for event in events:
                self._apply_one(event)

    def _apply_one(self, event: RecordedEvent) -> None:
        try:
            self._handle([event])
        except _HandlerFailed as failed:  # the handler's own error: apply the policy
            if self.projection.on_error.action in ("skip", "park"):
                return
            exc = failed.__cause__
            msg = (
                f"projection {self.projection.name} cannot pass event {event.position} "
                f"({event.type}): {describe_failure(exc, event.data)}"
            )
            raise ReplayRefused(msg) from exc

    def _handle(self, events: Sequence[RecordedEvent]) -> None:
        """One transaction: the guard, then the handler over `events`; a failure undoes it."""
        with self.engine.begin() as conn:
            if self.guard is not None:
                self.guard(conn)
            try:
                self.projection.handle_batch(conn, self.tables, events)
            except Exception as exc:  # noqa: BLE001 - told apart from the guard's by the caller
                raise _HandlerFailed from exc


class _HandlerFailed(Exception):
    """The projection's handler failed (what the guard raises is not this)."""
