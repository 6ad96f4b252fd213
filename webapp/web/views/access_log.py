"""The PII access log, for support staff: who viewed, exported or forgot which subject, when.

Newest first, filtered by actor, subject and action, keyset-paged by entry id
(`before`); `trail` carries the cursors of the pages already seen so that
"Newer" can step back without an offset.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from webapp.web.access import requires_role
from webapp.web.context import require_part
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import render_view

bp = Blueprint("access_log", __name__, url_prefix="/access-log")

PAGE_SIZE = 50
MAX_TEXT = 200
MAX_TRAIL = 30
ACTIONS = ("view", "export", "forget", "reregister")


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
    before_text = request.args.get("before", "").strip()
    before = _cursor(before_text, "position") if before_text else None
    trail_text = request.args.get("trail", "").strip()
    trail = [_cursor(t, "paging trail") for t in trail_text.split(",") if t] if trail_text else []
    return {
        "actor": actor,
        "subject": subject,
        "action": action,
        "before": before,
        "trail": trail[-MAX_TRAIL:],
    }


def _link(query: dict[str, Any], before: int | None, trail: list[int]) -> dict[str, Any]:
    args = {k: query[k] for k in ("actor", "subject", "action") if query[k]}
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
    page = privacy.access_log(
        subject_id=query["subject"] or None,
        actor=query["actor"] or None,
        action=query["action"] or None,
        before=query["before"],
        limit=PAGE_SIZE,
    )
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
    )
