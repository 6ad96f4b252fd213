"""Dispatch middleware: hooks before a command runs, after it succeeded, and after it failed.

    class Timing:
        def before_dispatch(self, pipeline):
            pipeline.assigns["t0"] = time.perf_counter()
        def after_dispatch(self, pipeline):
            print(time.perf_counter() - pipeline.assigns["t0"])
        def after_failure(self, pipeline):
            pass

`before_dispatch` may raise (e.g. a CommandValidationError) to halt the command:
then nothing is appended and `after_failure` runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from webapp.domain.messages import check_command, type_name_of


@dataclass
class Pipeline:
    """One command on its way through the router."""

    command: Any
    metadata: dict[str, Any]
    stream_id: str | None = None
    result: Any = None
    error: BaseException | None = None
    assigns: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def command_type(self) -> str:
        return type_name_of(self.command)


class Middleware(Protocol):
    def before_dispatch(self, pipeline: Pipeline) -> None: ...

    def after_dispatch(self, pipeline: Pipeline) -> None: ...

    def after_failure(self, pipeline: Pipeline) -> None: ...


class ValidationMiddleware:
    """Refuse commands whose fields have the wrong type or are out of range."""

    def before_dispatch(self, pipeline: Pipeline) -> None:
        check_command(pipeline.command)

    def after_dispatch(self, pipeline: Pipeline) -> None:
        return None

    def after_failure(self, pipeline: Pipeline) -> None:
        return None


class LoggingMiddleware:
    """Log each command with its outcome and duration."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("eventscope.commands")

    def before_dispatch(self, pipeline: Pipeline) -> None:
        self.log.debug("dispatch %s %s", pipeline.command_type, pipeline.metadata.get("command_id"))

    def after_dispatch(self, pipeline: Pipeline) -> None:
        self.log.info(
            "%s -> %s v%s in %.1f ms",
            pipeline.command_type,
            pipeline.stream_id,
            getattr(pipeline.result, "version", "?"),
            (time.perf_counter() - pipeline.started) * 1000,
        )

    def after_failure(self, pipeline: Pipeline) -> None:
        self.log.info("%s refused: %s", pipeline.command_type, pipeline.error)


@dataclass(frozen=True)
class AuditRecord:
    at: float
    command: str
    stream_id: str | None
    actor: str | None
    correlation_id: str | None
    outcome: str
    error_code: str | None
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AuditMiddleware:
    """Keep a bounded in-memory trail of every command: who, what, outcome (refusals too)."""

    def __init__(self, size: int = 1000) -> None:
        self._records: deque[AuditRecord] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0

    def before_dispatch(self, pipeline: Pipeline) -> None:
        return None

    def _record(self, pipeline: Pipeline, outcome: str) -> None:
        record = AuditRecord(
            at=time.time(),
            command=pipeline.command_type,
            stream_id=pipeline.stream_id,
            actor=pipeline.metadata.get("actor"),
            correlation_id=pipeline.metadata.get("correlation_id"),
            outcome=outcome,
            error_code=getattr(pipeline.error, "code", None),
            duration_ms=(time.perf_counter() - pipeline.started) * 1000,
        )
        with self._lock:
            self._records.append(record)
            if outcome == "ok":
                self.accepted += 1
            else:
                self.refused += 1

    def after_dispatch(self, pipeline: Pipeline) -> None:
        self._record(pipeline, "ok")

    def after_failure(self, pipeline: Pipeline) -> None:
        self._record(pipeline, "refused")

    def records(self) -> list[AuditRecord]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._records))
