"""What the command router hands back: dispatch and dry-run results, states and timelines."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from webapp.domain.diff import diff_states
from webapp.domain.repository import LoadReport
from webapp.domain.snapshots import json_safe
from webapp.store.types import RecordedEvent


def _event_dict(ev: RecordedEvent) -> dict[str, Any]:
    return {
        "position": ev.position,
        "event_id": str(ev.event_id),
        "stream_id": ev.stream_id,
        "stream_version": ev.stream_version,
        "type": ev.type,
        "schema_version": ev.schema_version,
        "data": json_safe(ev.data),
        "metadata": json_safe(ev.metadata),
        "recorded_at": ev.recorded_at.isoformat() if ev.recorded_at else None,
    }


@dataclass(frozen=True)
class DispatchResult:
    stream_id: str
    version: int
    events: list[RecordedEvent]
    state: dict[str, Any] | None = None
    command_id: str = ""
    correlation_id: str = ""
    attempts: int = 1
    load: LoadReport | None = None
    duplicate: bool = False
    """True when this command_id had already been dispatched: nothing new was appended."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stream_id": self.stream_id,
            "version": self.version,
            "events": [_event_dict(e) for e in self.events],
        }
        if self.state is not None:
            out["state"] = self.state
        return out


@dataclass(frozen=True)
class PlannedEvent:
    """An event a dry run would append."""

    type: str
    schema_version: int
    stream_version: int
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "data": json_safe(self.data)}


@dataclass(frozen=True)
class DryRunResult:
    stream_id: str
    version_before: int
    version: int
    events: list[PlannedEvent]
    state_before: dict[str, Any]
    state: dict[str, Any]

    @property
    def changes(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in diff_states(self.state_before, self.state)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "version_before": self.version_before,
            "version": self.version,
            "events": [e.to_dict() for e in self.events],
            "state_before": self.state_before,
            "state": self.state,
            "changes": self.changes,
        }


@dataclass(frozen=True)
class StateAt:
    stream_id: str
    aggregate_type: str
    version: int
    state: dict[str, Any]
    load: LoadReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "version": self.version,
            "state": self.state,
            "aggregate_type": self.aggregate_type,
            "load": self.load.to_dict(),
        }


@dataclass(frozen=True)
class TimelineStep:
    event: RecordedEvent
    original: RecordedEvent
    state: dict[str, Any]
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def upcast(self) -> bool:
        return self.original.schema_version != self.event.schema_version
