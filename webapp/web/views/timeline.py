"""The global timeline for auditors: the whole log ($all) filtered, and causation chains.

The log is shown newest first, one keyset page at a time (`before=P` for older
events, `after=P` for newer ones, `page=last` for the oldest page). The newest page
is live: htmx polls `/timeline/live` every two seconds and new matching events
appear on top. Filters are time range (recorded_at), event type, stream id prefix,
actor and correlation id.
A causation chain shows, for one event, the command that caused it and every
command and event of its correlation as a tree (parent = causation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from werkzeug.exceptions import BadRequest

from webapp.domain import log_search
from webapp.domain.log_search import LogSearch, LogSlice
from webapp.store.types import RecordedEvent
from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import get_runtime
from webapp.web.downloads import csv_download
from webapp.web.filters import parse_data_filter, parse_time_range
from webapp.web.numbers import MAX_INTEGER, BadNumber, whole_number
from webapp.web.pages import has_endpoint, is_fragment_request, render_view

bp = Blueprint("timeline", __name__, url_prefix="/timeline")

PAGE_SIZE = 50
LIVE_MAX_ROWS = 500
"""The newest page stops growing live past this many rows and offers a reload instead."""
CHAIN_LIMIT = 500
MAX_TEXT = 200
MAX_TYPES = 20
TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,99}$")
FILTER_NAMES = ("since", "until", "type", "stream", "actor", "correlation", "data")

# --- filters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineFilters:
    """The auditor's filters, checked; `store_args` feeds read_all / read_all_backward."""

    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] = ()
    stream: str = ""
    actor: str = ""
    correlation: str = ""
    data: tuple[str, str] | None = None
    """(field, value): the payload's top-level `field` reads as `value`."""
    raw: dict[str, str] = field(default_factory=dict)

    def store_args(self) -> dict[str, Any]:
        return {
            "types": list(self.types) or None,
            "stream_prefix": self.stream or None,
            "actor": self.actor or None,
            "correlation_id": self.correlation or None,
            "since": self.since,
            "until": self.until,
            "data_equals": self.data,
        }

    def link(self, **paging: Any) -> dict[str, Any]:
        """Query-string arguments: these filters plus one paging argument."""
        args: dict[str, Any] = {k: v for k, v in self.raw.items() if v}
        args.update({k: v for k, v in paging.items() if v is not None})
        return args

    @property
    def active(self) -> bool:
        return any(self.raw.values())


def bad_filter(message: str) -> None:
    abort(400, description=message)


def _text_arg(name: str, label: str) -> str:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_TEXT:
        bad_filter(f"The {label} filter is limited to {MAX_TEXT} characters.")
    return value


def parse_filters() -> TimelineFilters:
    """The query string's filters (400 with a clear message for anything malformed)."""
    raw = {name: _text_arg(name, name) for name in FILTER_NAMES}
    since, until = parse_time_range(raw["since"], raw["until"])
    types = tuple(t.strip() for t in raw["type"].split(",") if t.strip())
    if len(types) > MAX_TYPES:
        bad_filter(f"At most {MAX_TYPES} event types can be filtered at once.")
    for name in types:
        if not TYPE_NAME.match(name):
            bad_filter(
                f"{name!r} is not an event type name (letters, digits, '_', '.', ':' or '-')."
            )
    return TimelineFilters(
        since=since,
        until=until,
        types=types,
        stream=raw["stream"],
        actor=raw["actor"],
        correlation=raw["correlation"],
        data=parse_data_filter(raw["data"]),
        raw=raw,
    )


