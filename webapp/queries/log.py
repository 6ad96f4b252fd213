"""The global log ($all): filtered pages both ways, the live tail, and the whole of it.

Filters are the store's own (`types`, `stream_prefix`, `correlation_id`, `actor`,
`since`, `until`, `data_equals`); a payload filter also matches old events by their
fields as read today (after upcasting), so a search may stop early and say how far it
got (`scanned_to`): pages go on from there.

    search = log_search(parts, types=["MoneyDeposited"])
    page = read_page(search, before=None, after=None, last=False, page_size=50)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from webapp.domain.log_search import LogSearch, LogSlice
from webapp.queries.context import Parts, upcasters_of
from webapp.sources import RecordedEvent


def log_search(parts: Parts, **filters: Any) -> LogSearch:
    """The global log with these filters, read through the source."""
    return LogSearch(parts.source, upcasters_of(parts), **filters)


def head_position(parts: Parts) -> int:
    """The newest position in the log (0 when empty); a store that does not answer raises
    as any read does."""
    return parts.source.head_position()


def upcast_types(parts: Parts) -> dict[str, int]:
    """{type: current schema} of the event types an upcaster lifts from an older schema."""
    return upcasters_of(parts).lifted_types()


RECENT_TYPES_SAMPLE = 500


def recent_types(parts: Parts) -> list[str]:
    """The event types among the newest events (the type filter's suggestions when no domain
    declares them)."""
    newest = parts.source.read_all_backward(None, limit=RECENT_TYPES_SAMPLE)
    return sorted({event.type for event in newest})


@dataclass(frozen=True)
class LogPage:
    events: list[RecordedEvent]
    """Newest first."""
    newer: int | None
    """`after` for the page of newer events, None on the newest page."""
    older: int | None
    """`before` for the page of older events, None on the oldest page."""
    searched_to: int | None = None
    """Set when the search stopped before filling the page: the position it got to."""
    upcast_types: Mapping[str, int] = field(default_factory=dict)
    """{type: current schema}: old events of these types were matched as read today too."""


def _cursor_beyond(found: LogSlice, shown: list[RecordedEvent]) -> int | None:
    """Where the next page in the scan's direction starts, None if the scan reached the end."""
    if len(found.events) > len(shown):
        return shown[-1].position
    return None if found.exhausted else found.scanned_to


def _any_match(search: LogSearch, *, after: int | None = None, before: int | None = None) -> bool:
    """Whether a match may lie past a boundary (a search cut short counts as maybe)."""
    found = search.forward(after, 1) if after is not None else search.backward(before, 1)
    return bool(found.events) or not found.exhausted


def read_page(
    search: LogSearch, *, before: int | None, after: int | None, last: bool, page_size: int
) -> LogPage:
    """One page of the filtered log, newest first, with keyset cursors both ways: before
    `before`, after `after`, the oldest page (`last`) or else the newest."""
    if last or after is not None:
        start = 0 if last or after is None else after
        found = search.forward(start, page_size + 1)
        oldest_first = found.events[:page_size]
        newer = _cursor_beyond(found, oldest_first)
        boundary = oldest_first[0].position if oldest_first else start + 1
        older = None if last or not _any_match(search, before=boundary) else boundary
        events = list(reversed(oldest_first))
    else:
        found = search.backward(before, page_size + 1)
        events = found.events[:page_size]
        older = _cursor_beyond(found, events)
        boundary = events[0].position if events else (before or 1) - 1
        newer = boundary if before is not None and _any_match(search, after=boundary) else None
    cut_short = len(found.events) <= page_size and not found.exhausted
    return LogPage(
        events=events,
        newer=newer,
        older=older,
        searched_to=found.scanned_to if cut_short else None,
        upcast_types=search.upcast_types,
    )


def read_forward(
    search: LogSearch, after: int, limit: int
) -> tuple[list[RecordedEvent], int | None]:
    """Up to `limit` matches after `after`, oldest first, and where the next page starts
    (None at the end; a payload search cut short goes on from where it stopped)."""
    found = search.forward(after, limit + 1)
    page = found.events[:limit]
    if len(found.events) > limit:
        return page, page[-1].position
    return page, None if found.exhausted else found.scanned_to


def read_forward_complete(
    parts: Parts, search: LogSearch, after: int, limit: int
) -> tuple[list[RecordedEvent], int | None, int]:
    """`read_forward`, plus the position up to which the page answers the search: `next`
    while more pages follow; else the head, read before the page so that the page's read
    sees every event up to it.

    An unfiltered page needs no head: a full one answers up to `next`, and one that found
    events but not a full page holds every event after `after`, up to its last one (an
    event that commits later takes a higher position). An empty one reads the head after
    it, and reads the page again only if events arrived past `after` in between. A
    filtered page that ends reads the head first."""
    if search.filtered:
        head = parts.source.head_position()
    else:
        page, after_page = read_forward(search, after, limit)
        if after_page is not None:
            return page, after_page, after_page
        if page:
            return page, None, page[-1].position
        head = parts.source.head_position()
        if head <= after:  # nothing arrived: the empty page answers up to the head
            return page, None, head
    page, after_page = read_forward(search, after, limit)
    return page, after_page, after_page if after_page is not None else head


@dataclass(frozen=True)
class LiveTail:
    events: list[RecordedEvent]
    """The new matches, oldest first."""
    next_after: int
    """Where the next poll starts: past everything this one examined."""


def live_tail(parts: Parts, search: LogSearch, after: int, limit: int) -> LiveTail:
    """Matches after `after` (at most `limit`, oldest first) and where the next poll starts."""
    # appends take positions in commit order: nothing new can land at or below this head
    head = parts.source.head_position()
    scan = search.forward(after, limit)
    next_after = scan.scanned_to if scan.scanned_to is not None else after
    if scan.exhausted:  # the next poll starts past what this one examined
        next_after = max(next_after, head)
    return LiveTail(scan.events, next_after)


def events_up_to(search: LogSearch, head: int, chunk: int) -> Iterator[RecordedEvent]:
    """Every match up to position `head`, oldest first, read `chunk` events at a time."""
    after = 0
    while after < head:
        found = search.forward(after, chunk)
        for event in found.events:
            if event.position > head:
                return
            yield event
        if found.exhausted or found.scanned_to is None:
            return
        after = found.scanned_to
