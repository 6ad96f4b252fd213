"""Live aggregates: what the registry holds in memory now, its counters, and a chart over time.

The chart is the seed's "sawtooth of death" question made visible: with lifespans
the registry's size and memory stay a bounded line; without them they only climb.
The registry's reaper thread (started by `build_domain`) evicts expired aggregates
and samples size and memory once per tick; this page only reads those samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from webapp.queries.aggregates import live_aggregates
from webapp.web.access import requires_role
from webapp.web.charts import PAD_BOTTOM, PAD_LEFT, PAD_RIGHT, PAD_TOP, PlotBox, nice_max
from webapp.web.context import get_runtime
from webapp.web.pages import render_view

bp = Blueprint("aggregates", __name__, url_prefix="/aggregates")

SHOWN = 50
CHART_WIDTH = 520
CHART_HEIGHT = 160


@dataclass(frozen=True)
class Chart(PlotBox):
    """A server-rendered SVG line chart: a polyline in a fixed viewBox, with axis labels."""

    title: str
    unit: str
    points: str
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    latest: str
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def human_bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"


def human_duration(seconds: float) -> str:
    """A short duration: "42 s", "3 min 5 s", "59 min", "2 h 5 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 10:
        return f"{minutes} min {secs} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def human_count(value: float) -> str:
    return f"{value:,.0f}"


def line_chart(
    samples: list[tuple[float, float]], *, title: str, unit: str, fmt: Any = human_count
) -> Chart | None:
    """A chart of (unix time, value) samples, oldest first; None with fewer than two."""
    if len(samples) < 2:
        return None
    t0, t1 = samples[0][0], samples[-1][0]
    span = max(t1 - t0, 1e-9)
    top = nice_max(max(v for _, v in samples))
    width = CHART_WIDTH - PAD_LEFT - PAD_RIGHT
    height = CHART_HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: float) -> float:
        return PAD_LEFT + (t - t0) / span * width

    def y(v: float) -> float:
        return PAD_TOP + height - (v / top) * height

    points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in samples)
    y_ticks = [(y(top * f), fmt(top * f)) for f in (0.0, 0.5, 1.0)]
    x_labels = [
        (x(t), datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")) for t in (t0, t0 + span / 2, t1)
    ]
    return Chart(title, unit, points, y_ticks, x_labels, fmt(samples[-1][1]))


def registry_view() -> dict[str, Any]:
    """Everything the page shows, read from the registry without loading anything."""
    registry = live_aggregates(get_runtime(), limit=SHOWN)
    now = time.time()
    stats = registry.stats
    rows = []
    for info in registry.live:
        last_used = info.last_used.timestamp()
        deadline = info.deadline.timestamp() if info.deadline is not None else None
        rows.append(
            {
                "info": info,
                "idle": max(0.0, now - last_used),
                "expires_in": None if deadline is None else deadline - now,
            }
        )
    history = registry.history
    points = [(datetime.fromisoformat(s["time"]).timestamp(), s) for s in history]
    size_chart = line_chart(
        [(t, float(s["size"])) for t, s in points], title="Aggregates in memory", unit="live"
    )
    memory_chart = line_chart(
        [(t, float(s["memory"])) for t, s in points],
        title="Approximate memory",
        unit="bytes",
        fmt=human_bytes,
    )
    return {
        "stats": stats,
        "rows": rows,
        "shown": len(rows),
        "total": stats.size,
        "size_chart": size_chart,
        "memory_chart": memory_chart,
        "samples": len(history),
        "history": history,
        "reaper_running": registry.running,
        "reap_interval": registry.reap_interval,
        "human_bytes": human_bytes,
        "human_duration": human_duration,
    }


@bp.get("/")
@requires_role("viewer")
def index() -> str | Response:
    """The registry now (refreshing every 2 s) and its size and memory over time."""
    view = registry_view()
    if request.args.get("format") == "json":
        return registry_json(view)
    return render_view("aggregates/page.html", "aggregates/_live.html", **view)


def registry_json(view: dict[str, Any]) -> Response:
    return jsonify(
        stats=view["stats"].to_dict(),
        reaper_running=view["reaper_running"],
        live=[row["info"].to_dict() for row in view["rows"]],
        history=view["history"],
    )
