"""The home page's figures: how much is stored, what happened last, how the machinery is doing.

Every figure is read with a bounded query; one that fails is left out (None) rather
than taking the page down.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from webapp.projections.read_models import activity
from webapp.queries.context import Parts, Viewer
from webapp.queries.day_axis import DayAxis, day_axis
from webapp.queries.personal import reveal
from webapp.queries.projections import projection_statuses
from webapp.sources import Subscription

T = TypeVar("T")
log = logging.getLogger(__name__)

RECENT_EVENTS = 12
CHART_DAYS = 60
FORGOTTEN_COUNT_CAP = 1000
AUDIT_STREAM_PREFIX = "privacy-"
"""The audit streams privacy keeps, one per forgotten subject."""


def _safely(what: str, compute: Callable[[], T]) -> T | None:
    """`compute()`, or None if the part behind it fails (the overview shows what it can)."""
    try:
        return compute()
    except Exception:  # noqa: BLE001 - one missing figure must not take the page down
        log.warning("overview: %s unavailable", what, exc_info=True)
        return None


def event_rate(days: list[dict[str, Any]], limit: int = CHART_DAYS) -> DayAxis | None:
    """Events per day (by when they happened: the activity counts' business day) on a real
    time axis: the `limit` days up to the newest busy one, empty days as gaps, long quiet
    stretches as marked breaks (None: no events counted yet)."""
    totals: dict[str, int] = defaultdict(int)
    for row in days:
        totals[str(row["day"])] += int(row["count"])
    return day_axis(totals, limit)


def subject_counts(parts: Parts) -> dict[str, Any]:
    """Data subjects with a live key and subjects forgotten (their audit streams)."""
    with_key = parts.privacy.keys.count_keys()
    audit = parts.source.list_streams(AUDIT_STREAM_PREFIX, limit=FORGOTTEN_COUNT_CAP + 1)
    forgotten = min(len(audit), FORGOTTEN_COUNT_CAP)
    return {
        "subjects": with_key + forgotten,
        "forgotten": forgotten,
        "forgotten_capped": len(audit) > FORGOTTEN_COUNT_CAP,
    }


def subscriptions(parts: Parts) -> list[Subscription]:
    """The source's readers with a checkpoint, the furthest behind first."""
    return sorted(parts.source.subscriptions(), key=lambda sub: (-sub.lag, sub.name))


def overview_figures(parts: Parts, viewer: Viewer) -> dict[str, Any]:
    """Counts, the newest events (decoded for `viewer`) and machinery status."""
    source = parts.source
    recent = source.read_all_backward(None, limit=RECENT_EVENTS)
    projections, registry = parts.projections, parts.registry
    if projections is None or registry is None:  # another tool's store: the source alone
        return {
            "stream_count": source.count_streams(),
            "event_count": source.count_events(),
            "head_position": source.head_position(),
            "recent_events": reveal(parts, recent, viewer, where="overview"),
            "subjects": None,
            "projections": None,
            "rate": None,
            "registry": None,
            "subscriptions": _safely("subscriptions", lambda: subscriptions(parts)),
        }
    return {
        "stream_count": source.count_streams(),
        "event_count": source.count_events(),
        "head_position": source.head_position(),
        "recent_events": reveal(parts, recent, viewer, where="overview"),
        "subjects": _safely("subject counts", lambda: subject_counts(parts)),
        "projections": _safely("projections", lambda: projection_statuses(parts)),
        "rate": _safely("event rate", lambda: event_rate(projections.daily_activity())),
        "registry": _safely("registry", registry.stats),
    }


def overview_at(parts: Parts, viewer: Viewer, position: int) -> dict[str, Any]:
    """The overview's figures as they stood at global `position` (0: before the log): events
    and streams counted by the built-in activity read models rebuilt as of `position`
    (`Projections.query_as_of`), the chart from the daily counts as of then, the newest
    events up to it. The machinery's figures (lag, subscriptions, memory) and the subject
    counts exist only now and are left out (None). Needs eventscope's own store."""
    projections = parts.projections
    assert projections is not None, "as-of figures need eventscope's own store"

    def total(name: str, fn: Callable[..., list[dict[str, Any]]], field: str) -> int:
        return sum(int(row[field]) for row in projections.query_as_of(name, position, fn))

    recent = parts.source.read_all_backward(position + 1, limit=RECENT_EVENTS) if position else []
    days = _safely(
        "event rate as of",
        lambda: projections.query_as_of("daily_activity", position, activity.daily_activity),
    )
    return {
        "stream_count": _safely(
            "streams as of", lambda: total("stream_catalog", activity.stream_categories, "streams")
        ),
        "event_count": _safely(
            "events as of", lambda: total("event_type_counts", activity.event_type_counts, "count")
        ),
        "head_position": position,
        "recent_events": reveal(parts, recent, viewer, where="overview"),
        "subjects": None,
        "projections": None,
        "rate": None if days is None else event_rate(days),
        "registry": None,
        "subscriptions": None,
    }
