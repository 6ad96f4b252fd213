"""The JSON API of DESIGN.md: commands, streams, the global log, subjects, projections.

Paging cursors: `/api/streams` returns the last stream id of the page as `next`
(a string, pass it back as `after`); `/api/streams/<id>/events` returns the next
stream version as `next` (an int, pass it back as `from_version`); `/api/events`
returns the last global position of the page as `next` (an int, pass it back as
`after`). `next` is null on the last page.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.wrappers import Response

from webapp.privacy.access_log import ACTIONS
from webapp.privacy.access_log import MAX_PAGE as MAX_ACCESS_LOG_PAGE
from webapp.queries import foreign
from webapp.queries import log as log_queries
from webapp.queries import streams as stream_queries
from webapp.queries.personal import record_payload_view
from webapp.queries.projections import projection_statuses
from webapp.queries.state import MissingVersion, state_at
from webapp.web import services
from webapp.web.access import current_account, public, requires_role
from webapp.web.context import current_viewer, get_runtime, needs_domain, runs_domain
from webapp.web.filters import parse_data_filter, parse_moment, parse_time_range
from webapp.web.idempotency import REPLAYED_HEADER, checked_key
from webapp.web.numbers import MAX_INTEGER, BadNumber, whole_number

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_LIMIT = 1000
MAX_REASON = 500
"""As the privacy layer keeps it."""
MAX_EMAIL = 320
DEFAULT_LIMIT = 100
MAX_TYPES = 20
COMPLETE_TO_HEADER = "Complete-To"
"""On `/api/events`: the position up to which the reply answers the query, filters and
all (`next` while more pages follow, else the head; webapp.queries.log.read_forward_complete)."""


# --- query parameters -------------------------------------------------------------------------


def int_arg(name: str, default: int | None, *, minimum: int, maximum: int | None = None) -> Any:
    """The integer query parameter `name`, or 400 if it is not an integer within bounds."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return whole_number(
            raw, f"query parameter {name!r}", low=minimum, high=maximum or MAX_INTEGER
        )
    except BadNumber as exc:
        abort(400, description=str(exc))


def str_arg(name: str, *, max_length: int = 200) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    return _checked_text(name, raw, max_length)


def str_args(name: str, *, max_count: int = MAX_TYPES, max_length: int = 200) -> list[str]:
    """Every value of a repeatable query parameter (`?type=A&type=B`), empty ones left out."""
    values = [_checked_text(name, raw, max_length) for raw in request.args.getlist(name) if raw]
    if len(values) > max_count:
        abort(400, description=f"query parameter {name!r} may be given at most {max_count} times")
    return values


def _checked_text(name: str, raw: str, max_length: int) -> str:
    if len(raw) > max_length or not raw.isprintable():
        abort(
            400,
            description=f"query parameter {name!r} must be printable, at most {max_length} chars",
        )
    return raw


def time_range_args() -> tuple[datetime | None, datetime | None]:
    """`since` and `until`: ISO 8601 dates or date-times (naive means UTC), or a 400 for
    an unreadable one or an empty range."""
    return parse_time_range(str_arg("since") or "", str_arg("until") or "")


