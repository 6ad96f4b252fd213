"""Aggregate lifespans: how long an aggregate stays in memory after it was used.

A lifespan answers after each event, command and error with a `Timeout`:
`INFINITY` (keep it), a `timedelta` (keep it that long after its last use) or
`STOP` (drop it now). When a command produces events, the last event's answer
counts (STOP from any event or from the command wins); without events, the
command's answer counts; when it fails, `after_error`'s.

    class BankAccountLifespan:
        def after_event(self, event):
            if isinstance(event, BankAccountClosed):
                return STOP
            return timedelta(hours=1) if isinstance(event, MoneyDeposited) else INFINITY
        def after_command(self, command):
            return STOP if isinstance(command, CloseAccount) else INFINITY
        def after_error(self, error):
            return STOP
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final, Protocol


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


INFINITY: Final = _Sentinel("INFINITY")
STOP: Final = _Sentinel("STOP")

Timeout = timedelta | _Sentinel


class Lifespan(Protocol):
    def after_event(self, event: Any) -> Timeout: ...

    def after_command(self, command: Any) -> Timeout: ...

    def after_error(self, error: Exception) -> Timeout: ...


class KeepForever:
    """The default lifespan: an aggregate stays until evicted by the registry's cap."""

    def after_event(self, event: Any) -> Timeout:
        return INFINITY

    def after_command(self, command: Any) -> Timeout:
        return INFINITY

    def after_error(self, error: Exception) -> Timeout:
        return INFINITY


class StopAfterUse:
    """Drop the aggregate as soon as each command is done."""

    def after_event(self, event: Any) -> Timeout:
        return STOP

    def after_command(self, command: Any) -> Timeout:
        return STOP

    def after_error(self, error: Exception) -> Timeout:
        return STOP


class KeepFor:
    """Keep each aggregate for a fixed time after its last use."""

    def __init__(self, duration: timedelta) -> None:
        self.duration = duration

    def after_event(self, event: Any) -> Timeout:
        return self.duration

    def after_command(self, command: Any) -> Timeout:
        return self.duration

    def after_error(self, error: Exception) -> Timeout:
        return self.duration


def decide_after_success(lifespan: Lifespan, command: Any, events: Sequence[Any]) -> Timeout:
    """The timeout after a command that succeeded with `events` (see module docstring)."""
    by_command = lifespan.after_command(command)
    if by_command is STOP:
        return STOP
    if not events:
        return by_command
    decision: Timeout = INFINITY
    for ev in events:
        decision = lifespan.after_event(ev)
        if decision is STOP:
            return STOP
    return decision


def describe_timeout(timeout: Timeout) -> str:
    if isinstance(timeout, timedelta):
        return f"{timeout.total_seconds():g}s"
    return repr(timeout)
