"""Streams: browse streams by id prefix and aggregate type, and walk one stream's timeline.

The browser is keyset-paged (by stream id, or by last activity); the timeline
shows one page of a stream's events at a time (by stream version) with snapshot
markers, and for a selected version the aggregate's state and what that event
changed. Personal data is decoded for the reader's role through the privacy
layer: masked for viewers, shown (and written to the access log) for support
and admin, a placeholder once forgotten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, request, url_for

from webapp.domain import Repository, diff_states, from_data, personal_field_names
from webapp.privacy.markers import is_forgotten, is_masked, is_placeholder, is_unreadable
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo
from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import get_runtime, require_part
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
SORTS = ("activity", "id")

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
    router = get_runtime().router
    if router is None:
        return {}
    prefixes: dict[str, str] = {}
    for route in router.routes():
        prefixes.setdefault(route.aggregate.aggregate_type, route.prefix)
    return prefixes


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


def _cursor_of(query: StreamQuery, info: StreamInfo) -> Any:
    if query.sort == "id":
        return info.stream_id
    return [info.updated_at.isoformat(), info.stream_id]


def find_streams(query: StreamQuery, limit: int = STREAMS_PAGE) -> tuple[list[StreamInfo], bool]:
    """One page of streams for `query` and whether more follow (one keyset read of limit+1)."""
    store = get_runtime().store
    if query.sort == "id":
        rows = store.list_streams(query.prefix, after=query.after, limit=limit + 1)
    else:
        before = None
        if query.after is not None:
            before = (datetime.fromisoformat(query.after[0]), query.after[1])
        rows = store.list_streams_by_activity(prefix=query.prefix, before=before, limit=limit + 1)
    return rows[:limit], len(rows) > limit


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Streams by id prefix and aggregate type, newest activity (or id) first, keyset-paged."""
    query = parse_stream_query()
    streams, more = find_streams(query)
    next_args = prev_args = None
    if more and streams:
        trail = (*query.trail, query.after) if query.after is not None else ()
        next_args = query.link(after=_cursor_of(query, streams[-1]), trail=trail)
    if query.after is not None:
        previous = query.trail[-1] if query.trail else None
        prev_args = query.link(after=previous, trail=query.trail[:-1])
    rows = [{"info": info, "type": services.stream_type(info.stream_id)} for info in streams]
    return render_view(
        "streams/page.html",
        "streams/_list.html",
        query=query,
        rows=rows,
        types=sorted(aggregate_prefixes()),
        next_args=next_args,
        prev_args=prev_args,
        first_args=query.link(after=None, trail=()) if query.after is not None else None,
    )