def _position_arg(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return whole_number(text, f"paging position {name!r}")
    except BadNumber as exc:
        bad_filter(str(exc))


# --- one page of the log ----------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePage:
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


def read_page(filters: TimelineFilters, *, before: int | None, after: int | None, last: bool):
    """One page of the filtered log, newest first, with keyset cursors both ways."""
    search = services.log_search(**filters.store_args())
    if last or after is not None:
        start = 0 if last else after
        found = search.forward(start, PAGE_SIZE + 1)
        oldest_first = found.events[:PAGE_SIZE]
        newer = _cursor_beyond(found, oldest_first)
        boundary = oldest_first[0].position if oldest_first else start + 1
        older = None if last or not _any_match(search, before=boundary) else boundary
        events = list(reversed(oldest_first))
    else:
        found = search.backward(before, PAGE_SIZE + 1)
        events = found.events[:PAGE_SIZE]
        older = _cursor_beyond(found, events)
        boundary = events[0].position if events else (before or 1) - 1
        newer = boundary if before is not None and _any_match(search, after=boundary) else None
    cut_short = len(found.events) <= PAGE_SIZE and not found.exhausted
    return TimelinePage(
        events=events,
        newer=newer,
        older=older,
        searched_to=found.scanned_to if cut_short else None,
        upcast_types=search.upcast_types,
    )


def stream_endpoint() -> str | None:
    return "streams.show" if has_endpoint("streams.show") else None


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """The global log, newest first, filtered and keyset-paged."""
    try:
        filters = parse_filters()
        before = _position_arg("before")
        after = _position_arg("after")
        last = request.args.get("page") == "last"
        if sum(x is not None for x in (before, after)) + last > 1:
            bad_filter("Ask for one page at a time: 'before', 'after' or page=last.")
    except BadRequest as exc:
        if not is_fragment_request():
            raise
        # htmx swaps only 2xx answers: show the message in place of the results
        return render_template("timeline/_bad_filter.html", message=exc.description)
    head = get_runtime().store.head_position()
    page = read_page(filters, before=before, after=after, last=last)
    events = services.reveal(page.events, current_account(), purpose="global timeline")
    live_after = None
    if page.newer is None and not last:  # the newest page: new events join it live
        live_after = max(page.events[0].position, head) if page.events else head
    return render_view(
        "timeline/page.html",
        "timeline/_results.html",
        filters=filters,
        events=events,
        log_page=page,
        live_after=live_after,
        event_types=_known_event_types(),
        stream_endpoint=stream_endpoint(),
        personal_data_field=_is_personal_field(filters.data[0]) if filters.data else False,
        older_schemas=sorted(page.upcast_types.items()),
        current_schemas=_upcast_types(),
        scan_limit=log_search.SCAN_LIMIT,
    )


def _upcast_types() -> dict[str, int]:
    """{type: current schema} of the event types an upcaster lifts from an older schema."""
    router = get_runtime().router
    if router is None:
        return {}
    return router.repository.upcasters.lifted_types()


def _is_personal_field(name: str) -> bool:
    """Whether some event type declares `name` as personal data (sealed, so never matched)."""
    try:
        from webapp.domain import personal_field_names
    except ImportError:
        return False
    return name in personal_field_names()


EXPORT_PAGE = 1000
EXPORT_COLUMNS = [
    "position",
    "recorded_at",
    "stream_id",
    "stream_version",
    "type",
    "schema_version",
    "event_id",
    "actor",
    "correlation_id",
    "causation_id",
]


@bp.get("/export.csv")
@requires_role("viewer")
def export_csv() -> Response:
    """The filtered log as CSV, oldest first, up to the head when the download began: what
    happened, when, in which stream and by whom. Payloads stay out: they may hold personal
    data, and the CSV leaves the access log's reach."""
    filters = parse_filters()
    head = get_runtime().store.head_position()
    search = services.log_search(**filters.store_args())

    def events() -> Iterator[RecordedEvent]:
        after = 0
        while after < head:
            found = search.forward(after, EXPORT_PAGE)
            for event in found.events:
                if event.position > head:
                    return
                yield event
            if found.exhausted or found.scanned_to is None:
                return
            after = found.scanned_to

    return csv_download("eventscope-timeline", EXPORT_COLUMNS, events())


@bp.get("/live")
@requires_role("viewer")
def live() -> str:
    """The events after `after` that match the filters, newest first, and the next poller."""
    filters = parse_filters()
    after = _position_arg("after")
    if after is None:
        bad_filter("The live timeline needs 'after', the newest position already shown.")
    shown = _position_arg("shown") or 0
    oldest = _position_arg("oldest")
    # a burst larger than a page arrives over several polls, oldest first
    # appends take positions in commit order: nothing new can land at or below this head
    head = get_runtime().store.head_position()
    scan = services.log_search(**filters.store_args()).forward(after, PAGE_SIZE)
    found = scan.events
    next_after = scan.scanned_to if scan.scanned_to is not None else after
    if scan.exhausted:  # the next poll starts past what this one examined
        next_after = max(next_after, head)
    more = shown + len(found) > LIVE_MAX_ROWS
    events = services.reveal(found, current_account(), purpose="global timeline") if found else []
    return render_template(
        "timeline/_live.html",
        filters=filters,
        events=list(reversed(events)),
        after=next_after,
        shown=shown + len(found),
        oldest=oldest if oldest is not None else (found[0].position if found else None),
        more=more,
        stream_endpoint=stream_endpoint(),
        current_schemas=_upcast_types(),
    )


def _known_event_types() -> list[str]:
    from webapp.domain import event_types

    return sorted(event_types())


# --- causation chains -------------------------------------------------------------------------


@dataclass
class ChainNode:
    """A command or an event in a causation tree."""

    kind: str  # "command" | "event" | "outside"
    key: str
    label: str
    event: RecordedEvent | None = None
    actor: str | None = None
    parent: str | None = None
    children: list[ChainNode] = field(default_factory=list)
    focus: bool = False
    first_position: int = 0


def command_key(event: RecordedEvent) -> str | None:
    """The id of the command that produced `event` (its command_id, else command+causation)."""
    md = event.metadata or {}
    if md.get("command_id"):
        return f"command:{md['command_id']}"
    if md.get("command"):
        return f"command:{md.get('command')}@{md.get('causation_id') or event.event_id}"
    return None


def build_chain(events: list[RecordedEvent], focus: RecordedEvent) -> list[ChainNode]:
    """The causation forest of `events` (one correlation): commands own the events they
    produced; a command caused by an event hangs under that event."""
    nodes: dict[str, ChainNode] = {}
    for event in events:
        md = event.metadata or {}
        ckey = command_key(event)
        if ckey is not None and ckey not in nodes:
            causation = str(md.get("causation_id") or "")
            own_id = str(md.get("command_id") or "")
            parent = f"event:{causation}" if causation and causation != own_id else None
            nodes[ckey] = ChainNode(
                kind="command",
                key=ckey,
                label=str(md.get("command") or "command"),
                actor=md.get("actor"),
                parent=parent,
                first_position=event.position,
            )
        ekey = f"event:{event.event_id}"
        parent = ckey
        if parent is None and md.get("causation_id"):
            parent = f"event:{md['causation_id']}"
        nodes[ekey] = ChainNode(
            kind="event",
            key=ekey,
            label=event.type,
            event=event,
            actor=md.get("actor"),
            parent=parent,
            focus=event.event_id == focus.event_id,
            first_position=event.position,
        )
    roots: list[ChainNode] = []
    attached: dict[str, str] = {}  # child key -> the parent it hangs under in the tree
    for node in sorted(nodes.values(), key=lambda n: (n.first_position, n.kind != "command")):
        parent = nodes.get(node.parent) if node.parent else None
        if parent is not None and not _hangs_under(parent.key, node.key, attached):
            parent.children.append(node)
            attached[node.key] = parent.key
        else:
            roots.append(node)
    return roots


def _hangs_under(key: str, ancestor: str, attached: dict[str, str]) -> bool:
    """True if `key` is `ancestor` or already sits below it (guards against causation cycles)."""
    seen: set[str] = set()
    current: str | None = key
    while current is not None and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = attached.get(current)
    return False


def _causing_event(event: RecordedEvent) -> RecordedEvent | None:
    """The event that caused the command behind `event`, if any (e.g. a process manager's)."""
    md = event.metadata or {}
    causation = md.get("causation_id")
    if not causation or causation == md.get("command_id"):
        return None
    return get_runtime().store.get_event_by_id(str(causation))


@bp.get(f"/events/<int(max={MAX_INTEGER}):position>/chain")
@requires_role("viewer")
def chain(position: int) -> str:
    """The command that caused event `position` and everything in its correlation, as a tree."""
    store = get_runtime().store
    event = store.get_event(position)
    if event is None:
        abort(404, description=f"There is no event at position {position}.")
    correlation = event.correlation_id
    if correlation:
        related = store.read_all(0, limit=CHAIN_LIMIT + 1, correlation_id=str(correlation))
    else:
        related = [event]
    truncated = len(related) > CHAIN_LIMIT
    related = related[:CHAIN_LIMIT]
    if all(e.position != event.position for e in related):
        related = sorted([*related, event], key=lambda e: e.position)
    account = current_account()
    shown = services.reveal(related, account, purpose=f"causation chain of event {position}")
    focus = next(e for e in shown if e.position == event.position)
    cause = _causing_event(event)
    if cause is not None:
        cause = services.reveal([cause], account, purpose=f"causation of event {position}")[0]
    return render_view(
        "timeline/chain_page.html",
        "timeline/_chain.html",
        event=focus,
        command=(focus.metadata or {}),
        cause=cause,
        roots=build_chain(shown, focus),
        count=len(shown),
        truncated=truncated,
        stream_endpoint=stream_endpoint(),
    )
