"""The event catalog for domain experts: every event type, who emits it, who reads it, a map."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app

from webapp.queries import catalog as catalog_queries
from webapp.queries import foreign
from webapp.queries.catalog import Consumer, Counts, hand_sent_commands
from webapp.queries.foreign import InferredCatalog
from webapp.queries.personal import record_payload_view
from webapp.web.access import requires_role
from webapp.web.context import current_viewer, get_runtime, runs_domain
from webapp.web.domain_map import build_domain_map
from webapp.web.pages import render_view

T = TypeVar("T")
bp = Blueprint("catalog", __name__, url_prefix="/catalog")


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Every event type with fields, versions, emitters, consumers, count, an example; the map."""
    if not runs_domain():
        return render_view(
            "catalog/inferred_page.html", "catalog/_inferred.html", catalog=inferred_catalog()
        )
    catalog = domain_catalog()
    consumers = consumers_by_type(catalog)
    names = [e["name"] for e in catalog["events"]]
    counts = event_counts(names)
    examples = latest_examples(names, counts)
    return render_view(
        "catalog/page.html",
        "catalog/_types.html",
        catalog=catalog,
        consumers=consumers,
        counts=counts,
        examples=examples,
        hand_sent=hand_sent_commands(catalog),
        domain_map=cached("domain_map", lambda: build_domain_map(catalog, consumers)),
    )


@bp.get("/types/<id:type_name>")
@requires_role("viewer")
def event_type(type_name: str) -> str:
    """One event type on its own page (the same card as in the catalog, with its notes)."""
    if not runs_domain():
        found_types = [t for t in inferred_catalog().types if t.name == type_name]
        if not found_types:
            abort(404, description=f"no event type {type_name!r} among the newest events")
        return render_view(
            "catalog/inferred_type_page.html",
            "catalog/_inferred_type.html",
            item=found_types[0],
            standalone=True,
        )
    catalog = domain_catalog()
    found = [e for e in catalog["events"] if e["name"] == type_name]
    if not found:
        abort(404, description=f"no event type {type_name!r} is registered")
    counts = event_counts([type_name])
    return render_view(
        "catalog/type_page.html",
        "catalog/_type.html",
        event=found[0],
        consumers=consumers_by_type(catalog),
        counts=counts,
        examples=latest_examples([type_name], counts),
        hand_sent=hand_sent_commands(catalog),
        standalone=True,  # the card's name is the page's heading
    )


# --- what the page shows -----------------------------------------------------------------


def cached(name: str, build: Callable[[], T]) -> T:
    """`build()` once per app, router and projections: the catalogue, the map and the forms
    never change while the app runs, and rebuilding them costs more than the rest of the page."""
    memo = current_app.extensions.setdefault("eventscope_catalog_cache", {})
    runtime = get_runtime()
    key = (name, id(runtime.router), id(runtime.projections))
    if key not in memo:
        memo[key] = build()
    return memo[key]


def inferred_catalog() -> InferredCatalog:
    """Another tool's store: its event types as the newest events show them (examples
    shown in clear, so their streams go to the access log)."""
    runtime = get_runtime()
    found = foreign.infer_catalog(runtime.source)
    record_payload_view(
        runtime,
        current_viewer(),
        [item.example.stream_id for item in found.types],
        "event catalog examples",
    )
    return found


def domain_catalog() -> dict[str, Any]:
    """The domain's catalogue of events and commands (with emitters), plus the route table."""
    return cached("domain_catalog", lambda: catalog_queries.domain_catalog(get_runtime()))


def consumers_by_type(catalog: dict[str, Any]) -> dict[str, list[Consumer]]:
    """Event type -> the projections and process managers that read it."""
    return cached("consumers", lambda: catalog_queries.consumers_by_type(get_runtime(), catalog))


def event_counts(type_names: list[str]) -> Counts:
    return catalog_queries.event_counts(get_runtime(), type_names)


def latest_examples(type_names: list[str], counts: Counts | None = None) -> dict[str, Any]:
    return catalog_queries.latest_examples(get_runtime(), type_names, counts, current_viewer())
