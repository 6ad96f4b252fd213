"""The sign-in log, for admins: each attempt to sign in to the dashboard, and how it ended.

Newest first, filtered by account name, outcome (signed in or refused) and time range,
keyset-paged by entry id (`before`; `trail` keeps the cursors of the pages already seen,
so that "Newer" steps back without an offset). `export.csv` hands over every attempt
the filters match. See webapp/web/sign_ins.py for what is written and for how long.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, request

from webapp.web.access import requires_role, sign_in_log
from webapp.web.downloads import csv_download
from webapp.web.filters import parse_time_range
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import render_view
from webapp.web.sign_ins import RETENTION_DAYS, SignIn

bp = Blueprint("sign_ins", __name__, url_prefix="/sign-ins")

PAGE_SIZE = 50
MAX_TEXT = 100
MAX_TRAIL = 30
OUTCOME_FILTERS = ("signed-in", "refused")
FILTERS = ("account", "outcome", "since", "until")
EXPORT_PAGE = 500
EXPORT_COLUMNS = ["id", "at", "account", "method", "outcome", "address", "browser"]


def _cursor(text: str, what: str) -> int:
    try:
        return whole_number(text, what)
    except BadNumber as exc:
        abort(400, description=str(exc))


def parse_query() -> dict[str, Any]:
    """Filters and paging from the query string (400 for anything malformed)."""
    text = {name: request.args.get(name, "").strip() for name in FILTERS}
    if len(text["account"]) > MAX_TEXT:
        abort(400, description=f"The account filter is limited to {MAX_TEXT} characters.")
    if text["outcome"] and text["outcome"] not in OUTCOME_FILTERS:
        abort(400, description="The outcome filter is 'signed-in' or 'refused'.")
    since, until = parse_time_range(text["since"], text["until"])
    before_text = request.args.get("before", "").strip()
    trail_text = request.args.get("trail", "").strip()
    trail = [_cursor(t, "paging trail") for t in trail_text.split(",") if t]
    return {
        **text,
        "since_at": since,
        "until_at": until,
        "before": _cursor(before_text, "paging position") if before_text else None,
        "trail": trail[-MAX_TRAIL:],
    }


def log_filters(query: dict[str, Any]) -> dict[str, Any]:
    outcome = query["outcome"]
    return {
        "account": query["account"] or None,
        "refused": None if not outcome else outcome == "refused",
        "since": query["since_at"],
        "until": query["until_at"],
    }


def _link(query: dict[str, Any], before: int | None, trail: list[int]) -> dict[str, Any]:
    args = {k: query[k] for k in FILTERS if query[k]}
    if before is not None:
        args["before"] = before
    if trail:
        args["trail"] = ",".join(str(t) for t in trail[-MAX_TRAIL:])
    return args


@bp.get("/")
@requires_role("admin")
def index() -> str:
    """Sign-in attempts, newest first, filtered and keyset-paged."""
    query = parse_query()
    found = sign_in_log().entries(**log_filters(query), before=query["before"], limit=PAGE_SIZE + 1)
    entries, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    trail = query["trail"]
    next_args = None
    if more:
        next_args = _link(query, entries[-1].id, [*trail, query["before"] or 0])  # 0: first page
    prev_args = None
    if query["before"] is not None:
        back = trail[-1] if trail else 0
        prev_args = _link(query, back or None, trail[:-1])
    day_ago = datetime.now(UTC) - timedelta(days=1)
    return render_view(
        "sign_ins/page.html",
        "sign_ins/_entries.html",
        query=query,
        entries=entries,
        last_day=sign_in_log().counts(day_ago),
        retention_days=RETENTION_DAYS,
        outcomes=OUTCOME_FILTERS,
        next_args=next_args,
        prev_args=prev_args,
        first_args=_link(query, None, []) if query["before"] is not None else None,
        export_args=_link(query, None, []),
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
