"""Subscriptions: every reader of a foreign store's global log that keeps a checkpoint (Commanded's
subscriptions, the `eventsourcing` library's trackers), and how far behind the head it is."""

from __future__ import annotations

from flask import Blueprint

from webapp.queries.log import head_position
from webapp.queries.overview import subscriptions
from webapp.web.access import requires_role
from webapp.web.context import get_runtime
from webapp.web.pages import render_view

bp = Blueprint("subscriptions", __name__, url_prefix="/subscriptions")


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Each checkpoint with its position and lag (the table refreshes every few seconds)."""
    runtime = get_runtime()
    return render_view(
        "subscriptions/page.html",
        "subscriptions/_table.html",
        subscriptions=subscriptions(runtime),
        head=head_position(runtime),
    )
