"""The PII access log, for support staff: who revealed, viewed, exported or forgot which subject,
when, and for what purpose.

Newest first, filtered by staff member, subject, purpose, action and time range, keyset-paged by
entry id (`before`); `trail` carries the cursors of the pages already seen so that
"Newer" can step back without an offset. `export.csv` hands over every entry the
filters match, for an auditor's report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, request

from webapp.privacy import AccessEntry
from webapp.privacy.access_log import ACTIONS
from webapp.queries.audit import access_log_page
from webapp.web.access import requires_role
from webapp.web.context import get_runtime
from webapp.web.downloads import csv_download
from webapp.web.filters import parse_time_range
from webapp.web.pages import render_view
from webapp.web.trail import cursor_arg, parse_trail, trail_links

bp = Blueprint("access_log", __name__, url_prefix="/access-log")

PAGE_SIZE = 50
MAX_TEXT = 200
FILTERS = ("actor", "subject", "purpose", "action", "since", "until")
EXPORT_PAGE = 500
EXPORT_COLUMNS = ["id", "at", "actor", "action", "subject_id", "purpose", "what"]


def _text(name: str) -> str:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_TEXT:
        abort(400, description=f"The {name} filter is limited to {MAX_TEXT} characters.")
    return value


def parse_query() -> dict[str, Any]:
    """Filters and paging from the query string (400 for anything malformed)."""
    actor, subject, action = _text("actor"), _text("subject"), _text("action")
    purpose = _text("purpose")
    if action and action not in ACTIONS:
        abort(400, description=f"Unknown action {action!r}; use one of: {', '.join(ACTIONS)}.")
    since_text, until_text = _text("since"), _text("until")
    since, until = parse_time_range(since_text, until_text)
    before_text = request.args.get("before", "").strip()
    before = cursor_arg(before_text, "position") if before_text else None
    return {
        "actor": actor,
        "subject": subject,
        "action": action,
        "purpose": purpose,
        "since": since_text,
        "until": until_text,
        "since_at": since,
        "until_at": until,
        "before": before,
        "trail": parse_trail(request.args.get("trail", "").strip()),
    }


@bp.get("/")
@requires_role("support")
def index() -> str:
    """Access-log entries, newest first, filtered and keyset-paged."""
    query = parse_query()
    page = access_log_page(
        get_runtime(), **_store_filters(query), before=query["before"], limit=PAGE_SIZE
    )
    return render_view(
        "access_log/page.html",
        "access_log/_entries.html",
        query=query,
        entries=page.entries,
        actions=ACTIONS,
        **trail_links(_kept_filters(query), query["before"], query["trail"], page.next),
    )


def _kept_filters(query: dict[str, Any]) -> dict[str, str]:
    return {k: query[k] for k in FILTERS if query[k]}


def _store_filters(query: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject_id": query["subject"] or None,
        "actor": query["actor"] or None,
        "action": query["action"] or None,
        "purpose": query["purpose"] or None,
        "since": query["since_at"],
        "until": query["until_at"],
    }


@bp.get("/export.csv")
@requires_role("support")
def export_csv() -> Response:
    """Every entry the filters match, newest first, as CSV (it holds no personal data)."""
    query = parse_query()
    runtime = get_runtime()
    filters = _store_filters(query)
    newest = access_log_page(runtime, **filters, limit=1).entries

    def entries() -> Iterator[AccessEntry]:
        if not newest:
            return
        before: int | None = newest[0].id + 1  # entries logged during the download stay out
        while before is not None:
            page = access_log_page(runtime, **filters, before=before, limit=EXPORT_PAGE)
            yield from page.entries
            before = page.next

    return csv_download("eventscope-access-log", EXPORT_COLUMNS, entries())