def limit_arg() -> int:
    return int_arg("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)


def json_body(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (`{}` for no body at all when `optional`), or a 400.

    Refused: anything but an object, JSON nested too deeply to parse, and strings holding a
    NUL character (no field has a use for one and PostgreSQL's text columns refuse them) or
    a lone surrogate (`"\\ud800"` escapes no UTF-8 text can hold); the refusal says so in
    words and echoes nothing of the body.
    """
    if optional and not request.data:
        return {}
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        abort(400, description="the request body nests JSON too deeply")
    if not isinstance(body, dict):
        abort(400, description="the request body must be a JSON object")
    problem = _text_problem(body)
    if problem is not None:
        abort(400, description=f"the request body contains {problem}")
    return body


def _text_problem(value: Any) -> str | None:
    """What makes a string in `value` unfit to store, in words, or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "a NUL character"
            if not item.isascii() and _LONE_SURROGATE.search(item):
                return "a lone surrogate escape (text that is not valid Unicode)"
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


# --- routes -----------------------------------------------------------------------------------


@bp.get("/health")
@public
def health() -> Response:
    """Liveness: the app answers (no authentication)."""
    return jsonify(status="ok")


@bp.get("/ready")
@public
def ready() -> Response:
    """Readiness, for load balancers: 200 once the event store answers a read, else the
    store-unavailable 503 with Retry-After (`/api/health` only says the process is up)."""
    services.check_store_answers()
    return jsonify(status="ready")


@bp.get("/openapi.json")
@public
def openapi_document() -> Response:
    """This API as an OpenAPI 3.1 document, generated from its routes (no authentication)."""
    from webapp.web.openapi import api_document  # it reads this module's bounds

    return jsonify(api_document(current_app))


@bp.post("/commands")
@requires_role("admin")
@needs_domain
def dispatch_command() -> tuple[Response, int]:
    """Dispatch a command; on any refusal nothing is appended."""
    body = json_body()
    name = body.get("command")
    data = body.get("data", {})
    consistency = body.get("consistency", "eventual")
    if not isinstance(name, str) or not name:
        abort(400, description="'command' must be a command name")
    if not isinstance(data, dict):
        abort(400, description="'data' must be a JSON object")
    if consistency not in ("eventual", "strong"):
        abort(400, description="'consistency' must be 'eventual' or 'strong'")
    key = body.get("idempotency_key")
    if key is not None:
        key = checked_key(key)
    outcome = services.dispatch(
        name, data, account=current_account(), consistency=consistency, idempotency_key=key
    )
    events = services.reveal(outcome.events, where="api: command reply")
    reply = jsonify(
        stream_id=outcome.stream_id,
        version=outcome.version,
        events=[services.new_event_json(event) for event in events],
    )
    if outcome.duplicate:  # sent before with this key: the first reply again, nothing stored
        reply.headers[REPLAYED_HEADER] = "true"
    return reply, 201


@bp.get("/streams")
@requires_role("viewer")
def list_streams() -> Response:
    """Streams ordered by id, keyset-paged (`after` = the previous page's `next`)."""
    prefix = str_arg("prefix") or ""
    after = str_arg("after")
    limit = limit_arg()
    page, more = stream_queries.find_streams(
        get_runtime(), prefix, sort="id", after=after, limit=limit
    )
    return jsonify(
        streams=[services.stream_json(info) for info in page],
        next=page[-1].stream_id if more else None,
    )


@bp.get("/streams/<id:stream_id>/events")
@requires_role("viewer")
def stream_events(stream_id: str) -> Response:
    """One stream's events from `from_version`, personal data shown as the role allows."""
    from_version = int_arg("from_version", 1, minimum=1)
    limit = limit_arg()
    where = "api: stream events"
    request_key = ("stream", stream_id, from_version, limit)
    again = services.page_again(request_key, where=where)
    if again is not None:
        return again
    runtime = get_runtime()
    events, next_version, showing = stream_queries.read_events(
        runtime, stream_id, from_version, limit, current_viewer(), where=where
    )
    # a page with events proves the stream exists; only an empty one needs the second read
    if not events and stream_queries.stream_info(runtime, stream_id) is None:
        abort(404, description=f"no stream {stream_id!r}")
    reply = services.event_page(events, next_version)
    if next_version is not None:  # a full page: versions below the next one never change
        services.keep_page(request_key, reply, showing)
    return reply


@bp.get("/streams/<id:stream_id>/state")
@requires_role("viewer")
def stream_state(stream_id: str) -> Response:
    """The aggregate's state at `version` (default: the latest)."""
    version = int_arg("version", None, minimum=1)
    runtime = get_runtime()
    info = stream_queries.stream_info(runtime, stream_id)
    if info is None:
        abort(404, description=f"no stream {stream_id!r}")
    if version is not None and version > info.version:
        abort(
            400, description=f"stream {stream_id!r} has {info.version} events; no version {version}"
        )
    version = version or info.version
    if not runs_domain():
        # no aggregate code for another tool's store: each field as its events last set it
        fields = foreign.fields_as_last_set(runtime.source, stream_id, version)
        if fields is None:
            abort(404, description=f"no stream {stream_id!r}")
        where = f"api: fields of {stream_id} at {version}"
        record_payload_view(runtime, current_viewer(), [stream_id], where)
        return jsonify(fields.as_json())
    try:
        found = state_at(runtime, stream_id, version, current_viewer())
    except MissingVersion as missing:
        abort(404, description=str(missing))
    if found is None:
        abort(404, description=f"no aggregate type is known for stream {stream_id!r}")
    return jsonify(stream_id=stream_id, version=found.version, state=found.state)


@bp.get("/events")
@requires_role("viewer")
def global_events() -> Response:
    """The global log after position `after`. Filters: `type` (repeat it for several),
    `correlation_id`, `correlation_prefix` (its first 8 characters or more),
    `stream_prefix`, `actor`, `since`/`until` (ISO 8601, naive = UTC;
    `since` inclusive, `until` exclusive) and `data` (`field=value`, a top-level payload
    field compared as text; old events of upcast types match as stored or as read today),
    all matched together. `since`/`until` read when events were recorded; `clock=happened`
    reads them by when events happened (`occurred_at`, else recorded). A payload search may
    answer fewer than `limit` events with a `next` cursor: it stopped after upcasting its
    share of old events."""
    after = int_arg("after", 0, minimum=0)
    types = str_args("type")
    since, until = time_range_args()
    clock = str_arg("clock") or "recorded"
    if clock not in ("recorded", "happened"):
        abort(400, description="clock is 'recorded' (the default) or 'happened'")
    happened = clock == "happened"
    if happened and not get_runtime().source.capabilities.has_business_time:
        abort(400, description="this store keeps only when events were recorded")
    window = (
        {"occurred_since": since, "occurred_until": until}
        if happened
        else {"since": since, "until": until}
    )
    limit = limit_arg()
    where = "api: global log"
    request_key = ("log", after, limit)
    search = log_queries.log_search(
        get_runtime(),
        types=types or None,
        correlation_id=str_arg("correlation_id"),
        correlation_prefix=str_arg("correlation_prefix"),
        stream_prefix=str_arg("stream_prefix"),
        actor=str_arg("actor"),
        data_equals=parse_data_filter(str_arg("data") or ""),
        **window,
    )
    if not search.filtered:
        again = services.page_again(request_key, where=where)
        if again is not None:
            return again
    try:
        page, after_page, complete_to = log_queries.read_forward_complete(
            get_runtime(), search, after, limit
        )
    except ValueError as refused:  # a filter this source cannot serve
        abort(400, description=str(refused))
    events, showing = services.reveal_page(page, where=where)
    reply = services.event_page(events, after_page)
    reply.headers[COMPLETE_TO_HEADER] = str(complete_to)
    if not search.filtered and after_page is not None and len(page) == limit:
        # a full page of the whole log: events commit at higher positions only
        services.keep_page(request_key, reply, showing, COMPLETE_TO_HEADER)
    return reply


@bp.get("/subjects")
@requires_role("support")
@needs_domain
def find_subjects_in_url() -> Response:
    """Refused: an e-mail address in a URL lands in request logs, where forget cannot reach."""
    abort(
        400,
        description="Look subjects up with POST /api/subjects/lookup and the body "
        '{"email": ADDRESS}: personal data is never sent in a URL.',
    )


@bp.post("/subjects/lookup")
@requires_role("support")
@needs_domain
def find_subjects() -> Response:
    """The subjects who used the e-mail address in the body's `email` (an exact match through
    the blind index; logged). Forgotten subjects are not found: their lookup entries are gone."""
    email = json_body().get("email")
    if not isinstance(email, str) or "@" not in email.strip():
        abort(400, description="'email' must be an e-mail address.")
    if len(email.strip()) > MAX_EMAIL:
        abort(400, description=f"'email' is limited to {MAX_EMAIL} characters.")
    return jsonify(subjects=services.find_subjects_by_email(email.strip()))


@bp.get("/subjects/<id:subject_id>")
@requires_role("support")
@needs_domain
def subject_status(subject_id: str) -> Response:
    """The subject's state (active or forgotten) and the facts of their forget."""
    return jsonify(services.subject_status(subject_id))


@bp.get("/subjects/<id:subject_id>/export")
@requires_role("support")
@needs_domain
def export_subject(subject_id: str) -> Response:
    """Everything held on a data subject, decrypted (logged in the access log with the
    optional `purpose`, e.g. the request's ticket)."""
    purpose = str_arg("purpose") or ""
    return jsonify(services.export_subject(subject_id, current_account(), purpose))


def required_reason() -> str:
    """The body's `reason`: a non-empty string (kept in the audit trail)."""
    reason = json_body().get("reason")
    if not isinstance(reason, str) or not reason.strip():
        abort(400, description="'reason' must be a non-empty string")
    if len(reason) > MAX_REASON:
        abort(400, description=f"'reason' must be at most {MAX_REASON} characters")
    return reason.strip()


@bp.post("/subjects/<id:subject_id>/forget")
@requires_role("support")
@needs_domain
def forget_subject(subject_id: str) -> Response:
    """Crypto-shred a data subject; `reason` is required."""
    return jsonify(services.forget_subject(subject_id, required_reason(), current_account()))


@bp.post("/subjects/<id:subject_id>/reregister")
@requires_role("admin")
@needs_domain
def reregister_subject(subject_id: str) -> Response:
    """Let a forgotten subject hold personal data again under a new key; `reason` is required.
    Their data from before the forget stays unreadable."""
    return jsonify(services.reregister_subject(subject_id, required_reason(), current_account()))


@bp.get("/access-log")
@requires_role("support")
def access_log() -> Response:
    """Who revealed, viewed, exported, forgot or re-registered which subject, and for what
    purpose, newest first. Filters: `actor`, `subject_id`, `action`, `purpose` (contains),
    `since`/`until`; keyset-paged by entry id (`before` = the previous page's `next`). The log
    holds no personal data, so reading it is not logged."""
    action = str_arg("action")
    if action is not None and action not in ACTIONS:
        abort(400, description=f"'action' must be one of: {', '.join(ACTIONS)}")
    since, until = time_range_args()
    page = services.access_log_page(
        int_arg("before", None, minimum=1),
        int_arg("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_ACCESS_LOG_PAGE),
        actor=str_arg("actor"),
        subject_id=str_arg("subject_id"),
        action=action,
        purpose=str_arg("purpose"),
        since=since,
        until=until,
    )
    return jsonify(page)


@bp.get("/projections")
@requires_role("viewer")
@needs_domain
def projections() -> Response:
    """Each projection's name, state, position and lag."""
    return jsonify(projections=projection_statuses(get_runtime()))


@bp.post("/projections/<name>/rebuild")
@requires_role("admin")
@needs_domain
def rebuild_projection(name: str) -> tuple[Response, int]:
    """Start rebuilding one projection from position 0."""
    return jsonify(services.rebuild_projection(name)), 202


@bp.post("/projections/<name>/resume")
@requires_role("admin")
@needs_domain
def resume_projection(name: str) -> tuple[Response, int]:
    """Resume a stopped or paused projection or process manager: lift its pause, and retry
    the event it stopped at, or skip it with `{"skip_position": N}` (that event's position)."""
    body = json_body(optional=True)
    unknown = set(body) - {"skip_position"}
    if unknown:
        abort(400, description=f"unknown field(s): {', '.join(sorted(unknown))}")
    skip = body.get("skip_position")
    if skip is not None and (type(skip) is not int or not 1 <= skip <= MAX_INTEGER):
        abort(400, description="'skip_position' must be a positive integer (an event position)")
    return jsonify(services.resume_projection(name, current_account(), skip)), 202


@bp.get("/read/accounts/<id:account_number>")
@requires_role("viewer")
@needs_domain
def read_account(account_number: str) -> Response:
    """The account-summary read model row (balance, status, owner). With `position` or
    `as_of` (and `clock`), the row as it stood then, rebuilt from the log by the projection's
    own handlers, with `"position"`: 404 if the account did not exist at that moment."""
    return jsonify(services.account_summary(account_number, parse_moment()))
