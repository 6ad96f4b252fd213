"""Rendering helpers shared by the page blueprints: full page or htmx fragment, and the nav.

A page template `templates/<area>/page.html` extends `base.html` and includes its
fragment `templates/<area>/_fragment.html`; a view answers an htmx request with
the fragment alone and a normal request with the whole page:

    @bp.get("/")
    @requires_role("viewer")
    def index():
        return render_view("streams/page.html", "streams/_list.html", streams=...)
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from flask import Flask, abort, current_app, render_template, request

from webapp.sources import Capabilities
from webapp.web.access import current_account
from webapp.web.context import get_runtime, runs_domain


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    endpoint: str
    role: str


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Overview", "overview.index", "viewer"),
    NavItem("Streams", "streams.index", "viewer"),
    NavItem("Global timeline", "timeline.index", "viewer"),
    NavItem("Live aggregates", "aggregates.index", "viewer"),
    NavItem("Snapshots", "snapshots.index", "viewer"),
    NavItem("Subjects", "subjects.index", "support"),
    NavItem("People", "projections.users", "viewer"),
    NavItem("Bank accounts", "projections.accounts", "viewer"),
    NavItem("Transfers", "projections.transfers", "viewer"),
    NavItem("Projections", "projections.index", "viewer"),
    NavItem("Health", "health.index", "viewer"),
    NavItem("Subscriptions", "subscriptions.index", "viewer"),
    NavItem("Catalog", "catalog.index", "viewer"),
    NavItem("Console", "console.index", "viewer"),
    NavItem("Notes", "notes.index", "viewer"),
    NavItem("Access log", "access_log.index", "support"),
    NavItem("Staff accounts", "accounts.index", "admin"),
    NavItem("Sign-ins", "sign_ins.index", "admin"),
)
"""Every area of the dashboard, in nav order; an item shows once its endpoint exists."""


def is_fragment_request() -> bool:
    """True when htmx asks for a part of a page (not a boosted full-page navigation)."""
    return (
        request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
    )


def render_view(page: str, fragment: str, **context: Any) -> str:
    """Render `fragment` alone for an htmx request, else the full `page` (which includes it)."""
    template = fragment if is_fragment_request() else page
    return render_template(template, fragment_template=fragment, **context)


def visible_nav() -> list[dict[str, Any]]:
    """The nav items whose route exists and whose role the current account has."""
    account = current_account()
    if account is None:
        return []
    shown = [
        item
        for item in NAV_ITEMS
        if item.endpoint in current_app.view_functions and account.has_role(item.role)
    ]
    # a page that is an item of its own (People, under projections) lights only that item;
    # other pages light their area's index
    exact = any(item.endpoint == request.endpoint for item in shown)
    return [
        {
            "label": item.label,
            "endpoint": item.endpoint,
            "active": item.endpoint == request.endpoint
            if exact
            else item.endpoint == f"{request.blueprint}.index",
        }
        for item in shown
    ]


def has_endpoint(endpoint: str) -> bool:
    """True if a route named `endpoint` exists (templates link only to what exists)."""
    return endpoint in current_app.view_functions


def source_capabilities() -> Capabilities:
    """What the store being shown can answer (templates offer only those filters and panels)."""
    return get_runtime().source.capabilities


def browsing() -> str | None:
    """The foreign store being browsed (its URL without a password), None over eventscope's own."""
    if runs_domain():
        return None
    return getattr(get_runtime(), "source_name", "") or "another tool's store"


def init_app(app: Flask) -> None:
    app.jinja_env.globals["source_capabilities"] = source_capabilities
    app.jinja_env.globals["browsing"] = browsing
    app.jinja_env.globals["visible_nav"] = visible_nav
    app.jinja_env.globals["has_endpoint"] = has_endpoint
    app.jinja_env.globals["is_fragment_request"] = is_fragment_request


def encode_cursor(value: Any) -> str:
    """A keyset cursor (any JSON value) as a URL-safe query-string value."""
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    """The value of `encode_cursor`; a 400 page for anything else."""
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        abort(400, description="The paging cursor is not valid; start again from the first page.")
