"""The home page: how much is stored, what happened last, and how the machinery is doing.

With a past moment set (webapp.web.moment) it shows the counts, the chart and the newest
events as they stood then, and does not refresh itself.
"""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.projections import ReplayRefused
from webapp.queries.overview import event_rate, overview_at, overview_figures
from webapp.web.access import requires_role
from webapp.web.context import current_viewer, get_runtime
from webapp.web.moment import past_position
from webapp.web.pages import render_view

bp = Blueprint("overview", __name__)

__all__ = ["bp", "event_rate", "index"]


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Counts, event rate, recent events (refreshing every few seconds) and machinery status;
    as of a past moment: the counts, chart and newest events then (no refresh)."""
    position = past_position()
    if position is None:
        figures = overview_figures(get_runtime(), current_viewer())
    else:
        try:
            figures = overview_at(get_runtime(), current_viewer(), position)
        except ReplayRefused as refused:
            abort(409, description=f"The overview cannot be rebuilt at {position}: {refused}")
    return render_view("overview/page.html", "overview/_live.html", as_of=position, **figures)
