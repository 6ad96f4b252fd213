"""Streams: browse streams by id prefix and aggregate type, and walk one stream's timeline.

The browser is keyset-paged (by stream id, or by last activity); the timeline
shows one page of a stream's events at a time (by stream version) with snapshot
markers, and for a selected version the aggregate's state and what that event
changed. Personal data is decoded for the reader's role by the queries: masked for
viewers, shown (and written to the access log) for support and admin, a
placeholder once forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, url_for

from webapp.domain.formats import short_text
from webapp.queries import StreamInfo, foreign
from webapp.queries import streams as stream_queries
from webapp.queries.as_of import streams_at, version_at
from webapp.queries.context import aggregate_class
from webapp.queries.personal import record_payload_view
from webapp.queries.series import FieldSeries, charted_series, fold_before_chart
from webapp.queries.state import (
    HAPPENED,
    RECORDED,
    MissingVersion,
    VersionState,
    compare_versions,
    state_at,
    version_as_of,
)
from webapp.queries.streams import SORTS, TimelineRow
from webapp.web.access import requires_role
from webapp.web.charts import VersionChart, rate_text, version_chart
from webapp.web.context import current_viewer, get_runtime, runs_domain
from webapp.web.filters import default_clock, parse_clock, parse_time
from webapp.web.moment import dashboard_moment, past_moment, past_position
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import (
    decode_cursor,
    encode_cursor,
    has_endpoint,
    is_fragment_request,
    render_view,
)

bp = Blueprint("streams", __name__, url_prefix="/streams")

STREAMS_PAGE = 25
EVENTS_PAGE = 50
MAX_QUERY = 200
MAX_TRAIL = 30

# --- the streams browser ----------------------------------------------------------------------


@dataclass(frozen=True)
class StreamQuery:
    """What the browser was asked for: id prefix, aggregate type, order and cursors."""

    q: str = ""
    type: str = ""
    sort: str = "activity"
    after: Any = None
    trail: tuple[Any, ...] = ()

    @property
    def prefix(self) -> str:
        type_prefix = aggregate_prefixes().get(self.type, "") if self.type else ""
        if self.q.startswith(type_prefix):
            return self.q
        return type_prefix + self.q

    def link(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for a link to another page of the same search."""
        after = changes.get("after", self.after)
        trail = changes.get("trail", self.trail)
        args: dict[str, Any] = {"sort": self.sort}
        if self.q:
            args["q"] = self.q
        if self.type:
            args["type"] = self.type
        if after is not None:
            args["after"] = encode_cursor(after)
        if trail:
            args["trail"] = encode_cursor(list(trail[-MAX_TRAIL:]))
        return args


def aggregate_prefixes() -> dict[str, str]:
    """Aggregate type -> stream id prefix, from the router's routes."""
    return stream_queries.aggregate_prefixes(get_runtime())


def _check_cursor(sort: str, cursor: Any) -> Any:
    """A decoded cursor in the shape `sort` needs (else 400)."""
    if cursor is None:
        return None
    if sort == "id" and isinstance(cursor, str):
        return cursor
    if sort == "activity" and isinstance(cursor, list) and len(cursor) == 2:
        stamp, stream_id = cursor
        if isinstance(stamp, str) and isinstance(stream_id, str):
            try:
                datetime.fromisoformat(stamp)
            except ValueError:
                pass
            else:
                return [stamp, stream_id]
    abort(400, description="The paging cursor does not fit this sort order; start again.")


