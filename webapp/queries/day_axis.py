"""Events per day on a real time axis: every day a slot (an empty day is a gap), and a
marked break where the days jump across a long quiet stretch.

    axis = day_axis({"2024-03-05": 4, "2024-03-07": 1, "2026-12-05": 2}, limit=60)
    [slot.day for slot in axis.slots]  # 2024-03-05, 2024-03-06 (a gap), 2024-03-07,
                                       # a break (2024-03-08 .. 2026-12-04), 2026-12-05
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

MAX_QUIET_DAYS = 14
"""A quiet stretch longer than this is drawn as a break, not as that many empty days."""


@dataclass(frozen=True, slots=True)
class DaySlot:
    """One day of the axis (`count` 0: a gap), or a break over the days `day`..`until`."""

    day: date
    count: int = 0
    share: float = 0.0
    """The bar's height as a share of the busiest day shown."""
    until: date | None = None
    """Set on a break: the last quiet day it stands for."""

    @property
    def is_break(self) -> bool:
        return self.until is not None

    @property
    def quiet_days(self) -> int:
        """The days a break stands for (0 for a day)."""
        return 0 if self.until is None else (self.until - self.day).days + 1

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DayAxis:
    """The slots, oldest first, and what happened before the first day shown."""

    slots: list[DaySlot]
    peak: int
    earlier_events: int = 0
    """Events on days older than the first day shown."""
    earlier_first: date | None = None
    earlier_last: date | None = None

    @property
    def days(self) -> list[DaySlot]:
        return [slot for slot in self.slots if not slot.is_break]

    @property
    def breaks(self) -> list[DaySlot]:
        return [slot for slot in self.slots if slot.is_break]

    @property
    def first_day(self) -> date:
        return self.days[0].day

    @property
    def last_day(self) -> date:
        return self.days[-1].day


def day_axis(
    totals: Mapping[str, int], limit: int, max_quiet: int = MAX_QUIET_DAYS
) -> DayAxis | None:
    """The newest `limit` days on the axis, ending at the newest day with events (None:
    no events). Going back from it, a quiet stretch of more than `max_quiet` days
    becomes one break and the axis goes on at the next older busy day."""
    counts = {date.fromisoformat(day): n for day, n in totals.items() if n > 0}
    if not counts:
        return None
    busy = sorted(counts, reverse=True)
    newest_first: list[DaySlot] = []
    placed = 0
    expected = busy[0]
    for day in busy:
        quiet = (expected - day).days
        if quiet > max_quiet and newest_first:
            newest_first.append(DaySlot(day + timedelta(days=1), until=expected))
        else:
            for k in range(quiet):
                if placed == limit:
                    break
                newest_first.append(DaySlot(expected - timedelta(days=k)))
                placed += 1
        if placed == limit:
            break
        newest_first.append(DaySlot(day, counts[day]))
        placed += 1
        expected = day - timedelta(days=1)
        if placed == limit:
            break
    while newest_first and newest_first[-1].count == 0:
        newest_first.pop()  # the axis starts at a busy day
    first_shown = newest_first[-1].day
    peak = max(slot.count for slot in newest_first)
    slots = [DaySlot(s.day, s.count, s.count / peak, s.until) for s in reversed(newest_first)]
    earlier = [day for day in busy if day < first_shown]
    return DayAxis(
        slots=slots,
        peak=peak,
        earlier_events=sum(counts[day] for day in earlier),
        earlier_first=min(earlier) if earlier else None,
        earlier_last=max(earlier) if earlier else None,
    )
