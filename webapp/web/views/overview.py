"""The home page: how much is stored, what happened last, and how the machinery is doing."""

from __future__ import annotations

from flask import Blueprint

from webapp.queries.overview import event_rate, overview_figures
from webapp.web.access import requires_role
from webapp.web.context import current_viewer, get_runtime
from webapp.web.pages import render_view

bp = Blueprint("overview", __name__)

__all__ = ["bp", "event_rate", "index"]


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Counts, event rate, recent events (refreshing every few seconds) and machinery status."""
    figures = overview_figures(get_runtime(), current_viewer())
    return render_view("overview/page.html", "overview/_live.html", **figures)
