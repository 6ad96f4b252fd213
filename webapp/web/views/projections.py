"""Projections and process managers, for engineers: status, lag, rate, errors and rebuilds.

The status table refreshes itself through htmx polling, so a rebuild's progress
shows without reloading. Rebuilding is for admins, behind a confirmation step.
The user directory read model is browsable here too (keyset-paged by user id),
so support staff can check that a forgotten user shows as "Deleted Account".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for

from webapp.projections import CopyBusy, ReplayRefused, UnknownProjection
from webapp.queries import projections as projection_queries
from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import current_viewer, get_runtime
from webapp.web.moment import past_position
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import decode_cursor, encode_cursor, render_view

bp = Blueprint("projections", __name__, url_prefix="/projections")

INSTANCES_SHOWN = 50
INSTANCES_PAGE = 50
INSTANCE_STATUSES = ("running", "finished")
TIMEOUTS_SHOWN = 50
ERRORS_SHOWN = 20
DEAD_LETTERS_SHOWN = 200
ACTIONS_SHOWN = 30
USERS_PAGE = 50
MAX_TEXT = 200


def _known(name: str) -> dict[str, Any]:
    for item in projection_queries.projection_statuses(get_runtime()):
        if item["name"] == name and item["kind"] == "projection":
            return item
    abort(404, description=f"There is no projection named {name!r}.")


def _overview() -> dict[str, Any]:
    return projection_queries.projections_overview(get_runtime(), errors_shown=ERRORS_SHOWN)


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Every projection's status; process-manager instances and their pending timeouts."""
    runtime = get_runtime()
    return render_view(
        "projections/page.html",
        "projections/_status.html",
        instances=projection_queries.process_instances(runtime, limit=INSTANCES_SHOWN),
        timeouts=projection_queries.pending_timeouts(runtime, limit=TIMEOUTS_SHOWN),
        **_overview(),
    )


@bp.get("/status")
@requires_role("viewer")
def status() -> str:
    """The status table alone (polled by the page every 2 seconds)."""
    return render_view("projections/status_page.html", "projections/_status.html", **_overview())


@bp.get("/<name>/rebuild")
@requires_role("admin")
def confirm_rebuild(name: str) -> str:
    """The confirmation step before a rebuild."""
    item = _known(name)
    return render_view(
        "projections/rebuild_page.html", "projections/_rebuild.html", item=item, error=None
    )


@bp.post("/<name>/rebuild")
@requires_role("admin")
def rebuild(name: str) -> Any:
    """Ask the worker to rebuild `name` from the start (the old tables serve until it is done)."""
    item = _known(name)
    if request.form.get("confirm") != name:
        error = f"Confirm by ticking the box for {name!r}."
        status = 200 if request.headers.get("HX-Request") == "true" else 400
        body = render_view(
            "projections/rebuild_page.html", "projections/_rebuild.html", item=item, error=error
        )
        return body, status
    services.rebuild_projection(name)
    flash(f"Rebuild of {name} requested; its progress shows below.", "ok")
    return redirect(url_for("projections.index"), code=303)


# --- a preview of a rebuild (admin) ----------------------------------------------------------

PREVIEW_ROWS = 50


def _preview_page(item: dict[str, Any], error: str | None = None) -> str:
    """The preview page of `item`: nothing held (a form to start one), filling (refreshed by
    htmx), or held and caught up (the diff, Switch and Discard)."""
    name = item["name"]
    state = services.preview_state(name)
    diff = None
    if state is not None and state["generation"] is not None and state["decision"] is None:
        table = request.args.get("table") or None
        after = services.preview_after(request.args.get("after"), table)
        if state["caught_up"]:
            diff = services.rebuild_preview(name, table=table, after=after, limit=PREVIEW_ROWS)
    return render_view(
        "projections/preview_page.html",
        "projections/_preview.html",
        item=item,
        state=state,
        diff=diff,
        error=error,
        paged=bool(request.args.get("after")),
    )


@bp.get("/<name>/preview")
@requires_role("admin")
def preview(name: str) -> str:
    """A rebuild's preview: the next generation held beside the live one, and the difference."""
    return _preview_page(_known(name))


