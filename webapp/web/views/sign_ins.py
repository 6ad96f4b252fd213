"""The sign-in log, for admins: each attempt to sign in to the dashboard, and how it ended.

Newest first, filtered by account name, outcome (signed in or refused) and time range,
keyset-paged by entry id (`before`, and a `trail` for "Newer": webapp/web/trail.py).
`export.csv` hands over every attempt the filters match. See webapp/web/sign_ins.py
for what is written and for how long.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, request

from webapp.web.access import requires_role, sign_in_log
from webapp.web.downloads import csv_download
from webapp.web.filters import parse_time_range
from webapp.web.pages import render_view
from webapp.web.sign_ins import OUTCOME_FILTERS, RETENTION_DAYS, SignIn, refused_filter
from webapp.web.trail import cursor_arg, parse_trail, trail_links

bp = Blueprint("sign_ins", __name__, url_prefix="/sign-ins")

PAGE_SIZE = 50
MAX_TEXT = 100
FILTERS = ("account", "outcome", "since", "until")
EXPORT_PAGE = 500
EXPORT_COLUMNS = ["id", "at", "account", "method", "outcome", "address", "browser"]


def parse_query() -> dict[str, Any]:
    """Filters and paging from the query string (400 for anything malformed)."""
    text = {name: request.args.get(name, "").strip() for name in FILTERS}
    if len(text["account"]) > MAX_TEXT:
        abort(400, description=f"The account filter is limited to {MAX_TEXT} characters.")
    if text["outcome"] and text["outcome"] not in OUTCOME_FILTERS:
        abort(400, description="The outcome filter is 'signed-in' or 'refused'.")
    since, until = parse_time_range(text["since"], text["until"])
    before_text = request.args.get("before", "").strip()
    return {
        **text,
        "since_at": since,
        "until_at": until,
        "before": cursor_arg(before_text, "paging position") if before_text else None,
        "trail": parse_trail(request.args.get("trail", "").strip()),
    }


def log_filters(query: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": query["account"] or None,
        "refused": refused_filter(query["outcome"]),
        "since": query["since_at"],
        "until": query["until_at"],
    }


@bp.get("/")
@requires_role("admin")
def index() -> str:
    """Sign-in attempts, newest first, filtered and keyset-paged."""
    query = parse_query()
    found = sign_in_log().entries(**log_filters(query), before=query["before"], limit=PAGE_SIZE + 1)
    entries = found[:PAGE_SIZE]
    older = entries[-1].id if len(found) > PAGE_SIZE else None
    kept = {k: query[k] for k in FILTERS if query[k]}
    day_ago = datetime.now(UTC) - timedelta(days=1)
    return render_view(
        "sign_ins/page.html",
        "sign_ins/_entries.html",
        query=query,
        entries=entries,
        last_day=sign_in_log().counts(day_ago),
        retention_days=RETENTION_DAYS,
        outcomes=OUTCOME_FILTERS,
        **trail_links(kept, query["before"], query["trail"], older),
    )


@bp.get("/export.csv")
@requires_role("admin")
def export_csv() -> Response:
    """Every attempt the filters match, newest first, as CSV."""
    log, filters = sign_in_log(), log_filters(parse_query())
    newest = log.entries(**filters, limit=1)

    def entries() -> Iterator[SignIn]:
        before: int | None = newest[0].id + 1 if newest else None  # later attempts stay out
        while before is not None:
            page = log.entries(**filters, before=before, limit=EXPORT_PAGE)
            yield from page
            before = page[-1].id if len(page) == EXPORT_PAGE else None

    return csv_download("eventscope-sign-ins", EXPORT_COLUMNS, entries())
