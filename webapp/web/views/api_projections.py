"""The JSON API's operator controls over projections and process managers (admin only).

Added to the `api` blueprint (importing this module registers them): pause a unit, reset
a projection to a position, list a unit's parked events (dead letters) and its operator
log, retry or skip a parked event, preview a rebuild (ask, read the diff, switch or
discard). Resuming (a paused or a stopped unit) is
`POST /api/projections/<name>/resume` in webapp.web.views.api. Every change is carried out
by the worker running the unit and recorded with the calling admin's account name.
"""

from __future__ import annotations

from flask import abort, jsonify, request
from werkzeug.wrappers import Response

from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import needs_domain
from webapp.web.numbers import MAX_INTEGER, BadNumber, whole_number
from webapp.web.views.api import bp, int_arg, json_body, limit_arg

LOG_LIMIT = 50
PREVIEW_LIMIT = 50
PREVIEW_MAX = 500


def _position(text: str) -> int:
    """A parked event's position from the URL, or 400."""
    try:
        return whole_number(text, "event position", low=1)
    except BadNumber as exc:
        abort(400, description=str(exc))


@bp.post("/projections/<name>/pause")
@requires_role("admin")
@needs_domain
def pause_projection(name: str) -> tuple[Response, int]:
    """Pause a projection or process manager: its worker applies no more events to it and
    keeps its checkpoint until it is resumed (`POST .../resume`). Returns its status."""
    json_body(optional=True)
    return jsonify(services.pause_unit(name, current_account())), 202


@bp.post("/projections/<name>/reset")
@requires_role("admin")
@needs_domain
def reset_projection(name: str) -> tuple[Response, int]:
    """Replay a projection from the events after `{"position": N}` into a new generation,
    switched in once caught up (0 replays everything, like a rebuild). Returns its status."""
    body = json_body()
    unknown = set(body) - {"position"}
    if unknown:
        abort(400, description=f"unknown field(s): {', '.join(sorted(unknown))}")
    position = body.get("position")
    if type(position) is not int or not 0 <= position <= MAX_INTEGER:
        abort(400, description="'position' must be a whole number from 0 (an event position)")
    return jsonify(services.reset_projection(name, current_account(), position)), 202


@bp.get("/projections/<name>/dead-letters")
@requires_role("admin")
@needs_domain
def dead_letters(name: str) -> Response:
    """The events a projection parked, oldest first, keyset-paged by position (`after`)."""
    limit = limit_arg()
    letters = services.dead_letters(name, after=int_arg("after", 0, minimum=0), limit=limit + 1)
    more = len(letters) > limit
    letters = letters[:limit]
    return jsonify(dead_letters=letters, next=letters[-1]["position"] if more else None)


@bp.post("/projections/<name>/dead-letters/<position>/retry")
@requires_role("admin")
@needs_domain
def retry_dead_letter(name: str, position: str) -> tuple[Response, int]:
    """Ask the worker to apply a parked event again: on success it leaves the list, on
    failure it stays with the new error. Returns the letter with `retry_requested`."""
    at = _position(position)
    json_body(optional=True)
    return jsonify(dead_letter=services.retry_parked(name, at, current_account())), 202


@bp.post("/projections/<name>/dead-letters/<position>/skip")
@requires_role("admin")
@needs_domain
def skip_dead_letter(name: str, position: str) -> Response:
    """Drop a parked event from the list without applying it; returns the dropped letter."""
    at = _position(position)
    json_body(optional=True)
    return jsonify(dead_letter=services.skip_parked(name, at, current_account()))


@bp.get("/projections/<name>/operator-log")
@requires_role("admin")
@needs_domain
def operator_log(name: str) -> Response:
    """Who paused, resumed, reset, retried or skipped what on a unit, newest first."""
    limit = int_arg("limit", LOG_LIMIT, minimum=1, maximum=1000)
    return jsonify(actions=services.operator_log(name, limit))


# --- a preview of a rebuild (webapp.projections.preview) ------------------------------------


@bp.post("/projections/<name>/preview")
@requires_role("admin")
@needs_domain
def request_rebuild_preview(name: str) -> tuple[Response, int]:
    """Ask the worker to build the projection's next generation from the whole log and hold
    it beside the live one (not switched in) for comparison. Returns its status."""
    json_body(optional=True)
    return jsonify(services.request_preview(name, current_account())), 202


@bp.get("/projections/<name>/preview")
@requires_role("admin")
@needs_domain
def rebuild_preview(name: str) -> Response:
    """The held preview against the live generation, table by table: counts of rows added,
    removed, changed and unchanged, and the first `limit` differences with their field diffs
    (`table` and `after`, a `next_after`, page one table's differences)."""
    table = request.args.get("table") or None
    after = services.preview_after(request.args.get("after"), table)
    limit = int_arg("limit", PREVIEW_LIMIT, minimum=1, maximum=PREVIEW_MAX)
    return jsonify(services.rebuild_preview(name, table=table, after=after, limit=limit))


@bp.post("/projections/<name>/preview/switch")
@requires_role("admin")
@needs_domain
def switch_rebuild_preview(name: str) -> tuple[Response, int]:
    """Make the held preview live once it has caught up (the old tables are dropped); the
    worker carries it out. Returns its status with `preview_outcome`."""
    json_body(optional=True)
    return jsonify(services.decide_preview(name, "switch", current_account())), 202


@bp.post("/projections/<name>/preview/discard")
@requires_role("admin")
@needs_domain
def discard_rebuild_preview(name: str) -> tuple[Response, int]:
    """Drop the held preview's tables (a preview not started yet is withdrawn at once, with
    `preview_outcome` "discarded"); the live tables stay. Returns its status."""
    json_body(optional=True)
    return jsonify(services.decide_preview(name, "discard", current_account())), 202
