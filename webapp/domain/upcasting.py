"""Upcasters: turn an old schema version of an event into the current one on read.

Stored events are never rewritten. An upcaster registered for (type, version N)
takes the data of version N and returns the data of version N+1; chains run until
the event reaches its class's current schema version.

    @upcaster("MoneyDeposited", from_version=1)
    def amount_in_cents(data):
        cents = round(Decimal(data["value"]) * 100)
        return {"account_number": data["account_number"], "amount": cents}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.domain.messages import event_class, schema_version_of
from webapp.store.types import RecordedEvent

UpcastFn = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class UpcasterInfo:
    type: str
    from_version: int
    to_version: int
    name: str
    doc: str


class UpcasterChain:
    """Upcasters keyed by (event type, schema version they read)."""

    def __init__(self) -> None:
        self._fns: dict[tuple[str, int], UpcastFn] = {}

    def register(self, type_name: str, from_version: int, fn: UpcastFn) -> UpcastFn:
        key = (type_name, from_version)
        if key in self._fns and self._fns[key] is not fn:
            existing = self._fns[key]
            if (existing.__module__, existing.__qualname__) != (fn.__module__, fn.__qualname__):
                msg = f"an upcaster for {type_name} v{from_version} is already registered"
                raise ValueError(msg)
        self._fns[key] = fn
        return fn

    def current_version(self, type_name: str) -> int | None:
        cls = event_class(type_name)
        return schema_version_of(cls) if cls is not None else None

    def needs_upcast(self, event: RecordedEvent) -> bool:
        current = self.current_version(event.type)
        return current is not None and event.schema_version < current

    def upcast(self, event: RecordedEvent) -> RecordedEvent:
        """The event at its type's current schema version (unchanged if already current)."""
        current = self.current_version(event.type)
        if current is None or event.schema_version >= current:
            return event
        data, version = dict(event.data), event.schema_version
        while version < current:
            fn = self._fns.get((event.type, version))
            if fn is None:
                break  # no path further: leave the event at the version reached
            data = fn(dict(data))
            version += 1
        return event.with_data(data, schema_version=version)

    def upcast_with_original(self, event: RecordedEvent) -> tuple[RecordedEvent, RecordedEvent]:
        """(the event as stored, the event as the domain sees it)."""
        return event, self.upcast(event)

    def describe(self) -> list[UpcasterInfo]:
        return [
            UpcasterInfo(
                type=t,
                from_version=v,
                to_version=v + 1,
                name=getattr(fn, "__qualname__", repr(fn)),
                doc=inspect.getdoc(fn) or "",
            )
            for (t, v), fn in sorted(self._fns.items())
        ]

    def lifted_types(self) -> dict[str, int]:
        """{event type: current schema version} of the types an upcaster lifts."""
        lifted: dict[str, int] = {}
        for type_name, from_version in self._fns:
            current = self.current_version(type_name)
            if current is not None and from_version < current:
                lifted[type_name] = current
        return lifted

    def for_type(self, type_name: str) -> list[UpcasterInfo]:
        return [u for u in self.describe() if u.type == type_name]


DEFAULT_UPCASTERS = UpcasterChain()
"""The chain the `@upcaster` decorator registers into, used by default everywhere."""


def upcaster(type_name: str, *, from_version: int) -> Callable[[UpcastFn], UpcastFn]:
    """Register `fn(data) -> data` to lift `type_name` from `from_version` to the next."""

    def wrap(fn: UpcastFn) -> UpcastFn:
        return DEFAULT_UPCASTERS.register(type_name, from_version, fn)

    return wrap


def upcast(event: RecordedEvent) -> RecordedEvent:
    return DEFAULT_UPCASTERS.upcast(event)


def upcast_with_original(event: RecordedEvent) -> tuple[RecordedEvent, RecordedEvent]:
    return DEFAULT_UPCASTERS.upcast_with_original(event)
