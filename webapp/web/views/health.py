"""The health page, for people: the last hour of the log, the commands and the read models.

Four charts over the last hour on one time axis, refreshed every 15 seconds: events
appended per second (from the head the workers saw each minute), commands per second
accepted and refused (webapp.web.command_tally), each projection's and process
manager's throughput, and how far each is behind the head. Minutes without a sample
(no worker running) show as gaps. The numbers behind alerts are at `/metrics`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Blueprint, current_app

from webapp.queries import projections as projection_queries
from webapp.web.access import requires_role
from webapp.web.charts import Sample, TimeChart, rate_text, time_chart
from webapp.web.context import get_runtime
from webapp.web.pages import render_view

bp = Blueprint("health", __name__, url_prefix="/health")

WINDOW_SECONDS = 3600
REFRESH_SECONDS = 15

MinuteSample = tuple[int, float, int]
"""(unix time of the minute's start, when the value was seen, the value)."""


def rates(samples: Sequence[MinuteSample]) -> list[Sample]:
    """Per-second rates between the samples of consecutive minutes, at the later sample's
    time; a value that went down (a reset, a rebuild) counts as no progress. A minute
    without a sample leaves a gap."""
    out = []
    for (m0, t0, v0), (m1, t1, v1) in zip(samples, samples[1:], strict=False):
        if m1 - m0 == 60 and t1 > t0:
            out.append((t1, max(0, v1 - v0) / (t1 - t0)))
    return out


def command_rates(
    counts: dict[int, dict[str, int]], outcome: str, start: float, now: float
) -> list[Sample]:
    """Commands per second with `outcome` in each minute from `start` to `now`, plotted at
    the minute's end (now, for the minute under way); a minute without counts is zero."""
    out = []
    minute = int(start // 60) * 60
    while minute <= now:
        elapsed = min(60.0, max(now - minute, 1.0))
        out.append((minute + elapsed, counts.get(minute, {}).get(outcome, 0) / elapsed))
        minute += 60
    return out


def _by_unit(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    units: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        units[row["name"]].append(row)
    return dict(sorted(units.items()))


def _heads(rows: Iterable[dict[str, Any]]) -> list[MinuteSample]:
    """The furthest head any unit saw in each minute, and when."""
    best: dict[int, tuple[float, int]] = {}
    for row in rows:
        seen = best.get(row["minute"])
        if seen is None or row["head"] > seen[1]:
            best[row["minute"]] = (row["at"], row["head"])
    return [(minute, at, head) for minute, (at, head) in sorted(best.items())]


def health_view(now: float | None = None) -> dict[str, Any]:
    """The charts and the summary figures, as of `now` (unix time)."""
    now = time.time() if now is None else now
    start = now - WINDOW_SECONDS
    runtime = get_runtime()
    rows = projection_queries.progress_history(runtime, start - 60)  # one minute more: deltas
    units = _by_unit(rows)
    counts = current_app.extensions["eventscope_command_tally"].per_minute(start)
    window = {"start": start, "end": now}

    events = rates(_heads(rows))
    commands = {
        outcome: command_rates(counts, outcome, start, now) for outcome in ("accepted", "refused")
    }
    totals = {
        outcome: sum(c.get(outcome, 0) for m, c in counts.items() if m >= start - 60)
        for outcome in ("accepted", "refused", "failed")
    }
    if totals["failed"]:
        commands["failed"] = command_rates(counts, "failed", start, now)
    throughput = {
        name: rates([(r["minute"], r["at"], r["position"]) for r in samples])
        for name, samples in units.items()
    }
    lag = {
        name: [(r["at"], float(max(0, r["head"] - r["position"]))) for r in samples]
        for name, samples in units.items()
    }
    charts: list[TimeChart] = [
        time_chart(
            {"events": events},
            title="Events appended",
            unit="per second",
            legend=False,
            **window,
        ),
        time_chart(commands, title="Commands", unit="per second", **window),
        time_chart(throughput, title="Projection throughput", unit="events per second", **window),
        time_chart(
            lag,
            title="Lag behind the head",
            unit="events",
            fmt=lambda v: f"{v:,.0f}",
            **window,
        ),
    ]
    statuses = projection_queries.projection_statuses(runtime)
    behind = [s for s in statuses if s["kind"] != "timer"]
    store = runtime.store
    index_mark, head = store.index_position(), store.head_position()
    worst = max(behind, key=lambda s: s.get("lag") or 0, default=None)
    return {
        "charts": charts,
        "has_samples": bool(rows),
        "events_per_second": rate_text(events[-1][1]) if events else None,
        "totals": totals,
        "worst": worst,
        "index": {"mark": index_mark, "behind": max(0, head - index_mark)},
        "troubled": [s for s in statuses if s["state"] in ("stopped", "paused")],
        "refresh_seconds": REFRESH_SECONDS,
        "window_minutes": WINDOW_SECONDS // 60,
    }


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """The health page (its charts alone for htmx's refresh)."""
    return render_view("health/page.html", "health/_charts.html", **health_view())