@bp.post("/<name>/preview")
@requires_role("admin")
def request_preview(name: str) -> Any:
    """Ask the worker to build the next generation and hold it for preview."""
    _known(name)
    services.request_preview(name, current_account())
    flash(f"Preview of {name} requested; the worker builds it beside the live tables.", "ok")
    return redirect(url_for("projections.preview", name=name), code=303)


@bp.post("/<name>/preview/<action>")
@requires_role("admin")
def decide_preview(name: str, action: str) -> Any:
    """Switch the held preview in, or discard it (the worker carries it out)."""
    item = _known(name)
    if action not in ("switch", "discard"):
        abort(404, description="Unknown preview action; use switch or discard.")
    if request.form.get("confirm") != name:
        verb = "switch to" if action == "switch" else "discard"
        return _preview_page(item, f"Confirm by ticking the box to {verb} the preview."), 400
    done = services.decide_preview(name, action, current_account())
    if done.get("preview_outcome") == "discarded":
        flash(f"The preview of {name} was withdrawn before it started.", "ok")
    elif action == "switch":
        flash(f"{name}: the worker switches the preview in; the old tables are dropped.", "ok")
    else:
        flash(f"{name}: the worker discards the preview; the live tables stay.", "ok")
    return redirect(url_for("projections.preview", name=name), code=303)


def _unit_status(name: str) -> dict[str, Any]:
    try:
        return projection_queries.status_of(get_runtime(), name)
    except UnknownProjection:
        abort(404, description=f"There is no projection or process manager named {name!r}.")


def _resume_page(item: dict[str, Any], error: str | None = None) -> str:
    return render_view(
        "projections/resume_page.html",
        "projections/_resume.html",
        item=item,
        pending=projection_queries.pending_resume(get_runtime(), item["name"]),
        error=error,
    )


@bp.get("/<name>/resume")
@requires_role("admin")
def confirm_resume(name: str) -> str:
    """What stopped a unit, and the choice: retry the event or skip it."""
    return _resume_page(_unit_status(name))


@bp.post("/<name>/resume")
@requires_role("admin")
def resume(name: str) -> Any:
    """Ask the worker to retry or skip the event a stopped unit stopped at (the service
    answers 404 for an unknown unit and 409 for one not stopped there)."""
    action = request.form.get("action")
    skip, problem = None, None
    if action == "skip":
        text = request.form.get("position", "")
        if request.form.get("confirm") != name:
            problem = f"Confirm the skip by ticking the box for {name!r}."
        else:
            try:
                skip = whole_number(text, "event position to skip", low=1)
            except BadNumber as exc:
                problem = str(exc)
    elif action != "retry":
        problem = "Choose to retry the event or to skip it."
    if problem is not None:
        return _resume_page(_unit_status(name), problem), 400
    services.resume_projection(name, current_account(), skip)
    what = f"skip event {skip} and go on" if skip is not None else "retry the event it stopped at"
    flash(f"{name}: the worker will {what}.", "ok")
    return redirect(url_for("projections.index"), code=303)


# --- operator controls: pause, resume, reset, dead letters (admin) ---------------------------


def _back(name: str) -> str:
    """Where to go after a control: the dead-letters page when asked from it, else the index."""
    if request.form.get("back") == "dead-letters":
        return url_for("projections.dead_letters", name=name)
    return url_for("projections.index")


@bp.post("/<name>/pause")
@requires_role("admin")
def pause(name: str) -> Any:
    """Pause a projection or process manager (the worker applies nothing until resumed)."""
    _unit_status(name)
    services.pause_unit(name, current_account())
    flash(f"{name} is paused; it keeps its position until you resume it.", "ok")
    return redirect(_back(name), code=303)


