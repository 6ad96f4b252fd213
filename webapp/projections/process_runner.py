"""Runs one process manager: its events from the global log, one transaction per event.

Each event is handled at most once in effect: the instance's state, its last
handled position, its timeouts and the process's checkpoint are written in one
transaction after the handler ran; commands carry a `command_id` derived from
(event, step), and a command whose events are already in the store is not sent
again, so a crash between dispatch and that transaction cannot repeat a debit.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import sqlalchemy as sa

from webapp.database.upserts import insert_ignore, upsert
from webapp.domain import to_data, type_name_of
from webapp.projections import schema
from webapp.projections.failures import describe_failure
from webapp.projections.leadership import Leadership
from webapp.projections.process_manager import Dispatch, ProcessContext, ProcessManager
from webapp.projections.unit import EventPreparer, LostLeadership, UnitRunner
from webapp.store import EventStore
from webapp.store.types import RecordedEvent

log = logging.getLogger(__name__)

PROCESS_NAMESPACE = uuid.UUID("5b0e3c9e-4a51-4d56-8f0b-8f0d1d0e7a11")


class ProcessManagerRunner(UnitRunner):
    """Feeds a process manager its events from the global log, one transaction per event."""

    kind = "process_manager"

    def __init__(
        self,
        store: EventStore,
        process: ProcessManager,
        dispatch: Dispatch,
        *,
        worker_id: str = "local",
        prepare: EventPreparer | None = None,
        batch_size: int = 200,
        status_every: float = 1.0,
        leadership: Leadership | None = None,
    ) -> None:
        self.store = store
        self.engine: sa.Engine = store.engine
        self.process = process
        self.name = process.name
        self.dispatch_command = dispatch
        self.worker_id = worker_id
        self.prepare = prepare
        self.batch_size = batch_size
        self.status_every = status_every
        self.leadership = leadership
        if process.on_error.action == "park":
            msg = (
                f"process manager {process.name!r}: the 'park' policy is for projections "
                "(a process manager's steps depend on their order); use 'stop' or 'skip'"
            )
            raise ValueError(msg)
        self._init_unit()
        self.position: int | None = None
        self._types = sorted(process.interested_types)

    def load(self) -> None:
        with self.engine.begin() as conn:
            insert_ignore(
                conn,
                schema.checkpoints,
                {"name": self.name, "generation": 0, "position": 0, "updated_at": time.time()},
            )
            self.position = int(
                conn.execute(
                    sa.select(schema.checkpoints.c.position).where(
                        schema.checkpoints.c.name == self.name,
                        schema.checkpoints.c.generation == 0,
                    )
                ).scalar_one()
            )
        self.stopped = False
        self._rate_mark = (time.monotonic(), self.position)

    def step(self) -> bool:
        if self.position is None:
            self.load()
        if self.stopped or self.check_paused():
            return False
        assert self.position is not None
        head = self.store.head_position()
        self.progress.head = head
        moved = False
        if head > self.position:
            events = self.store.read_all(
                after=self.position, limit=self.batch_size, types=self._types
            )
            for event in events:
                if self.prepare is not None:
                    event = self.prepare(event)
                if not self._handle_with_policy(event):
                    break
            if not self.stopped and len(events) < self.batch_size and head > self.position:
                with self.engine.begin() as conn:
                    self._fence(conn)
                    self._save_checkpoint(conn, 0, head)
                self.position = head
            moved = True
        self.update_progress(head)
        return moved

    def run_until_caught_up(self) -> int:
        """Handle events until the head, or until the unit is stopped or paused; the position."""
        if self.position is None:
            self.load()
        while not self.stopped:
            head = self.store.head_position()
            self.step()
            if self.paused or (self.position or 0) >= head:
                break
        self.write_status(force=True)
        return self.position or 0

    # --- one event ---------------------------------------------------------------------

    def _handle_with_policy(self, event: RecordedEvent) -> bool:
        policy = self.process.on_error
        attempt = 1
        while True:
            try:
                self.handle_event(event)
                return True
            except LostLeadership:
                raise
            except Exception as exc:  # noqa: BLE001 - the handler's or a command's failure
                error = describe_failure(exc, event.data)
                log.warning("process %s: event %d failed: %s", self.name, event.position, error)
                if attempt < policy.max_attempts:
                    time.sleep(policy.delay(attempt))
                    attempt += 1
                    continue
                if policy.action == "skip":
                    self._skip(0, event, error)
                    return True
                self._stop(0, event, error)
                return False

    def handle_event(self, event: RecordedEvent) -> None:
        """Handle one event (idempotent: an instance ignores events it has already handled)."""
        process = self.process
        instance_id = process.instance_id(event) if event.type in process.interested_types else None
        row = None
        if instance_id is not None:
            with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
                row = conn.execute(
                    sa.select(schema.process_instances).where(
                        schema.process_instances.c.process == self.name,
                        schema.process_instances.c.instance_id == instance_id,
                    )
                ).first()
        handle = instance_id is not None and (
            (row is None and event.type in process.starts)
            or (row is not None and row.status == "running" and row.last_position < event.position)
        )
        if not handle:
            with self.engine.begin() as conn:
                self._fence(conn)
                self._save_checkpoint(conn, 0, event.position)
            self.position = event.position
            return
        assert instance_id is not None
        state = dict(row.state) if row is not None else process.initial_state()
        ctx = ProcessContext(
            self.name,
            instance_id,
            event,
            lambda cmd, step: self._send(event, instance_id, cmd, step),
        )
        new_state = process.handle(ctx, state, event)
        finished = ctx.finished or event.type in process.stops
        now = time.time()
        with self.engine.begin() as conn:
            self._fence(conn)
            upsert(
                conn,
                schema.process_instances,
                [
                    {
                        "process": self.name,
                        "instance_id": instance_id,
                        "state": new_state,
                        "status": "finished" if finished else "running",
                        "last_position": event.position,
                        "started_at": row.started_at if row is not None else now,
                        "updated_at": now,
                    }
                ],
                ["process", "instance_id"],
            )
            timeouts = schema.process_timeouts
            for name in ctx.cancelled if not finished else ():
                conn.execute(
                    timeouts.update()
                    .where(
                        timeouts.c.process == self.name,
                        timeouts.c.instance_id == instance_id,
                        timeouts.c.name == name,
                        timeouts.c.status == "pending",
                    )
                    .values(status="cancelled", fired_at=now)
                )
            if finished:
                conn.execute(
                    timeouts.update()
                    .where(
                        timeouts.c.process == self.name,
                        timeouts.c.instance_id == instance_id,
                        timeouts.c.status == "pending",
                    )
                    .values(status="cancelled", fired_at=now)
                )
            for item in ctx.scheduled if not finished else ():
                conn.execute(
                    timeouts.delete().where(
                        timeouts.c.process == self.name,
                        timeouts.c.instance_id == instance_id,
                        timeouts.c.name == item.name,
                    )
                )
                conn.execute(
                    timeouts.insert().values(
                        process=self.name,
                        instance_id=instance_id,
                        name=item.name,
                        due_at=item.due_at,
                        command_type=type_name_of(item.command),
                        command_data=to_data(item.command),
                        metadata=self._metadata(event, instance_id, f"timeout:{item.name}"),
                        status="pending",
                    )
                )
            self._save_checkpoint(conn, 0, event.position)
        self.position = event.position

    def _metadata(self, event: RecordedEvent, instance_id: str, step: str) -> dict[str, Any]:
        return {
            "correlation_id": event.correlation_id or str(event.event_id),
            "causation_id": str(event.event_id),
            "actor": f"process:{self.name}",
            "command_id": str(uuid.uuid5(PROCESS_NAMESPACE, f"{event.event_id}:{step}")),
            "process": self.name,
            "process_instance": instance_id,
        }

    def _send(self, event: RecordedEvent, instance_id: str, command: Any, step: str) -> Any:
        metadata = self._metadata(event, instance_id, step)
        if self._already_sent(event, metadata):
            return None
        self._fence()
        return self.dispatch_command(command, metadata)

    def _already_sent(self, event: RecordedEvent, metadata: dict[str, Any]) -> bool:
        """True if events caused by this very command (same command_id) are already stored."""
        after = event.position
        while True:
            found = self.store.read_all(
                after=after, limit=500, correlation_id=metadata["correlation_id"]
            )
            if any(e.metadata.get("command_id") == metadata["command_id"] for e in found):
                return True
            if len(found) < 500:
                return False
            after = found[-1].position

    def _record_error(
        self, generation: int, event: RecordedEvent, outcome: str, error: str, *, advance: bool
    ) -> None:
        super()._record_error(generation, event, outcome, error, advance=advance)
        if advance:
            self.position = event.position

    def update_progress(self, head: int) -> None:
        """Bring `progress` up to date with the checkpoint and write it when due."""
        p = self.progress
        p.position = self.position or 0
        if not self.stopped and not self.paused:
            p.state = "running" if p.position >= head else "catching_up"
        self.write_status()
