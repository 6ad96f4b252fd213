"""Routing declarations: one `Router` per bounded context, read as a table.

    bank = Router("bank")
    bank.route([OpenAccount, DepositMoney, WithdrawMoney, CloseAccount],
               to=BankAccount, identity="account_number", prefix="account-",
               lifespan=BankAccountLifespan())

A declaration holds no store and no state: `webapp.domain.router.build_router`
binds declarations to an aggregate registry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from webapp.domain.aggregate import Aggregate
from webapp.domain.errors import CommandValidationError, RoutingError
from webapp.domain.lifespan import KeepForever, Lifespan
from webapp.domain.messages import type_name_of
from webapp.domain.middleware import Middleware


@dataclass(frozen=True)
class Route:
    """One row of a router's table: these commands go to that aggregate."""

    commands: tuple[type, ...]
    aggregate: type[Aggregate]
    identity: str
    prefix: str
    lifespan: Lifespan
    context: str

    def stream_id(self, command: Any) -> str:
        value = getattr(command, self.identity, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            msg = f"{type_name_of(command)} needs a value for {self.identity!r}"
            raise CommandValidationError("missing_field", msg, field=self.identity)
        return f"{self.prefix}{value}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "commands": [type_name_of(c) for c in self.commands],
            "aggregate": self.aggregate.aggregate_type,
            "identity": self.identity,
            "prefix": self.prefix,
            "lifespan": type(self.lifespan).__name__,
            "snapshot_every": self.aggregate.snapshot_every,
            "snapshot_version": self.aggregate.snapshot_version,
        }


class Router:
    """The routing declaration of one bounded context (no store, no state)."""

    def __init__(self, name: str, *, middleware: Iterable[Middleware] = ()) -> None:
        self.name = name
        self.routes: list[Route] = []
        self.middleware: list[Middleware] = list(middleware)

    def route(
        self,
        commands: Sequence[type],
        *,
        to: type[Aggregate],
        identity: str,
        prefix: str = "",
        lifespan: Lifespan | None = None,
    ) -> Router:
        for cmd in commands:
            if cmd not in to._handlers:
                msg = f"{to.__name__} has no handler for {cmd.__name__}"
                raise RoutingError(msg)
            if identity not in {f.name for f in dataclasses.fields(cmd)}:
                msg = f"{cmd.__name__} has no identity field {identity!r}"
                raise RoutingError(msg)
        self.routes.append(
            Route(tuple(commands), to, identity, prefix, lifespan or KeepForever(), self.name)
        )
        return self

    def use(self, *middleware: Middleware) -> Router:
        self.middleware.extend(middleware)
        return self

    def table(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.routes]
