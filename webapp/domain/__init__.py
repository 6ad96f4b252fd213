"""The domain runtime: aggregates, commands and events, routers, lifespans, the registry,
snapshots and upcasters. It knows the store's API and nothing of the web.

Public entry points (everything else is an implementation detail):

    from webapp.domain import (
        Aggregate, handles, applies, event, command, event_class, command_class,
        Router, build_router, CommandRouter, AggregateRegistry, Repository,
        PayloadCodec, IdentityCodec, DomainError, CommandValidationError, ConcurrencyError,
        INFINITY, STOP, upcaster, diff_states,
    )
"""

from __future__ import annotations

from webapp.domain.aggregate import Aggregate, applies, handles
from webapp.domain.assembly import build_domain
from webapp.domain.catalog import build_catalog
from webapp.domain.codec import IdentityCodec, PayloadCodec
from webapp.domain.diff import FieldChange, diff_states
from webapp.domain.errors import CommandValidationError, ConcurrencyError, DomainError, RoutingError
from webapp.domain.lifespan import INFINITY, STOP, KeepFor, KeepForever, Lifespan, StopAfterUse
from webapp.domain.messages import (
    Limits,
    UnknownEvent,
    command,
    command_class,
    command_types,
    event,
    event_class,
    event_types,
    field_specs,
    from_data,
    is_internal_command,
    parse_command,
    personal_data_of,
    personal_field_names,
    to_data,
    type_name_of,
)
from webapp.domain.middleware import AuditMiddleware, LoggingMiddleware, Middleware, Pipeline
from webapp.domain.registry import AggregateRegistry, LiveAggregate
from webapp.domain.repository import LoadReport, Repository
from webapp.domain.results import (
    DispatchResult,
    DryRunResult,
    PlannedEvent,
    StateAt,
    TimelineStep,
)
from webapp.domain.router import CommandRouter, build_router
from webapp.domain.routes import Route, Router
from webapp.domain.upcasting import DEFAULT_UPCASTERS, UpcasterChain, upcaster

__all__ = [
    "build_domain",
    "DEFAULT_UPCASTERS",
    "INFINITY",
    "STOP",
    "Aggregate",
    "AggregateRegistry",
    "AuditMiddleware",
    "CommandRouter",
    "CommandValidationError",
    "ConcurrencyError",
    "DispatchResult",
    "DomainError",
    "DryRunResult",
    "FieldChange",
    "IdentityCodec",
    "KeepFor",
    "KeepForever",
    "Lifespan",
    "Limits",
    "LiveAggregate",
    "LoadReport",
    "LoggingMiddleware",
    "Middleware",
    "PayloadCodec",
    "Pipeline",
    "PlannedEvent",
    "Repository",
    "Route",
    "Router",
    "RoutingError",
    "StateAt",
    "StopAfterUse",
    "TimelineStep",
    "UnknownEvent",
    "UpcasterChain",
    "applies",
    "build_catalog",
    "build_router",
    "command",
    "command_class",
    "is_internal_command",
    "command_types",
    "diff_states",
    "event",
    "event_class",
    "event_types",
    "field_specs",
    "from_data",
    "handles",
    "parse_command",
    "personal_data_of",
    "personal_field_names",
    "to_data",
    "type_name_of",
    "upcaster",
]
