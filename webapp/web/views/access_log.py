"""The PII access log, for support staff: who viewed, exported or forgot which subject, when.

Newest first, filtered by actor, subject, action and time range, keyset-paged by
entry id (`before`); `trail` carries the cursors of the pages already seen so that
"Newer" can step back without an offset. `export.csv` hands over every entry the
filters match, for an auditor's report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, request

from webapp.privacy.access_log import ACTIONS, AccessEntry
from webapp.web.access import requires_role
from webapp.web.context import require_part
from webapp.web.downloads import csv_download
from webapp.web.filters import parse_time_range
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import render_view

bp = Blueprint("access_log", __name__, url_prefix="/access-log")

PAGE_SIZE = 50
MAX_TEXT = 200
MAX_TRAIL = 30
FILTERS = ("actor", "subject", "action", "since", "until")
EXPORT_PAGE = 500
EXPORT_COLUMNS = ["id", "at", "actor", "action", "subject_id", "what"]


def _text(name: str) -> str:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_TEXT:
        abort(400, description=f"The {name} filter is limited to {MAX_TEXT} characters.")
    return value


def _cursor(text: str, what: str) -> int:
    try:
        return whole_number(text, what)
    except BadNumber as exc:
        abort(400, description=str(exc))


def parse_query() -> dict[str, Any]:
    """Filters and paging from the query string (400 for anything malformed)."""
    actor, subject, action = _text("actor"), _text("subject"), _text("action")
    if action and action not in ACTIONS:
        abort(400, description=f"Unknown action {action!r}; use one of: {', '.join(ACTIONS)}.")
    since_text, until_text = _text("since"), _text("until")
    since, until = parse_time_range(since_text, until_text)
    before_text = request.args.get("before", "").strip()
    before = _cursor(before_text, "position") if before_text else None
    trail_text = request.args.get("trail", "").strip()
    trail = [_cursor(t, "paging trail") for t in trail_text.split(",") if t] if trail_text else []
    return {
        "actor": actor,
        "subject": subject,
        "action": action,
        "since": since_text,
        "until": until_text,
        "since_at": since,
        "until_at": until,
        "before": before,
        "trail": trail[-MAX_TRAIL:],
    }


def _link(query: dict[str, Any], before: int | None, trail: list[int]) -> dict[str, Any]:
    args = {k: query[k] for k in FILTERS if query[k]}
    if before is not None:
        args["before"] = before
    if trail:
        args["trail"] = ",".join(str(t) for t in trail[-MAX_TRAIL:])
    return args


@bp.get("/")
@requires_role("support")
def index() -> str:
    """Access-log entries, newest first, filtered and keyset-paged."""
    query = parse_query()
    privacy = require_part("privacy", "The access log (the privacy layer)")
    page = privacy.access_log(**_store_filters(query), before=query["before"], limit=PAGE_SIZE)
    trail = query["trail"]
    next_args = None
    if page.next is not None:
        next_args = _link(query, page.next, [*trail, query["before"] or 0])  # 0: the first page
    prev_args = None
    if query["before"] is not None:
        back = trail[-1] if trail else 0
        prev_args = _link(query, back or None, trail[:-1])
    return render_view(
        "access_log/page.html",
        "access_log/_entries.html",
        query=query,
        entries=page.entries,
        actions=ACTIONS,
        next_args=next_args,
        prev_args=prev_args,
        first_args=_link(query, None, []) if query["before"] is not None else None,
        export_args=_link(query, None, []),
    )


def _store_filters(query: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject_id": query["subject"] or None,
        "actor": query["actor"] or None,
        "action": query["action"] or None,
        "since": query["since_at"],
        "until": query["until_at"],
    }


@bp.get("/export.csv")
@requires_role("support")
def export_csv() -> Response:
    """Every entry the filters match, newest first, as CSV (it holds no personal data)."""
    query = parse_query()
    privacy = require_part("privacy", "The access log (the privacy layer)")
    filters = _store_filters(query)
    newest = privacy.access_log(**filters, limit=1).entries

    def entries() -> Iterator[AccessEntry]:
        if not newest:
            return
        before: int | None = newest[0].id + 1  # entries logged during the download stay out
        while before is not None:
            page = privacy.access_log(**filters, before=before, limit=EXPORT_PAGE)
            yield from page.entries
            before = page.next

    return csv_download("eventscope-access-log", EXPORT_COLUMNS, entries())