@bp.post("/<name>/unpause")
@requires_role("admin")
def unpause(name: str) -> Any:
    """Lift the pause of a projection or process manager (`resume` when it is not stopped)."""
    item = _unit_status(name)
    if item.get("paused") is None:
        abort(409, description=f"{name} is not paused.")
    if item["state"] == "stopped":  # lifting the pause alone: retry or skip is asked apart
        flash(f"{name} is stopped as well: choose to retry or skip its event.", "error")
        return redirect(url_for("projections.confirm_resume", name=name), code=303)
    services.resume_projection(name, current_account(), None)
    flash(f"{name} resumed; the worker goes on from position {item['position']}.", "ok")
    return redirect(_back(name), code=303)


def _reset_page(item: dict[str, Any], error: str | None = None, position: str = "") -> str:
    return render_view(
        "projections/reset_page.html",
        "projections/_reset.html",
        item=item,
        error=error,
        position=position,
    )


@bp.get("/<name>/reset")
@requires_role("admin")
def confirm_reset(name: str) -> str:
    """The confirmation step before a reset, with the position to replay from."""
    return _reset_page(_known(name))


@bp.post("/<name>/reset")
@requires_role("admin")
def reset(name: str) -> Any:
    """Ask the worker to replay `name` from the events after a position into new tables."""
    item = _known(name)
    text = request.form.get("position", "").strip()
    try:
        position = whole_number(text, "position", low=0, high=item["head"])
    except BadNumber as exc:
        return _reset_page(item, f"{exc} (the head of the log is at {item['head']})", text), 400
    if request.form.get("confirm") != name:
        return _reset_page(item, f"Confirm by ticking the box for {name!r}.", text), 400
    services.reset_projection(name, current_account(), position)
    flash(f"Reset of {name} to position {position} requested; its progress shows below.", "ok")
    return redirect(url_for("projections.index"), code=303)


@bp.get("/<name>/dead-letters")
@requires_role("admin")
def dead_letters(name: str) -> str:
    """The events a unit parked, each with retry and skip, and the unit's operator log."""
    item = _unit_status(name)
    return render_view(
        "projections/dead_letters_page.html",
        "projections/_dead_letters.html",
        item=item,
        letters=services.dead_letters(name, after=0, limit=DEAD_LETTERS_SHOWN),
        actions=services.operator_log(name, ACTIONS_SHOWN),
    )


@bp.post("/<name>/dead-letters/<int:position>/retry")
@requires_role("admin")
def retry_dead_letter(name: str, position: int) -> Any:
    """Ask the worker to apply a parked event again."""
    services.retry_parked(name, position, current_account())
    flash(f"{name}: the worker will apply event {position} again.", "ok")
    return redirect(url_for("projections.dead_letters", name=name), code=303)


@bp.post("/<name>/dead-letters/<int:position>/skip")
@requires_role("admin")
def skip_dead_letter(name: str, position: int) -> Any:
    """Drop a parked event from the list, unapplied."""
    services.skip_parked(name, position, current_account())
    flash(f"{name}: event {position} skipped; it left the dead letters.", "ok")
    return redirect(url_for("projections.dead_letters", name=name), code=303)


# --- process-manager instances, filtered and paged -------------------------------------------


def _instance_filters() -> dict[str, Any]:
    process_names = projection_queries.process_names(get_runtime())
    process = request.args.get("process", "").strip() or None
    status = request.args.get("status", "").strip() or None
    instance = request.args.get("instance", "").strip() or None
    if process is not None and process not in process_names:
        known = ", ".join(process_names) or "none"
        abort(400, description=f"There is no process manager {process[:60]!r} (known: {known}).")
    if status is not None and status not in INSTANCE_STATUSES:
        abort(
            400,
            description=f"Unknown status {status[:30]!r}; use one of: "
            f"{', '.join(INSTANCE_STATUSES)}.",
        )
    if instance is not None and len(instance) > MAX_TEXT:
        abort(400, description="The instance id is not valid.")
    before = None
    if request.args.get("before"):
        cursor = decode_cursor(request.args["before"])
        valid = (
            isinstance(cursor, list)
            and len(cursor) == 3
            and isinstance(cursor[0], int | float)
            and all(isinstance(c, str) for c in cursor[1:])
        )
        if not valid:
            abort(
                400, description="The paging cursor is not valid; start again from the first page."
            )
        before = (float(cursor[0]), cursor[1], cursor[2])
    return {"process": process, "status": status, "instance_id": instance, "before": before}


