"""The global timeline for auditors: the whole log ($all) filtered, and causation chains.

The log is shown newest first, one keyset page at a time (`before=P` for older
events, `after=P` for newer ones, `page=last` for the oldest page). The newest page
is live: htmx polls `/timeline/live` every two seconds and new matching events
appear on top. Filters are time range (by when events happened, the default where the
store keeps it, or when they were recorded: `clock=happened|recorded`), event type,
stream id prefix, actor and correlation id.
A causation chain shows, for one event, the command that caused it and every
command and event of its correlation as a tree (parent = causation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, render_template, request
from werkzeug.exceptions import BadRequest

from webapp.domain import event_types, log_search, personal_field_names
from webapp.queries import log as log_queries
from webapp.queries.causation import causation_chain
from webapp.queries.ids import IdTooShort, correlation_filter
from webapp.web import services
from webapp.web.access import requires_role
from webapp.web.context import current_viewer, get_runtime, runs_domain
from webapp.web.downloads import csv_download
from webapp.web.filters import HAPPENED, RECORDED, parse_clock, parse_data_filter, parse_time_range
from webapp.web.numbers import MAX_INTEGER, BadNumber, whole_number
from webapp.web.pages import has_endpoint, is_fragment_request, render_view

bp = Blueprint("timeline", __name__, url_prefix="/timeline")

PAGE_SIZE = 50
LIVE_MAX_ROWS = 500
"""The newest page stops growing live past this many rows and offers a reload instead."""
CHAIN_LIMIT = 500
LIVE_WAIT_SECONDS = 1.5
"""How long a live poll over a notifying foreign store waits for its notification (the page
polls every 2 s)."""
MAX_TEXT = 200
MAX_TYPES = 20
TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,99}$")
FILTER_NAMES = ("since", "until", "type", "stream", "actor", "correlation", "data", "clock")

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
    correlation_args: dict[str, str] = field(default_factory=dict)
    """The store filter the correlation text makes: a prefix of the id (8+ characters) or
    the exact id (webapp.queries.ids)."""
    data: tuple[str, str] | None = None
    """(field, value): the payload's top-level `field` reads as `value`."""
    clock: str = RECORDED
    """Which clock `since` and `until` read: "happened" or "recorded"."""
    raw: dict[str, str] = field(default_factory=dict)

    def store_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "types": list(self.types) or None,
            "stream_prefix": self.stream or None,
            "actor": self.actor or None,
            **self.correlation_args,
            "since": self.since,
            "until": self.until,
            "data_equals": self.data,
        }
        if self.clock == HAPPENED and (self.since or self.until):
            args["occurred_since"] = args.pop("since")
            args["occurred_until"] = args.pop("until")
        return args

    def link(self, **paging: Any) -> dict[str, Any]:
        """Query-string arguments: these filters plus one paging argument."""
        args: dict[str, Any] = {k: v for k, v in self.raw.items() if v}
        args.update({k: v for k, v in paging.items() if v is not None})
        return args

    @property
    def active(self) -> bool:
        return any(self.raw.values())


def bad_filter(message: str) -> NoReturn:
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
        clock=parse_clock(raw["clock"]),
        types=types,
        stream=raw["stream"],
        actor=raw["actor"],
        correlation=raw["correlation"],
        correlation_args=_correlation_args(raw["correlation"]),
        data=parse_data_filter(raw["data"]),
        raw=raw,
    )


def _correlation_args(text: str) -> dict[str, str]:
    """The correlation filter: 8 characters or more match ids that start so (the short ids
    the pages show); 400 for a cut uuid shorter than that. A store that records no
    correlation ids gets the text as it is, and refuses it."""
    if not get_runtime().source.capabilities.has_correlation_ids:
        return {"correlation_id": text} if text else {}
    try:
        return correlation_filter(text)
    except IdTooShort as exc:
        bad_filter(str(exc))


def _position_arg(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return whole_number(text, f"paging position {name!r}")
    except BadNumber as exc:
        bad_filter(str(exc))


# --- the pages ------------------------------------------------------------------------------


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
    runtime = get_runtime()
    head = log_queries.head_position(runtime)
    search = log_queries.log_search(runtime, **filters.store_args())
    try:
        page = log_queries.read_page(
            search, before=before, after=after, last=last, page_size=PAGE_SIZE
        )
    except ValueError as refused:  # a filter this source cannot serve
        if is_fragment_request():
            return render_template("timeline/_bad_filter.html", message=str(refused))
        bad_filter(f"This store cannot be filtered that way: {refused}.")
    events = services.reveal(page.events, where="global timeline")
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
    return log_queries.upcast_types(get_runtime())


def _is_personal_field(name: str) -> bool:
    """Whether some event type declares `name` as personal data (sealed, so never matched)."""
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
    runtime = get_runtime()
    head = log_queries.head_position(runtime)
    search = log_queries.log_search(runtime, **filters.store_args())
    try:
        search.forward(head, 1)  # a filter the source cannot serve is refused before streaming
    except ValueError as refused:
        bad_filter(f"This store cannot be filtered that way: {refused}.")
    events = log_queries.events_up_to(search, head, EXPORT_PAGE)
    return csv_download("eventscope-timeline", EXPORT_COLUMNS, events)


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
    runtime = get_runtime()
    search = log_queries.log_search(runtime, **filters.store_args())
    try:
        tail = log_queries.live_tail(runtime, search, after, PAGE_SIZE)
        if not tail.events and not runs_domain() and runtime.source.capabilities.notifies_live:
            # another tool's store that announces appends (Commanded's `<schema>.events`
            # channel): hold the poll until it does, so new events show at once
            runtime.source.wait_for_events(tail.next_after, LIVE_WAIT_SECONDS)
            tail = log_queries.live_tail(runtime, search, tail.next_after, PAGE_SIZE)
    except ValueError as refused:
        bad_filter(f"This store cannot be filtered that way: {refused}.")
    found = tail.events
    more = shown + len(found) > LIVE_MAX_ROWS
    events = services.reveal(found, where="global timeline") if found else []
    return render_template(
        "timeline/_live.html",
        filters=filters,
        events=list(reversed(events)),
        after=tail.next_after,
        shown=shown + len(found),
        oldest=oldest if oldest is not None else (found[0].position if found else None),
        more=more,
        stream_endpoint=stream_endpoint(),
        current_schemas=_upcast_types(),
    )


def _known_event_types() -> list[str]:
    """The domain's event types; over another tool's store, the types of its newest events."""
    if runs_domain():
        return sorted(event_types())
    return log_queries.recent_types(get_runtime())


# --- causation chains -------------------------------------------------------------------------


@bp.get(f"/events/<int(max={MAX_INTEGER}):position>/chain")
@requires_role("viewer")
def chain(position: int) -> str:
    """The command that caused event `position` and everything in its correlation, as a tree."""
    found = causation_chain(get_runtime(), position, current_viewer(), limit=CHAIN_LIMIT)
    if found is None:
        abort(404, description=f"There is no event at position {position}.")
    return render_view(
        "timeline/chain_page.html",
        "timeline/_chain.html",
        event=found.event,
        command=found.command,
        cause=found.cause,
        roots=found.roots,
        count=found.count,
        truncated=found.truncated,
        stream_endpoint=stream_endpoint(),
    )