# --- one stream's timeline --------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    """An event as the timeline shows it: as read (upcast) and as stored, with privacy flags."""

    event: RecordedEvent
    original: RecordedEvent
    flags: list[tuple[str, str]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    """select (this version's state), correlation (global timeline), chain (causation)."""

    @property
    def upcast(self) -> bool:
        return self.original.schema_version != self.event.schema_version


@dataclass(frozen=True)
class SnapshotMarker:
    version: int
    snapshot_version: int
    current: bool
    taken_at: datetime | None
    size: int


@dataclass(frozen=True)
class VersionState:
    """The aggregate at one version: its state, what the event changed, how it was loaded."""

    version: int
    aggregate_type: str
    state: dict[str, Any]
    changes: list[Any]
    snapshot_at: int | None
    replayed: int
    duration_ms: float
    row: TimelineRow
    flags: dict[str, str]


def privacy_flags(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, "forgotten" | "masked" | "unreadable") for each top-level placeholder value."""
    flags = []
    for key, value in data.items():
        if is_forgotten(value):
            flags.append((key, "forgotten"))
        elif is_masked(value):
            flags.append((key, "masked"))
        elif is_unreadable(value):
            flags.append((key, "unreadable"))
    return flags


def _stream_or_404(stream_id: str) -> StreamInfo:
    info = get_runtime().store.stream_info(stream_id)
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


def _upcasters() -> Any:
    router = get_runtime().router
    return router.repository.upcasters if router is not None else None


def timeline_rows(
    events: list[RecordedEvent], stream_id: str, page_start: int
) -> list[TimelineRow]:
    """Events decoded for the current account (logged if it reveals), upcast, with their links.

    Links are built from one `url_for` per kind (a page has 50 rows; building each
    link through the router would cost more than reading the events).
    """
    revealed = services.reveal(events, current_account(), purpose=f"timeline of {stream_id}")
    upcasters = _upcasters()
    show_url = url_for("streams.show", stream_id=stream_id)
    timeline_url = url_for("timeline.index") if has_endpoint("timeline.index") else None
    chain_url = (
        url_for("timeline.chain", position=0).rsplit("/0/", 1)
        if has_endpoint("timeline.chain")
        else None
    )
    rows = []
    for event in revealed:
        original, current = (
            upcasters.upcast_with_original(event) if upcasters is not None else (event, event)
        )
        select = urlencode({"version": event.stream_version, "from": page_start})
        links = {"select": f"{show_url}?{select}"}
        correlation = event.metadata.get("correlation_id")
        if timeline_url and correlation:
            links["correlation"] = f"{timeline_url}?{urlencode({'correlation': correlation})}"
        if chain_url is not None:
            links["chain"] = f"{chain_url[0]}/{event.position}/{chain_url[1]}"
        rows.append(TimelineRow(current, original, privacy_flags(current.data), links))
    return rows


def snapshot_markers(stream_id: str, low: int, high: int) -> dict[int, SnapshotMarker]:
    """Snapshots taken at versions low..high, newest first walk (one read per snapshot)."""
    runtime = get_runtime()
    aggregate_cls = runtime.router.aggregate_for_stream(stream_id) if runtime.router else None
    markers: dict[int, SnapshotMarker] = {}
    ceiling = high
    while ceiling >= low:
        snapshot: Snapshot | None = runtime.store.read_snapshot(stream_id, max_version=ceiling)
        if snapshot is None or snapshot.version < low:
            break
        markers[snapshot.version] = SnapshotMarker(
            version=snapshot.version,
            snapshot_version=snapshot.snapshot_version,
            current=snapshot_is_current(aggregate_cls, snapshot),
            taken_at=snapshot.taken_at,
            size=len(json.dumps(snapshot.data, separators=(",", ":"), default=str)),
        )
        ceiling = snapshot.version - 1
    return markers


def snapshot_is_current(aggregate_cls: Any, snapshot: Snapshot) -> bool:
    """A snapshot is current when its shape version and type match the aggregate's now."""
    if aggregate_cls is None:
        return False
    return (
        snapshot.snapshot_version == aggregate_cls.snapshot_version
        and snapshot.type == aggregate_cls.aggregate_type
    )


def state_at_version(stream_id: str, version: int) -> VersionState | None:
    """The aggregate after event `version` and the diff from `version - 1`.

    Loads the state at `version - 1` (newest current snapshot + replay) through a
    role-aware codec, then applies event `version`; one access-log entry is
    written when personal data is shown in clear. None for a stream no aggregate owns.
    """
    runtime = get_runtime()
    router = require_part("router", "Aggregate state (the domain router)")
    aggregate_cls = router.aggregate_for_stream(stream_id)
    if aggregate_cls is None:
        return None  # a stream no aggregate owns has events but no state
    account = current_account()
    role = account.role if account else "viewer"
    actor = account.name if account else "anonymous"
    privacy = runtime.privacy
    codec = privacy.reader(role=role) if privacy is not None else router.repository.codec
    repository = Repository(runtime.store, codec=codec, upcasters=router.repository.upcasters)
    snapshot_at, replayed, duration = None, 0, 0.0
    if version > 1:
        aggregate, _, report = repository.load(aggregate_cls, stream_id, max_version=version - 1)
        snapshot_at, replayed, duration = (
            report.snapshot_version,
            report.events_replayed,
            report.duration_ms,
        )
    else:
        aggregate = aggregate_cls()
    before = aggregate.state()
    recorded = runtime.store.read_stream(stream_id, version, limit=1)
    if not recorded:
        abort(404, description=f"Stream {stream_id!r} has no version {version}.")
    stored = codec.decode(recorded[0])
    event = repository.upcasters.upcast(stored)
    aggregate.apply(from_data(event.type, event.data))
    after = aggregate.state()
    replayed += 1
    personal = personal_field_names()
    shown = [
        key
        for key, value in after.items()
        if key in personal and value is not None and not is_placeholder(value)
    ]
    if privacy is not None and shown and account is not None and account.has_role("support"):
        subjects = sorted(aggregate.subject_ids()) or [stream_id]
        privacy.record_access(actor, "view", subjects, f"state of {stream_id} at {version}")
    flags = {key: kind for key, kind in privacy_flags(after)}
    return VersionState(
        version=version,
        aggregate_type=aggregate_cls.aggregate_type,
        state=after,
        changes=diff_states(before, after),
        snapshot_at=snapshot_at,
        replayed=replayed,
        duration_ms=duration,
        row=TimelineRow(event, stored, privacy_flags(event.data)),
        flags=flags,
    )


def _page_start(version: int) -> int:
    return ((version - 1) // EVENTS_PAGE) * EVENTS_PAGE + 1


@bp.get("/<id:stream_id>")
@requires_role("viewer")
def show(stream_id: str) -> str:
    """One stream's events (a page of versions) with snapshot markers and a selected state."""
    info = _stream_or_404(stream_id)
    last = info.version
    selected = _int_arg("version", low=1, high=last, what="version")
    start = _int_arg("from", low=1, high=last, what="first version shown")
    if start is None:
        start = _page_start(selected) if selected is not None else 1
    events = get_runtime().store.read_stream(stream_id, start, limit=EVENTS_PAGE)
    rows = timeline_rows(events, stream_id, start)
    shown_last = rows[-1].event.stream_version if rows else start - 1
    # a snapshot taken just before this page's first event leads the page (snapshot at 100,
    # then events 101, 102 replayed on top of it)
    markers = snapshot_markers(stream_id, max(1, start - 1), shown_last) if rows else {}
    state = state_at_version(stream_id, selected) if selected is not None else None
    aggregate_cls = get_runtime().router.aggregate_for_stream(stream_id)
    context = {
        "info": info,
        "stream_type": services.stream_type(stream_id),
        "rows": rows,
        "markers": markers,
        "selected": selected,
        "state": state,
        "start": start,
        "shown_last": shown_last,
        "page_size": EVENTS_PAGE,
        "prev_from": max(1, start - EVENTS_PAGE) if start > 1 else None,
        "next_from": shown_last + 1 if shown_last < last else None,
        "last_from": _page_start(last),
        "live": shown_last >= last,
        "snapshot_every": getattr(aggregate_cls, "snapshot_every", None),
    }
    if request.headers.get("HX-Target") == "stream-state" and selected is not None:
        return render_view("streams/stream.html", "streams/_state.html", **context)
    if is_fragment_request():
        # a selection: the timeline page (re-highlighted) plus the state panel out of band
        return render_view("streams/stream.html", "streams/_select.html", **context)
    return render_view("streams/stream.html", "streams/_timeline.html", **context)


@bp.get("/<id:stream_id>/state")
@requires_role("viewer")
def state(stream_id: str) -> str:
    """The state panel alone: the aggregate at `?version=N` and what event N changed."""
    info = _stream_or_404(stream_id)
    version = _int_arg("version", low=1, high=info.version, what="version")
    if version is None:
        version = info.version
    found = state_at_version(stream_id, version)
    return render_view(
        "streams/state_page.html",
        "streams/_state.html",
        info=info,
        state=found,
        selected=version,
    )


@bp.get("/<id:stream_id>/live")
@requires_role("viewer")
def live(stream_id: str) -> str:
    """Rows for events after `?after=N` (polled by the timeline's last page)."""
    info = _stream_or_404(stream_id)
    after = _int_arg("after", low=0, high=max(info.version, 0), what="last version shown")
    after = info.version if after is None else after
    events = get_runtime().store.read_stream(stream_id, after + 1, limit=EVENTS_PAGE)
    page_start = _int_arg("from", low=1, high=max(info.version, 1), what="first version shown")
    page_start = after + 1 if page_start is None else min(page_start, after + 1)
    rows = timeline_rows(events, stream_id, page_start)
    shown_last = rows[-1].event.stream_version if rows else after
    markers = snapshot_markers(stream_id, after + 1, shown_last) if rows else {}
    return render_view(
        "streams/live_page.html",
        "streams/_live.html",
        info=info,
        rows=rows,
        markers=markers,
        selected=None,
        start=after + 1,
        page_start=page_start,
        shown_last=shown_last,
        live=True,
        back_from=min(page_start, max(info.version, 1)),  # the timeline page polled from
    )