def parse_stream_query() -> StreamQuery:
    """The browser's query string, checked (400 for bad input)."""
    args = request.args
    q = args.get("q", "").strip()
    if len(q) > MAX_QUERY:
        abort(400, description=f"The stream id search is limited to {MAX_QUERY} characters.")
    kind = args.get("type", "").strip()
    if kind and kind not in aggregate_prefixes():
        known = ", ".join(sorted(aggregate_prefixes())) or "none"
        abort(400, description=f"Unknown aggregate type {kind!r}; known types: {known}.")
    sort = args.get("sort", "activity") or "activity"
    if sort not in SORTS:
        abort(400, description=f"Unknown sort {sort!r}; use one of: {', '.join(SORTS)}.")
    after = None
    if args.get("after"):
        after = _check_cursor(sort, decode_cursor(args["after"]))
    trail: tuple[Any, ...] = ()
    if args.get("trail"):
        decoded = decode_cursor(args["trail"])
        if not isinstance(decoded, list):
            abort(400, description="The paging trail is not valid; start again.")
        trail = tuple(_check_cursor(sort, c) for c in decoded)
    return StreamQuery(q=q, type=kind, sort=sort, after=after, trail=trail)


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Streams by id prefix and aggregate type, newest activity (or id) first, keyset-paged."""
    runtime = get_runtime()
    position = past_position()
    query = parse_stream_query()
    if position is not None:  # as of a past moment: the streams that existed then, by id
        if query.sort != "id":  # last activity is now's order; then, streams go by id
            query = replace(query, sort="id", after=None, trail=())
        streams, more = streams_at(
            runtime, position, query.prefix, after=query.after, limit=STREAMS_PAGE
        )
    else:
        streams, more = stream_queries.find_streams(
            runtime, query.prefix, sort=query.sort, after=query.after, limit=STREAMS_PAGE
        )
    next_args = prev_args = None
    if more and streams:
        trail = (*query.trail, query.after) if query.after is not None else ()
        after = stream_queries.stream_cursor(streams[-1], query.sort)
        next_args = query.link(after=after, trail=trail)
    if query.after is not None:
        previous = query.trail[-1] if query.trail else None
        prev_args = query.link(after=previous, trail=query.trail[:-1])
    deleted = stream_queries.deleted_streams(runtime, [info.stream_id for info in streams])
    rows = [
        {
            "info": info,
            "type": stream_queries.stream_type(runtime, info.stream_id),
            "deleted_at": deleted.get(info.stream_id),
        }
        for info in streams
    ]
    return render_view(
        "streams/page.html",
        "streams/_list.html",
        query=query,
        rows=rows,
        types=sorted(aggregate_prefixes()),
        next_args=next_args,
        prev_args=prev_args,
        first_args=query.link(after=None, trail=()) if query.after is not None else None,
        as_of=position,
    )


# --- one stream's timeline --------------------------------------------------------------------


def _stream_or_404(stream_id: str) -> StreamInfo:
    info = stream_queries.stream_info(get_runtime(), stream_id)
    if info is None:
        abort(404, description=f"There is no stream {stream_id!r}.")
    return info


def _int_arg(name: str, *, low: int, high: int, what: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return whole_number(raw, what, low=low, high=high)
    except BadNumber as exc:
        abort(400, description=str(exc))


def with_links(rows: list[TimelineRow], stream_id: str, page_start: int) -> list[TimelineRow]:
    """Rows with their links: select (this version's state), correlation, chain.

    Links are built from one `url_for` per kind (a page has 50 rows; building each
    link through the router would cost more than reading the events).
    """
    show_url = url_for("streams.show", stream_id=stream_id)
    timeline_url = url_for("timeline.index") if has_endpoint("timeline.index") else None
    chain_url = (
        url_for("timeline.chain", position=0).rsplit("/0/", 1)
        if has_endpoint("timeline.chain")
        else None
    )
    moment = dashboard_moment()  # kept on links to other pages; a selected version is now's
    kept = urlencode(moment.args) if moment is not None else ""
    linked = []
    for row in rows:
        event = row.event
        select = urlencode({"version": event.stream_version, "from": page_start})
        links = {"select": f"{show_url}?{select}"}
        correlation = event.metadata.get("correlation_id")
        if timeline_url and correlation:
            query = urlencode({"correlation": correlation})
            links["correlation"] = f"{timeline_url}?{query}{'&' + kept if kept else ''}"
        if chain_url is not None:
            chain = f"{chain_url[0]}/{event.position}/{chain_url[1]}"
            links["chain"] = f"{chain}?{kept}" if kept else chain
        linked.append(replace(row, links=links))
    return linked


def state_at_version(stream_id: str, version: int) -> VersionState | None:
    """The aggregate after event `version` for the signed-in account (None for a stream no
    aggregate owns; 404 for a version the stream does not have)."""
    try:
        return state_at(get_runtime(), stream_id, version, current_viewer())
    except MissingVersion as missing:
        abort(404, description=str(missing))


def fields_at_version(stream_id: str, version: int) -> foreign.FieldsAsLastSet | None:
    """Over another tool's store: each payload field as the events up to `version` last set
    it (None over eventscope's own store, whose aggregates have real state)."""
    if runs_domain():
        return None
    try:
        found = foreign.fields_as_last_set(get_runtime().source, stream_id, version)
    except foreign.MissingVersion as missing:
        abort(404, description=str(missing))
    if found is not None:
        record_payload_view(
            get_runtime(), current_viewer(), [stream_id], f"fields of {stream_id} at {version}"
        )
    return found


CLOCK_VERBS = {HAPPENED: ("happened", "happened"), RECORDED: ("were recorded", "was recorded")}


def parse_as_of(stream_id: str) -> dict[str, Any] | None:
    """`?as_of=DATE[&clock=happened|recorded]`: the moment, the clock and the version it picks
    (None without `as_of`; 400 for a bad date or clock, 404 when nothing had happened yet).
    A date alone counts the whole day; a time is taken as UTC."""
    text = request.args.get("as_of", "").strip()
    if not text:
        return None
    moment = parse_time("as_of", text[:40])
    if moment is None:
        return None
    clock = parse_clock(request.args.get("clock", ""))
    whole_day = len(text) == 10
    if whole_day:
        moment += timedelta(days=1) - timedelta(microseconds=1)
    version = version_as_of(get_runtime(), stream_id, moment, clock)
    label = text if whole_day else moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    events_verb, event_verb = CLOCK_VERBS[clock]
    if version == 0:
        abort(404, description=f"No event of {stream_id!r} {event_verb} by {label}.")
    return {
        "label": label,
        "clock": clock,
        "version": version,
        "events_verb": events_verb,
        "event_verb": event_verb,
        "text": text,
    }


INLINE_CHART_FOLD = 2_000
"""The most events a stream page folds before its chart's first version while rendering;
a longer fold (a long stream without a recent snapshot) loads the chart after the page."""


def state_charts(stream_id: str) -> list[tuple[FieldSeries, VersionChart]]:
    """The numeric state fields the stream's aggregate charts (`__charted__`), each at every
    version (the latest `MAX_VERSIONS` of a longer stream), its axis as the field reads."""
    charts = []
    for series in charted_series(get_runtime(), stream_id):
        kind = series.format

        def full(value: float, kind: Any = kind) -> str:
            return (kind.text(value) if kind else None) or rate_text(value)

        def axis(value: float, kind: Any = kind) -> str:
            return (short_text(kind, value) if kind else None) or rate_text(value)

        title = series.field.replace("_", " ").capitalize()
        chart = version_chart(series.points, title=title, fmt=full, axis_fmt=axis)
        if chart is not None:
            charts.append((series, chart))
    return charts


def _page_start(version: int) -> int:
    return ((version - 1) // EVENTS_PAGE) * EVENTS_PAGE + 1


@bp.get("/<id:stream_id>")
@requires_role("viewer")
def show(stream_id: str) -> str:
    """One stream's events (a page of versions) with snapshot markers and a selected state."""
    runtime = get_runtime()
    info = _stream_or_404(stream_id)
    last = info.version
    as_of = parse_as_of(stream_id)
    selected = _int_arg("version", low=1, high=last, what="version")
    moment = past_moment()
    if as_of is not None:
        selected = as_of["version"]
    elif moment is not None:  # the dashboard's moment: the last version at or before it
        selected = version_at(runtime, stream_id, moment.position)
        if selected == 0:
            abort(404, description=f"{stream_id!r} had no event by position {moment.position}.")
    start = _int_arg("from", low=1, high=last, what="first version shown")
    # as of a past moment the page shows the stream as it stood then: its versions up to
    # the selected one, no later event and no chart of versions to come
    then = selected if moment is not None else None
    if then is not None:
        last = then
    if start is None or start > last:
        start = _page_start(selected) if selected is not None else 1
    # a snapshot taken just before this page's first event leads the page (snapshot at 100,
    # then events 101, 102 replayed on top of it)
    page = stream_queries.stream_timeline(
        runtime,
        stream_id,
        start,
        current_viewer(),
        limit=min(EVENTS_PAGE, last - start + 1),
        markers_from=max(1, start - 1),
    )
    shown_last = page.shown_last
    state = state_at_version(stream_id, selected) if selected is not None else None
    fields = fields_at_version(stream_id, selected) if selected is not None else None
    aggregate_cls = aggregate_class(runtime, stream_id)
    whole_page = not is_fragment_request() and then is None
    chart_later = whole_page and fold_before_chart(runtime, stream_id) > INLINE_CHART_FOLD
    context = {
        "info": info,
        "deleted_at": stream_queries.deleted_streams(runtime, [stream_id]).get(stream_id),
        "stream_type": stream_queries.stream_type(runtime, stream_id),
        "rows": with_links(page.rows, stream_id, start),
        "markers": page.markers,
        "selected": selected,
        "state": state,
        "fields": fields,
        "start": start,
        "shown_last": shown_last,
        "page_size": EVENTS_PAGE,
        "prev_from": max(1, start - EVENTS_PAGE) if start > 1 else None,
        "next_from": shown_last + 1 if shown_last < last else None,
        "last_from": _page_start(last),
        "live": shown_last >= last and moment is None,
        "snapshot_every": getattr(aggregate_cls, "snapshot_every", None),
        "as_of": as_of,
        "clock": as_of["clock"] if as_of else default_clock(),
        "charts": state_charts(stream_id) if whole_page and not chart_later else [],
        "chart_later": chart_later,
        "version_then": then,
    }
    if request.headers.get("HX-Target") == "stream-state" and selected is not None:
        return render_view("streams/stream.html", "streams/_state.html", **context)
    if is_fragment_request():
        # a selection: the timeline page (re-highlighted) plus the state panel out of band
        return render_view("streams/stream.html", "streams/_select.html", **context)
    return render_view("streams/stream.html", "streams/_timeline.html", **context)


@bp.get("/<id:stream_id>/chart")
@requires_role("viewer")
def chart(stream_id: str) -> str:
    """The stream's state charts alone (a long stream's page loads them after itself)."""
    _stream_or_404(stream_id)
    return render_template("streams/_chart.html", charts=state_charts(stream_id))


@bp.get("/<id:stream_id>/state")
@requires_role("viewer")
def state(stream_id: str) -> str:
    """The state panel alone: the aggregate at `?version=N` and what event N changed."""
    info = _stream_or_404(stream_id)
    version = _int_arg("version", low=1, high=info.version, what="version")
    if version is None:
        version = info.version
    return render_view(
        "streams/state_page.html",
        "streams/_state.html",
        info=info,
        state=state_at_version(stream_id, version),
        fields=fields_at_version(stream_id, version),
        selected=version,
    )


@bp.get("/<id:stream_id>/compare")
@requires_role("viewer")
def compare(stream_id: str) -> str:
    """The aggregate at versions `?a=` and `?b=` side by side: every field that differs."""
    info = _stream_or_404(stream_id)
    a = _int_arg("a", low=1, high=info.version, what="version a")
    b = _int_arg("b", low=1, high=info.version, what="version b")
    if a is None or b is None:
        abort(400, description="Name two versions to compare: ?a=N&b=M.")
    try:
        found = compare_versions(get_runtime(), stream_id, a, b, current_viewer())
    except MissingVersion as missing:
        abort(404, description=str(missing))
    if found is None:
        abort(404, description=f"No aggregate type owns {stream_id!r}: its events have no state.")
    return render_view(
        "streams/compare_page.html", "streams/_compare.html", info=info, comparison=found
    )


@bp.get("/<id:stream_id>/live")
@requires_role("viewer")
def live(stream_id: str) -> str:
    """Rows for events after `?after=N` (polled by the timeline's last page)."""
    info = _stream_or_404(stream_id)
    after = _int_arg("after", low=0, high=max(info.version, 0), what="last version shown")
    after = info.version if after is None else after
    page_start = _int_arg("from", low=1, high=max(info.version, 1), what="first version shown")
    page_start = after + 1 if page_start is None else min(page_start, after + 1)
    page = stream_queries.stream_timeline(
        get_runtime(), stream_id, after + 1, current_viewer(), limit=EVENTS_PAGE
    )
    return render_view(
        "streams/live_page.html",
        "streams/_live.html",
        info=info,
        rows=with_links(page.rows, stream_id, page_start),
        markers=page.markers,
        selected=None,
        start=after + 1,
        page_start=page_start,
        shown_last=page.shown_last,
        live=True,
        back_from=min(page_start, max(info.version, 1)),  # the timeline page polled from
    )
