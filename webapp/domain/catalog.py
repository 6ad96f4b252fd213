"""The catalogue of event and command types, for the dashboard and for generated forms."""

from __future__ import annotations

import inspect
from typing import Any

from webapp.domain.formats import Format, format_of
from webapp.domain.messages import (
    command_class,
    command_types,
    event_class,
    event_types,
    field_specs,
    is_internal_command,
    personal_data_of,
    schema_version_of,
    type_name_of,
)
from webapp.domain.router import CommandRouter
from webapp.domain.upcasting import DEFAULT_UPCASTERS, UpcasterChain


def _doc(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    # dataclasses invent a signature docstring; it says nothing the fields do not
    return "" if doc.startswith(f"{cls.__name__}(") else doc


def describe_command(cls: type, router: CommandRouter | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": type_name_of(cls),
        "doc": _doc(cls),
        "fields": [f.to_dict() for f in field_specs(cls)],
        "emits": [],
        "aggregate": None,
        "context": None,
        "identity": None,
        "prefix": None,
        "internal": is_internal_command(cls),
    }
    if router is not None and router.is_routed(cls):
        route = router.route_for(cls)
        info.update(
            emits=[type_name_of(e) for e in route.aggregate.emits_for(cls)],
            aggregate=route.aggregate.aggregate_type,
            context=route.context,
            identity=route.identity,
            prefix=route.prefix,
        )
    return info


def describe_event(
    cls: type, router: CommandRouter | None = None, upcasters: UpcasterChain | None = None
) -> dict[str, Any]:
    name = type_name_of(cls)
    chain = upcasters or DEFAULT_UPCASTERS
    ups = chain.for_type(name)
    current = schema_version_of(cls)
    versions = sorted({current, *(u.from_version for u in ups)})
    emitted_by: list[str] = []
    if router is not None:
        for route in router.routes():
            for cmd in route.commands:
                if cls in route.aggregate.emits_for(cmd):
                    emitted_by.append(type_name_of(cmd))
    return {
        "name": name,
        "doc": _doc(cls),
        "schema_version": current,
        "schema_versions": versions,
        "fields": [f.to_dict() for f in field_specs(cls)],
        "personal_data": personal_data_of(cls),
        "upcasters": [
            {
                "from_version": u.from_version,
                "to_version": u.to_version,
                "name": u.name,
                "doc": u.doc,
            }
            for u in ups
        ],
        "emitted_by": sorted(emitted_by),
    }


def build_catalog(router: CommandRouter | None = None) -> dict[str, Any]:
    """Every registered event and command with fields, versions, personal data and emitters."""
    chain = router.repository.upcasters if router is not None else DEFAULT_UPCASTERS
    return {
        "events": [describe_event(cls, router, chain) for _, cls in sorted(event_types().items())],
        "commands": [describe_command(cls, router) for _, cls in sorted(command_types().items())],
        "routes": router.table() if router is not None else [],
    }


def declaring_class(router: CommandRouter, type_name: str) -> type | None:
    """The class registered under `type_name` with this domain: an aggregate routed by
    `router`, else an event or a routed command (None for a name the domain does not know)."""
    for route in router.routes():
        if route.aggregate.aggregate_type == type_name:
            return route.aggregate
    found = event_class(type_name)
    if found is None:
        command = command_class(type_name)
        found = command if command is not None and router.is_routed(command) else None
    return found


def field_format(router: CommandRouter, owner: str, path: str) -> Format | None:
    """How field `path` of `owner` (an aggregate, event or command type name) reads, as its
    class declares in `__formats__`; None when nothing is declared."""
    cls = declaring_class(router, owner)
    return None if cls is None else format_of(cls, path)
