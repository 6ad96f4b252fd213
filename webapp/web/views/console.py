"""The command console (admin): forms generated from the command catalogue, dry run, dispatch.

A dry run asks the domain which events a command would produce against the
current state and stores nothing; dispatch appends them and links to the stream.
Refusals show on the page: 400 bad input, 409 conflict, 422 a business rule said
no (htmx requests get the same message with a 200 so that htmx swaps it in).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from webapp.domain import (
    CommandValidationError,
    ConcurrencyError,
    DomainError,
    event_class,
    event_types,
    personal_data_of,
)
from webapp.queries.personal import record_view
from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import current_viewer, get_runtime
from webapp.web.errors import RequestRefused
from webapp.web.pages import render_view
from webapp.web.views.catalog import cached, domain_catalog, hand_sent_commands

bp = Blueprint("console", __name__, url_prefix="/console")

ACTIONS = ("dry_run", "dispatch")
MAX_FIELD_CHARS = 2000


@bp.get("/")
@requires_role("admin")
def index() -> tuple[str, int]:
    """Pick a command; its form is generated from the command's declared fields."""
    commands = command_catalogue()
    name = request.args.get("command") or (commands[0]["name"] if commands else "")
    selected = _find(commands, name)
    if name and selected is None:
        abort(404, description=f"no command {name!r} is routed")
    return _render(commands, selected, values={}, status=200)


@bp.post("/run")
@requires_role("admin")
def run() -> tuple[str, int]:
    """Dry-run or dispatch the submitted command; show the events or the refusal inline."""
    commands = command_catalogue()
    name = request.form.get("command", "")
    selected = _find(commands, name)
    if selected is None:
        abort(400, description=f"no command {name!r} is routed")
    action = request.form.get("action", "dry_run")
    if action not in ACTIONS:
        abort(400, description=f"action must be one of: {', '.join(ACTIONS)}")
    values = {f["name"]: request.form.get(f"field.{f['name']}", "") for f in selected["fields"]}
    try:
        data = form_data(selected, request.form)
        if action == "dry_run":
            outcome = {"action": action, "dry_run": dry_run(name, data)}
        else:
            outcome = {"action": action, "dispatch": dispatch(name, data)}
    except RequestRefused as exc:
        status = int(exc.code or 400)
        refusal = {"status": status, "message": exc.description, **(exc.details or {})}
        return _render(commands, selected, values=values, refusal=refusal, status=status)
    return _render(commands, selected, values=values, outcome=outcome, status=200)


def _render(
    commands: list[dict[str, Any]],
    selected: dict[str, Any] | None,
    *,
    values: dict[str, str],
    status: int,
    outcome: dict[str, Any] | None = None,
    refusal: dict[str, Any] | None = None,
) -> tuple[str, int]:
    body = render_view(
        "console/page.html",
        "console/_result.html",
        commands=commands,
        selected=selected,
        values=values,
        outcome=outcome,
        refusal=refusal,
    )
    if request.headers.get("HX-Request") == "true":
        status = 200  # htmx swaps only 2xx answers; the refusal is in the fragment
    return body, status


# --- the command catalogue as forms ------------------------------------------------------


def command_catalogue() -> list[dict[str, Any]]:
    """Every routed command with its fields; fields that end up as personal data are marked."""
    return cached("console_commands", _build_command_catalogue)


def _build_command_catalogue() -> list[dict[str, Any]]:
    catalog = domain_catalog()
    personal = {e["name"]: set(e["personal_data"]) for e in catalog["events"]}
    by_name = {c["name"]: c for c in catalog["commands"]}
    hand_sent = hand_sent_commands(catalog)  # process-manager steps are not sent by hand
    in_route_order = [
        by_name[n] for route in catalog["routes"] for n in route["commands"] if n in hand_sent
    ]
    out = []
    for command in in_route_order:
        personal_fields = set().union(*(personal.get(e, set()) for e in command["emits"]))
        fields = []
        for f in command["fields"]:
            fields.append(
                {**f, "input": input_kind(f["type"]), "personal": f["name"] in personal_fields}
            )
        out.append({**command, "fields": fields})
    return out