@bp.get("/processes")
@requires_role("viewer")
def processes() -> str:
    """Every process-manager instance, most recently active first: by process, status or id."""
    runtime = get_runtime()
    filters = _instance_filters()
    found = projection_queries.process_instances(runtime, **filters, limit=INSTANCES_PAGE + 1)
    rows, more = found[:INSTANCES_PAGE], len(found) > INSTANCES_PAGE
    query = {
        "process": filters["process"],
        "status": filters["status"],
        "instance": filters["instance_id"],
    }
    query = {k: v for k, v in query.items() if v}
    return render_view(
        "projections/processes_page.html",
        "projections/_processes.html",
        instances=rows,
        query=query,
        paged=filters["before"] is not None,
        next_before=encode_cursor(rows[-1]["cursor"]) if more and rows else None,
        process_names=projection_queries.process_names(runtime),
        statuses=INSTANCE_STATUSES,
    )


# --- the user directory read model ---------------------------------------------------------


def _user_args() -> tuple[str | None, str | None]:
    after = request.args.get("after", "").strip() or None
    user = request.args.get("user", "").strip() or None
    for label, value in (("after", after), ("user", user)):
        if value is not None and len(value) > MAX_TEXT:
            abort(400, description=f"The {label} parameter is not a valid user id.")
    return after, user


@bp.get("/users")
@requires_role("viewer")
def users() -> str:
    """The user_directory read model: names masked for viewers, logged for support/admin."""
    runtime = get_runtime()
    if not projection_queries.has_read_model(runtime, "users"):
        abort(404, description="This domain declares no user directory.")
    after, user = _user_args()
    position = past_position()
    try:
        page = projection_queries.user_directory(
            runtime, current_viewer(), after=after, user=user, limit=USERS_PAGE, position=position
        )
    except ReplayRefused as refused:
        abort(409, description=f"The user directory cannot be rebuilt at {position}: {refused}")
    except CopyBusy as busy:
        abort(503, description=str(busy))
    if page is None:
        where = "" if position is None else f" at position {position}"
        abort(404, description=f"The user directory has no user {user!r}{where}.")
    return render_view(
        "projections/users_page.html",
        "projections/_users.html",
        rows=page.rows,
        user=user,
        after=after,
        next_after=page.next_after,
        position=position,
    )


# --- the accounts and transfers read models ----------------------------------------------------

READ_MODEL_PAGE = 50
READ_MODEL_PAGES = {
    # read model: (its key, what it is called, the page template's area)
    "accounts": ("account_number", "account summary", "accounts"),
    "transfers": ("transfer_id", "transfer list", "transfers"),
}


def _read_model_page(name: str) -> str:
    key, called, area = READ_MODEL_PAGES[name]
    runtime = get_runtime()
    if not projection_queries.has_read_model(runtime, name):
        abort(404, description=f"This domain declares no {called}.")
    after = request.args.get("after", "").strip() or None
    if after is not None and len(after) > MAX_TEXT:
        abort(400, description=f"The after parameter is not a valid {key.replace('_', ' ')}.")
    position = past_position()
    try:
        page = projection_queries.read_model_page(
            runtime, name, key, after=after, limit=READ_MODEL_PAGE, position=position
        )
    except ReplayRefused as refused:
        abort(409, description=f"The {called} cannot be rebuilt at {position}: {refused}")
    return render_view(
        f"projections/{area}_page.html",
        f"projections/_{area}.html",
        rows=page.rows,
        after=after,
        next_after=page.next_after,
        position=position,
    )


@bp.get("/accounts")
@requires_role("viewer")
def accounts() -> str:
    """The account_summary read model (balance, status, owner by id), paged by account number;
    as of a past moment, as it stood then."""
    return _read_model_page("accounts")


@bp.get("/transfers")
@requires_role("viewer")
def transfers() -> str:
    """The transfer_summary read model (amount, accounts, outcome), paged by transfer id; as of
    a past moment, as it stood then."""
    return _read_model_page("transfers")
