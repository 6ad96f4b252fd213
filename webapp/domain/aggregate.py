"""Aggregates as plain Python: command handlers that decide, `apply` functions that fold.

    class BankAccount(Aggregate):
        snapshot_every = 100

        def __init__(self) -> None:
            self.balance = 0

        @handles(DepositMoney, emits=[MoneyDeposited])
        def deposit_money(self, cmd):
            return MoneyDeposited(cmd.account_number, cmd.amount)

        @applies(MoneyDeposited)
        def _deposited(self, ev):
            self.balance += ev.amount

A handler returns None, one event or a list of events, or raises a DomainError;
it must not change the aggregate. An applier changes the aggregate's public
attributes (its state) and must not fail: the fold logs and skips an event whose
applier raises, so a redacted or odd value never makes an aggregate unloadable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from webapp.domain.errors import CommandValidationError
from webapp.domain.messages import UnknownEvent, iter_messages, type_name_of
from webapp.domain.snapshots import json_safe

log = logging.getLogger(__name__)


def handles(
    command_cls: type, *, emits: Iterable[type] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method as the handler of `command_cls`; `emits` lists the events it may return."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__handles__ = command_cls  # type: ignore[attr-defined]
        fn.__emits__ = tuple(emits)  # type: ignore[attr-defined]
        return fn

    return wrap


def applies(*event_classes: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method as the fold of one or more event classes into the state."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__applies__ = event_classes  # type: ignore[attr-defined]
        return fn

    return wrap


class Aggregate:
    """Base of aggregates; subclasses set their initial state in `__init__` (no arguments)."""

    aggregate_type: ClassVar[str] = ""
    snapshot_every: ClassVar[int | None] = None
    """Take a snapshot each time the stream version crosses a multiple of this (None: never)."""
    snapshot_version: ClassVar[int] = 1
    """Shape version of the state; bump it when fields change so older snapshots are ignored."""

    _handlers: ClassVar[dict[type, Callable[..., Any]]] = {}
    _emits: ClassVar[dict[type, tuple[type, ...]]] = {}
    _appliers: ClassVar[dict[str, Callable[..., Any]]] = {}
    apply_failures: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("aggregate_type"):
            cls.aggregate_type = cls.__name__
        handlers: dict[type, Callable[..., Any]] = {}
        emits: dict[type, tuple[type, ...]] = {}
        appliers: dict[str, Callable[..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                target = getattr(attr, "__handles__", None)
                if target is not None:
                    handlers[target] = attr
                    emits[target] = attr.__emits__
                for ev_cls in getattr(attr, "__applies__", ()):
                    appliers[type_name_of(ev_cls)] = attr
        cls._handlers, cls._emits, cls._appliers = handlers, emits, appliers

    @classmethod
    def add_handler(
        cls, command_cls: type, fn: Callable[..., Any], *, emits: Iterable[type] = ()
    ) -> None:
        """Teach this aggregate a command declared in another module (e.g. transfer steps)."""
        cls._handlers = {**cls._handlers, command_cls: fn}
        cls._emits = {**cls._emits, command_cls: tuple(emits)}

    @classmethod
    def add_applier(cls, event_cls: type, fn: Callable[..., Any]) -> None:
        """Teach this aggregate to fold an event declared in another module."""
        cls._appliers = {**cls._appliers, type_name_of(event_cls): fn}

    # --- deciding ---------------------------------------------------------------

    @classmethod
    def handled_commands(cls) -> list[type]:
        return list(cls._handlers)

    @classmethod
    def emits_for(cls, command_cls: type) -> tuple[type, ...]:
        return cls._emits.get(command_cls, ())

    def execute(self, command: Any) -> list[Any]:
        """Run the command's handler against the current state; return the events it decides."""
        handler = self._handlers.get(type(command))
        if handler is None:
            msg = f"{self.aggregate_type} does not handle {type(command).__name__}"
            raise CommandValidationError("unknown_command", msg)
        return iter_messages(handler(self, command))

    # --- folding ----------------------------------------------------------------

    def apply(self, event: Any) -> None:
        """Fold one event into the state; never raises."""
        if isinstance(event, UnknownEvent):
            return
        fn = self._appliers.get(event.__event_type__)
        if fn is None:
            return
        try:
            fn(self, event)
        except Exception:  # noqa: BLE001 - apply must never fail; keep the aggregate loadable
            type(self).apply_failures += 1
            log.warning(
                "%s: applying %s failed; event skipped", self.aggregate_type, event, exc_info=True
            )

    def apply_all(self, events: Iterable[Any]) -> None:
        for ev in events:
            self.apply(ev)

    # --- state and snapshots ----------------------------------------------------

    subject_fields: ClassVar[tuple[str, ...]] = ("user_id", "owner_id", "subject_id")
    """Attributes holding ids of data subjects this aggregate knows (for forgetting)."""

    def subject_ids(self) -> set[str]:
        """Ids of the data subjects whose data this aggregate may hold in memory."""
        return {
            str(value)
            for name in self.subject_fields
            if (value := getattr(self, name, None)) is not None
        }

    def state(self) -> dict[str, Any]:
        """The public attributes, JSON-safe (what the dashboard and the API show)."""
        return json_safe({k: v for k, v in vars(self).items() if not k.startswith("_")})

    def to_snapshot(self) -> dict[str, Any]:
        """The state to store in a snapshot; override with `from_snapshot` for custom encodings."""
        return self.state()

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Aggregate:
        agg = cls()
        for key in vars(agg):
            if key in data and not key.startswith("_"):
                setattr(agg, key, data[key])
        return agg