def input_kind(type_label: str) -> str:
    """The HTML input for a field's type label ("int", "str | None", "bool")."""
    parts = {p.strip() for p in type_label.split("|")} - {"None"}
    if parts == {"int"}:
        return "number"
    if parts == {"bool"}:
        return "checkbox"
    if parts == {"float"}:
        return "decimal"
    return "text"


def form_data(command: dict[str, Any], form: Any) -> dict[str, Any]:
    """The command's data from form fields named `field.<name>`; empty optional fields are left
    out (their default applies); numbers are sent as text and typed by the domain's parser."""
    data: dict[str, Any] = {}
    for f in command["fields"]:
        key = f"field.{f['name']}"
        if f["input"] == "checkbox":
            data[f["name"]] = form.get(key) in {"on", "true", "1"}
            continue
        raw = form.get(key)
        if raw is None or raw.strip() == "":
            if f["required"]:
                data[f["name"]] = "" if f["input"] == "text" else None
            continue
        if len(raw) > MAX_FIELD_CHARS:
            msg = f"field {f['name']!r} is longer than {MAX_FIELD_CHARS} characters"
            raise RequestRefused(400, msg, code="invalid_value")
        if f["input"] == "decimal":
            try:
                data[f["name"]] = float(raw)
            except ValueError:
                msg = f"field {f['name']!r} must be a number"
                raise RequestRefused(400, msg, code="wrong_type") from None
            continue
        data[f["name"]] = raw.strip() if f["input"] == "number" else raw
    return data


def _find(commands: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((c for c in commands if c["name"] == name), None)


# --- dry run and dispatch ----------------------------------------------------------------


def dry_run(name: str, data: dict[str, Any]) -> Any:
    """The domain's dry run: the events the command would produce; nothing is stored.

    The state shown comes decrypted from the domain (admins see personal data), so
    the subjects it reveals are written to the access log.
    """
    router = get_runtime().router
    try:
        result = router.dry_run(router.parse(name, data))
    except CommandValidationError as exc:
        field_name = exc.details.get("field")
        raise RequestRefused(400, exc.message, code=exc.code, field=field_name) from exc
    except ConcurrencyError as exc:
        raise RequestRefused(409, exc.message, code=exc.code) from exc
    except DomainError as exc:
        raise RequestRefused(422, exc.message, code=exc.code) from exc
    except ValueError as exc:
        raise RequestRefused(400, str(exc), code="invalid_input") from exc
    _log_revealed_subjects(result, f"console dry run of {name} on {result.stream_id}")
    return result


def dispatch(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Dispatch through the web layer's service (metrics, refusals); the events as stored,
    revealed for the admin (and logged)."""
    result = services.dispatch(name, data, account=current_account())
    events = services.reveal(result.events, where=f"console dispatch of {name}")
    return {"stream_id": result.stream_id, "version": result.version, "events": events}


def _log_revealed_subjects(result: Any, what: str) -> None:
    subjects = personal_subjects(result)
    if subjects:
        record_view(get_runtime(), current_viewer(), subjects, what)


def personal_subjects(result: Any) -> list[str]:
    """Subjects whose personal data a dry run shows: from the planned events' declared personal
    fields, and from states holding a personal field beside its subject id."""
    subjects: set[str] = set()
    for planned in result.events:
        cls = event_class(planned.type)
        for fld, subject_field in (personal_data_of(cls) if cls else {}).items():
            if planned.data.get(fld) is not None and planned.data.get(subject_field):
                subjects.add(str(planned.data[subject_field]))
    pairs = {
        (fld, subject_field)
        for cls in event_types().values()
        for fld, subject_field in personal_data_of(cls).items()
    }
    for state in (result.state_before, result.state):
        for fld, subject_field in pairs:
            if state.get(fld) is not None and state.get(subject_field):
                subjects.add(str(state[subject_field]))
    return sorted(subjects)
