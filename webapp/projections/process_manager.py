"""Process managers, declared in Commanded's manner, with durable state and timeouts.

    class TransferProcess(ProcessManager):
        name = "transfer_money"
        starts = frozenset({"TransferRequested"})
        continues = frozenset({"TransferDebited", "TransferTimedOut"})
        stops = frozenset({"TransferCompleted", "TransferFailed"})

        def instance_id(self, event):
            return event.data["transfer_id"]

        def handle(self, ctx, state, event):
            ctx.dispatch(WithdrawMoney(...), step="debit")
            ctx.schedule_timeout("settle", after=30, command=TimeOutTransfer(...))
            return {**state, "debited": True}

A `ProcessManagerRunner` (webapp.projections.process_runner) feeds a process its
events and keeps each instance's state; a `TimeoutRunner` (webapp.projections.timeouts)
dispatches the commands of timeouts once due.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from webapp.projections.projection import FailurePolicy
from webapp.store.types import RecordedEvent

Dispatch = Callable[[Any, dict[str, Any]], Any]
"""Sends a command with its metadata (the router's dispatch); returns its result."""


@dataclass
class ScheduledTimeout:
    name: str
    due_at: float
    command: Any


@dataclass
class ProcessContext:
    """What a handler may do besides changing its state: dispatch, schedule, cancel."""

    process: str
    instance_id: str
    event: RecordedEvent
    dispatcher: Callable[[Any, str], Any]
    scheduled: list[ScheduledTimeout] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    finished: bool = False

    def dispatch(self, command: Any, *, step: str) -> Any:
        """Send `command` once for this event and step (raises DomainError when refused)."""
        return self.dispatcher(command, step)

    def schedule_timeout(
        self, name: str, command: Any, *, after: float | None = None, at: float | None = None
    ) -> None:
        """Dispatch `command` at `at` (epoch seconds) or `after` seconds from the event's time."""
        if at is None:
            at = self.event.recorded_at.timestamp() + (after or 0.0)
        self.scheduled.append(ScheduledTimeout(name, at, command))

    def cancel_timeout(self, name: str) -> None:
        self.cancelled.append(name)

    def finish(self) -> None:
        self.finished = True


class ProcessManager(ABC):
    """Which events start, continue and stop an instance, keyed by an id taken from the event."""

    name: ClassVar[str]
    starts: ClassVar[frozenset[str]]
    continues: ClassVar[frozenset[str]] = frozenset()
    stops: ClassVar[frozenset[str]] = frozenset()
    on_error: ClassVar[FailurePolicy] = FailurePolicy("retry", max_attempts=5)
    needs_decoding: ClassVar[bool] = False
    """True when handlers need personal fields decrypted. Off by default: handlers see them
    sealed as stored, so a value copied into the instance's state (kept in plaintext in
    `process_instances`) stays ciphertext and is unreadable once its subject is forgotten.
    A process that opts in must keep personal values out of its state."""

    @property
    def interested_types(self) -> frozenset[str]:
        return self.starts | self.continues | self.stops

    @abstractmethod
    def instance_id(self, event: RecordedEvent) -> str | None:
        """The instance an event belongs to (None: not for us)."""

    def initial_state(self) -> dict[str, Any]:
        return {}

    def failure(self, state: dict[str, Any]) -> str | None:
        """How an instance with `state` failed, in a few words for people ("failed, debit
        refunded"), or None when it did not: the dashboard shows a finished instance that
        failed as failed, not as done."""
        return None

    @abstractmethod
    def handle(
        self, ctx: ProcessContext, state: dict[str, Any], event: RecordedEvent
    ) -> dict[str, Any]:
        """React to `event`: dispatch commands through `ctx`, return the new state."""
