"""Paging a log newest first by entry id, both ways, without an offset.

"Older" passes the last id shown as `before`. "Newer" cannot be asked of the
database as cheaply, so each page's link carries `trail`: the `before` cursors of
the pages seen on the way (0 for the newest page), and "Newer" steps back to the
last of them. Used by the access log and the sign-in log.
"""

from __future__ import annotations

from typing import Any

from flask import abort

from webapp.web.numbers import BadNumber, whole_number

MAX_TRAIL = 30


def cursor_arg(text: str, what: str) -> int:
    """A paging cursor from the query string, or a 400 that names it."""
    try:
        return whole_number(text, what)
    except BadNumber as exc:
        abort(400, description=str(exc))


def parse_trail(text: str) -> list[int]:
    """The `trail` argument: comma-separated cursors, the last MAX_TRAIL of them."""
    return [cursor_arg(t, "paging trail") for t in text.split(",") if t][-MAX_TRAIL:]


def trail_links(
    filters: dict[str, str], before: int | None, trail: list[int], older: int | None
) -> dict[str, dict[str, Any] | None]:
    """Query arguments of the pager's links: `first_args` (the newest page), `prev_args`
    (newer), `next_args` (older, when `older` is the id to go on below) and `export_args`
    (every entry, for a download); `filters` are the non-empty filters to keep."""

    def link(cursor: int | None, cursors: list[int]) -> dict[str, Any]:
        args: dict[str, Any] = dict(filters)
        if cursor is not None:
            args["before"] = cursor
        if cursors:
            args["trail"] = ",".join(str(c) for c in cursors[-MAX_TRAIL:])
        return args

    newer = None
    if before is not None:
        back = trail[-1] if trail else 0
        newer = link(back or None, trail[:-1])
    return {
        "first_args": link(None, []) if before is not None else None,
        "prev_args": newer,
        "next_args": link(older, [*trail, before or 0]) if older is not None else None,
        "export_args": link(None, []),
    }
