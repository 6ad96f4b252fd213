"""Server-rendered SVG charts of several series over a fixed time window.

A series is a list of (unix time, value) samples; a sample more than `gap_after` seconds
after the one before starts a new segment, so a stretch without data shows as a gap, not
as a straight line across it. The template `templates/health/_chart.html` draws the
chart: axes, a polyline per segment (a dot for a segment of one sample) and a legend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

WIDTH, HEIGHT = 640, 190
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 12, 10, 24

PALETTE = ("#2f6f8f", "#c0561b", "#4c8c2b", "#8e44ad", "#b8860b", "#d6336c", "#0b7285", "#5c5f66")
"""Series colours, in order; readable on white and distinct for the first few series."""

Sample = tuple[float, float]


def nice_max(value: float) -> float:
    """A round upper bound for a y axis (1, 2, 5 x 10^n; at least 1)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def rate_text(value: float) -> str:
    """A rate for a label: "0", "0.05", "3.4", "1,250"."""
    if value == 0:
        return "0"
    if abs(value) < 1:
        return f"{value:.2f}"
    if abs(value) < 10:
        return f"{value:.1f}"
    return f"{value:,.0f}"


class PlotBox:
    """The plotting area inside a chart's viewBox (`width` x `height`), between the
    padding that holds the axis labels; the template `_chart_axes.html` draws them."""

    width: int
    height: int

    @property
    def plot_left(self) -> int:
        return PAD_LEFT

    @property
    def plot_right(self) -> int:
        return self.width - PAD_RIGHT

    @property
    def plot_bottom(self) -> int:
        return self.height - PAD_BOTTOM


@dataclass(frozen=True)
class Segment:
    points: str
    """The polyline's "x,y x,y ..." in the chart's viewBox."""
    single: tuple[float, float] | None
    """For a segment of one sample: where to draw its dot."""


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    segments: list[Segment]
    latest: str
    """The newest sample's value, formatted ("—" without samples)."""


@dataclass(frozen=True)
class TimeChart(PlotBox):
    title: str
    unit: str
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    has_data: bool
    legend: bool = True
    width: int = WIDTH
    height: int = HEIGHT


def time_chart(
    series: Mapping[str, Sequence[Sample]],
    *,
    start: float,
    end: float,
    title: str,
    unit: str,
    fmt: Callable[[float], str] = rate_text,
    gap_after: float = 90.0,
    legend: bool = True,
) -> TimeChart:
    """A chart of `series` ({label: samples, oldest first}) from `start` to `end` (unix time)."""
    span = max(end - start, 1e-9)
    values = [v for samples in series.values() for t, v in samples if start <= t <= end]
    top = nice_max(max(values, default=0.0))
    plot_width = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_height = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: float) -> float:
        return PAD_LEFT + (t - start) / span * plot_width

    def y(v: float) -> float:
        return PAD_TOP + plot_height - (min(max(v, 0.0), top) / top) * plot_height

    drawn = []
    for index, (label, samples) in enumerate(series.items()):
        shown = [(t, v) for t, v in samples if start <= t <= end]
        runs: list[list[Sample]] = []
        for t, v in shown:
            if runs and t - runs[-1][-1][0] <= gap_after:
                runs[-1].append((t, v))
            else:
                runs.append([(t, v)])
        segments = [
            Segment(
                " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run),
                (round(x(run[0][0]), 1), round(y(run[0][1]), 1)) if len(run) == 1 else None,
            )
            for run in runs
        ]
        latest = fmt(shown[-1][1]) if shown else "—"
        drawn.append(Series(label, PALETTE[index % len(PALETTE)], segments, latest))
    y_ticks = [(y(top * f), fmt(top * f)) for f in (0.0, 0.5, 1.0)]
    x_labels = [
        (x(t), datetime.fromtimestamp(t, UTC).strftime("%H:%M"))
        for t in (start, start + span / 2, end)
    ]
    return TimeChart(title, unit, drawn, y_ticks, x_labels, has_data=bool(values), legend=legend)


# --- a value at each version of a stream ------------------------------------------------------

VERSION_WIDTH, VERSION_HEIGHT = 360, 170
MARKED_POINTS = 100
"""Up to this many versions each get a dot with its value on hover; more draw the line only."""


@dataclass(frozen=True)
class VersionPoint:
    x: float
    y: float
    label: str
    """"v3: €12.00", the dot's tooltip."""


@dataclass(frozen=True)
class VersionChart(PlotBox):
    """One numeric field of a stream's state at each version: a line over the versions, the
    y axis in the field's own terms (money as money)."""

    title: str
    points: str
    """The polyline's "x,y x,y ..." (one pair per version)."""
    count: int
    dots: list[VersionPoint]
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    latest: str
    summary: str
    """The chart in words, for those who do not see it."""
    left: int = PAD_LEFT
    width: int = VERSION_WIDTH
    height: int = VERSION_HEIGHT

    @property
    def plot_left(self) -> int:
        return self.left


def version_chart(
    points: Sequence[tuple[int, float]],
    *,
    title: str,
    fmt: Callable[[float], str] = rate_text,
    axis_fmt: Callable[[float], str] | None = None,
) -> VersionChart | None:
    """A chart of (version, value) points, oldest first (None without points); `fmt` writes
    a value as the field reads, `axis_fmt` an axis label (default: `fmt`). Negative values
    get an axis below zero."""
    axis_fmt = axis_fmt or fmt
    if not points:
        return None
    values = [v for _, v in points]
    low, high = min(values), max(values)
    top = nice_max(high) if high > 0 else 0.0
    bottom = -nice_max(-low) if low < 0 else 0.0
    if top == bottom:
        top = 1.0
    ticks = (bottom, 0.0, top) if bottom < 0 < top else (bottom, (bottom + top) / 2, top)
    labels = [axis_fmt(t) for t in ticks]
    left = max(PAD_LEFT, 12 + 7 * max(len(label) for label in labels))
    first, last = points[0][0], points[-1][0]
    span = max(last - first, 1)
    plot_width = VERSION_WIDTH - left - PAD_RIGHT
    plot_height = VERSION_HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(version: int) -> float:
        if last == first:
            return left + plot_width / 2
        return left + (version - first) / span * plot_width

    def y(value: float) -> float:
        return PAD_TOP + plot_height - (value - bottom) / (top - bottom) * plot_height

    line = " ".join(f"{x(v):.1f},{y(value):.1f}" for v, value in points)
    dots = []
    if len(points) <= MARKED_POINTS:
        dots = [
            VersionPoint(round(x(v), 1), round(y(value), 1), f"v{v}: {fmt(value)}")
            for v, value in points
        ]
    versions = [first] if first == last else [first, (first + last) // 2, last]
    if len(versions) == 3 and versions[1] in (first, last):
        versions = [first, last]
    x_labels = [(x(v), f"v{v}") for v in versions]
    latest = fmt(values[-1])
    span_words = f"version {first}" if first == last else f"versions {first} to {last}"
    summary = f"{title} at {span_words}: lowest {fmt(low)}, highest {fmt(high)}, now {latest}"
    return VersionChart(
        title=title,
        points=line,
        count=len(points),
        dots=dots,
        y_ticks=[(y(t), label) for t, label in zip(ticks, labels, strict=True)],
        x_labels=x_labels,
        latest=latest,
        summary=summary,
        left=left,
    )
