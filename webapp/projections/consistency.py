"""Strong consistency: wait until named projections have processed a position.

    result = dispatch_strong(router, projections, DepositMoney("A1", 500), timeout=5)

raises `ConsistencyTimeout` if the projections lag behind for longer than the
timeout; the events are stored all the same (the exception carries the result).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from webapp.domain import CommandRouter, DispatchResult
from webapp.projections import schema

if TYPE_CHECKING:
    from webapp.projections.service import Projections


class ConsistencyTimeout(TimeoutError):
    """Projections did not reach a position in time; nothing was lost, they are just behind."""

    def __init__(
        self,
        position: int,
        behind: Mapping[str, int],
        timeout: float,
        result: DispatchResult | None = None,
    ) -> None:
        self.position = position
        self.behind = dict(behind)
        self.timeout = timeout
        self.result = result
        lagging = ", ".join(f"{name} (at {pos})" for name, pos in sorted(self.behind.items()))
        super().__init__(
            f"projections {lagging} did not reach position {position} within {timeout:g}s; "
            "the events are stored and the read models will catch up"
        )


def live_positions(engine: sa.Engine, names: Iterable[str]) -> dict[str, int]:
    """Each named projection's live-generation checkpoint (0 if it never ran)."""
    names = list(names)
    reg, cp = schema.registry, schema.checkpoints
    query = (
        sa.select(reg.c.name, cp.c.position)
        .join(cp, sa.and_(cp.c.name == reg.c.name, cp.c.generation == reg.c.live_generation))
        .where(reg.c.name.in_(names))
    )
    found = {name: 0 for name in names}
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        for name, position in conn.execute(query):
            found[name] = int(position)
    return found


def wait_until_projected(
    projections: Projections,
    position: int,
    names: Iterable[str] | None = None,
    timeout: float = 5.0,
    *,
    poll: float = 0.01,
) -> dict[str, int]:
    """Block until every named projection (default: all) is at `position` or beyond."""
    names = list(names) if names is not None else projections.names()
    deadline = time.monotonic() + timeout
    delay = poll
    projections.hurry()  # a worker in this process need not finish its pace first
    while True:
        positions = live_positions(projections.engine, names)
        behind = {n: p for n, p in positions.items() if p < position}
        if not behind:
            return positions
        if time.monotonic() >= deadline:
            raise ConsistencyTimeout(position, behind, timeout)
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
        delay = min(delay * 1.5, 0.1)


def dispatch_strong(
    router: CommandRouter,
    projections: Projections,
    command: Any,
    metadata: Mapping[str, Any] | None = None,
    timeout: float = 5.0,
    *,
    names: Iterable[str] | None = None,
) -> DispatchResult:
    """Dispatch, then wait until the store's index tables hold the new events and the
    projections that handle them have seen them."""
    result = router.dispatch(command, metadata=metadata)
    if not result.events:
        return result
    projections.store.wait_until_indexed(result.events[-1].position)
    wanted = (
        list(names)
        if names is not None
        else projections.names_handling({e.type for e in result.events})
    )
    try:
        wait_until_projected(projections, result.events[-1].position, wanted, timeout)
    except ConsistencyTimeout as exc:
        exc.result = result
        raise
    return result
