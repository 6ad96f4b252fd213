"""The home page: how much is stored, what happened last, and how the machinery is doing."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from flask import Blueprint

from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import get_runtime
from webapp.web.pages import render_view

log = logging.getLogger(__name__)
bp = Blueprint("overview", __name__)

RECENT_EVENTS = 12
CHART_DAYS = 60
FORGOTTEN_COUNT_CAP = 1000
AUDIT_STREAM_PREFIX = "privacy-"


def _safely(what: str, compute: Any) -> Any:
    """`compute()`, or None if the layer behind it fails (the overview shows what it can)."""
    try:
        return compute()
    except Exception:  # noqa: BLE001 - one missing figure must not take the page down
        log.warning("overview: %s unavailable", what, exc_info=True)
        return None


def event_rate(days: list[dict[str, Any]], limit: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Events per day (the newest `limit` days) with each bar's height as a share of the max."""
    totals: dict[str, int] = defaultdict(int)
    for row in days:
        totals[str(row["day"])] += int(row["count"])
    recent = sorted(totals.items())[-limit:]
    peak = max((count for _, count in recent), default=0) or 1
    return [{"day": day, "count": count, "share": count / peak} for day, count in recent]


def subject_counts() -> dict[str, Any] | None:
    """Data subjects with a live key and subjects forgotten (their audit streams)."""
    runtime = get_runtime()
    if runtime.privacy is None:
        return None
    with_key = runtime.privacy.keys.count_keys()
    audit = runtime.store.list_streams(AUDIT_STREAM_PREFIX, limit=FORGOTTEN_COUNT_CAP + 1)
    forgotten = min(len(audit), FORGOTTEN_COUNT_CAP)
    return {
        "subjects": with_key + forgotten,
        "forgotten": forgotten,
        "forgotten_capped": len(audit) > FORGOTTEN_COUNT_CAP,
    }


def overview_figures() -> dict[str, Any]:
    """Counts, the newest events and machinery status, read with bounded queries only."""
    runtime = get_runtime()
    store = runtime.store
    recent = store.read_all_backward(None, limit=RECENT_EVENTS)
    projections = runtime.projections
    registry = runtime.registry
    return {
        "stream_count": store.count_streams(),
        "event_count": store.count_events(),
        "head_position": store.head_position(),
        "recent_events": services.reveal(recent, current_account(), purpose="overview"),
        "subjects": _safely("subject counts", subject_counts),
        "projections": _safely("projections", services.projection_statuses)
        if projections is not None
        else None,
        "rate": _safely("event rate", lambda: event_rate(projections.daily_activity()))
        if projections is not None
        else None,
        "registry": _safely("registry", registry.stats) if registry is not None else None,
    }


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Counts, event rate, recent events (refreshing every few seconds) and machinery status."""
    return render_view("overview/page.html", "overview/_live.html", **overview_figures())
