"""Fires due process timeouts by dispatching the command each one was scheduled with."""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa

from webapp.domain import DomainError, command_class
from webapp.projections import schema
from webapp.projections.failures import describe_failure
from webapp.projections.leadership import Leadership
from webapp.projections.process_manager import Dispatch
from webapp.projections.process_views import count_pending_timeouts
from webapp.projections.unit import UnitRunner, write_status_row
from webapp.store import EventStore

log = logging.getLogger(__name__)


class TimeoutRunner(UnitRunner):
    """Fires due process timeouts by dispatching their command (a domain event results).

    Restart-safe: a timeout stays `pending` until its command was dispatched (or refused
    by the aggregate, e.g. because the process already settled), and the command id is
    fixed when scheduled, so a crash between the two sends it again only if it had not
    been stored.
    """

    kind = "timer"
    name = "process_timeouts"

    def __init__(
        self,
        store: EventStore,
        dispatch: Dispatch,
        *,
        worker_id: str = "local",
        leadership: Leadership | None = None,
        status_every: float = 1.0,
    ) -> None:
        self.store = store
        self.engine: sa.Engine = store.engine
        self.dispatch_command = dispatch
        self.worker_id = worker_id
        self.leadership = leadership
        self.status_every = status_every
        self._init_unit()
        self.progress.state = "running"

    def load(self) -> None:
        self.stopped = False

    def fire_due(self, now: float | None = None) -> int:
        """Fire every pending timeout due by `now`; return how many were handled."""
        now = time.time() if now is None else now
        table = schema.process_timeouts
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            due = conn.execute(
                sa.select(table)
                .where(table.c.status == "pending", table.c.due_at <= now)
                .order_by(table.c.due_at, table.c.id)
                .limit(100)
            ).all()
        for row in due:
            self._fence()
            cls = command_class(row.command_type)
            status, outcome = "fired", None
            try:
                if cls is None:
                    msg = f"unknown command type {row.command_type!r}"
                    raise LookupError(msg)
                metadata = dict(row.metadata)
                if not self._already_sent(metadata):
                    self.dispatch_command(cls(**row.command_data), metadata)
            except DomainError as exc:
                status, outcome = "refused", f"{exc.code}: {exc.message}"
            except Exception as exc:  # noqa: BLE001 - keep pending; retried on the next tick
                error = describe_failure(exc, row.command_data)
                log.warning("timeout %s/%s failed: %s", row.process, row.instance_id, error)
                self.progress.last_error = error
                continue
            with self.engine.begin() as conn:
                conn.execute(
                    table.update()
                    .where(table.c.id == row.id, table.c.status == "pending")
                    .values(status=status, outcome=outcome, fired_at=time.time())
                )
        return len(due)

    def _already_sent(self, metadata: dict[str, Any]) -> bool:
        found = self.store.read_all(limit=1000, correlation_id=metadata.get("correlation_id"))
        return any(e.metadata.get("command_id") == metadata.get("command_id") for e in found)

    def step(self) -> bool:
        moved = self.fire_due() > 0
        self.write_status()
        return moved

    def write_status(self, *, force: bool = False) -> None:
        """For a timer the status position is the number of pending timeouts."""
        now = time.monotonic()
        if not force and now - self._status_at < self.status_every:
            return
        self._status_at = now
        self.progress.position = count_pending_timeouts(self.engine)
        if self._status_changed(now, force):
            write_status_row(self.engine, self.name, self.kind, self.progress, self.worker_id)
