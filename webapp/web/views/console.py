"""The command console: forms generated from the command catalogue, dry run, dispatch.

A dry run asks the domain which events a command would produce against the
current state and stores nothing; every role may dry-run (personal data masked
for all but admins). Dispatch is the admin's, checked here on the server, and goes
in two steps: "Dispatch…" shows what would be stored and asks for confirmation;
"Store these events" appends them and links to the stream. Each rendered form
carries a one-time form id that the command carries as its idempotency key: the
same form submitted again (a second click, a reload that re-posts) stores
nothing and shows the first dispatch's result as already submitted.
Refusals show on the page: 400 bad input, 409 conflict, 422 a business rule said
no (htmx requests get the same message with a 200 so that htmx swaps it in).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, abort, request

from webapp.domain import (
    CommandValidationError,
    ConcurrencyError,
    DomainError,
    event_class,
    event_types,
    personal_data_of,
    personal_field_names,
)
from webapp.privacy import MASKED, Masked
from webapp.queries.personal import record_view
from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import current_viewer, get_runtime
from webapp.web.errors import RequestRefused
from webapp.web.idempotency import KEY_PATTERN, new_form_id
from webapp.web.pages import is_fragment_request, render_view
from webapp.web.readable import readable_refusal
from webapp.web.views.catalog import cached, domain_catalog, hand_sent_commands

bp = Blueprint("console", __name__, url_prefix="/console")

ACTIONS = ("dry_run", "review", "dispatch")
"""dry_run: nothing stored (every role); review: the dispatch's preview and its confirmation;
dispatch: store (both admin only)."""
MAX_FIELD_CHARS = 2000
DISPATCH_ROLE = "admin"


@bp.get("/")
@requires_role("viewer")
def index() -> tuple[str, int]:
    """Pick a command; its form is generated from the command's declared fields."""
    commands = command_catalogue()
    name = request.args.get("command") or (commands[0]["name"] if commands else "")
    selected = _find(commands, name)
    if name and selected is None:
        abort(404, description=f"no command {name!r} is routed")
    return _render(commands, selected, values={}, status=200)


@bp.post("/run")
@requires_role("viewer")
def run() -> tuple[str, int]:
    """Dry-run, review or dispatch the submitted command; show the outcome or the refusal."""
    commands = command_catalogue()
    name = request.form.get("command", "")
    selected = _find(commands, name)
    if selected is None:
        abort(400, description=f"no command {name!r} is routed")
    action = request.form.get("action", "dry_run")
    if action not in ACTIONS:
        abort(400, description=f"action must be one of: {', '.join(ACTIONS)}")
    if action != "dry_run" and not _may_dispatch():
        abort(403, description="Dispatching needs the admin role; a dry run is open to you.")
    form_id = request.form.get("form_id", "")
    if action != "dry_run" and not KEY_PATTERN.fullmatch(form_id):
        abort(400, description="This form has no valid form id: reload the console and retry.")
    values = {f["name"]: request.form.get(f"field.{f['name']}", "") for f in selected["fields"]}
    keep = {"form_id": form_id} if action == "review" else {}
    try:
        data = form_data(selected, request.form)
        if action == "dry_run":
            outcome = {"action": action, "dry_run": dry_run(name, data)}
        elif action == "review":
            outcome = {"action": action, "dry_run": dry_run(name, data), "form_id": form_id}
        else:
            outcome = {"action": action, "dispatch": dispatch(name, data, form_id)}
    except RequestRefused as exc:
        status = int(exc.code or 400)
        refusal = {"status": status, "message": exc.description, **(exc.details or {})}
        # a refusal worded from its details reads them as their fields do (money as money)
        owners = (selected.get("aggregate"), selected["name"])
        refusal["readable"] = readable_refusal(exc.__cause__, owners)
        return _render(commands, selected, values=values, refusal=refusal, status=status, **keep)
    return _render(commands, selected, values=values, outcome=outcome, status=200, **keep)


def _may_dispatch() -> bool:
    account = current_account()
    return account is not None and account.has_role(DISPATCH_ROLE)


def _shows_personal_data(result: Any) -> bool:
    """Whether a dry run shows its personal data in clear: only to an admin who revealed every
    subject it touches (the reveals were logged with their purpose); masked for the rest, as
    on every page."""
    account = current_account()
    if account is None or not account.has_role("admin"):
        return False
    viewer = current_viewer()
    return all(viewer.may_see(subject) for subject in personal_subjects(result))


def _render(
    commands: list[dict[str, Any]],
    selected: dict[str, Any] | None,
    *,
    values: dict[str, str],
    status: int,
    outcome: dict[str, Any] | None = None,
    refusal: dict[str, Any] | None = None,
    form_id: str | None = None,
) -> tuple[str, int]:
    """The page (or the htmx fragment). The form gets a fresh one-time id unless it is being
    reviewed: then its id stays until the dispatch it confirms is stored."""
    body = render_view(
        "console/page.html",
        "console/_result.html",
        commands=commands,
        selected=selected,
        values=values,
        outcome=outcome,
        refusal=refusal,
        form_id=form_id or new_form_id(),
        may_dispatch=_may_dispatch(),
        fragment_only=is_fragment_request(),
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

    The state comes decrypted from the domain: its personal fields are masked unless the
    admin revealed those subjects on purpose.
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
    if not _shows_personal_data(result):
        return masked(result)
    _log_revealed_subjects(result, f"console dry run of {name} on {result.stream_id}")
    return result


def masked(result: Any) -> MaskedDryRun:
    """A dry run with every declared personal field masked, in the events and in what would
    change (a personal field that changes is still listed, both values masked)."""
    personal = personal_field_names()

    def mask(data: dict[str, Any]) -> dict[str, Any]:
        return {k: MASKED if k in personal and v is not None else v for k, v in data.items()}

    changes = []
    for change in result.changes:
        field_name = str(change.get("path") or "").split(".", 1)[0].split("[", 1)[0]
        if field_name in personal:
            hide = {k: MASKED for k in ("before", "after") if change.get(k) is not None}
            change = {**change, **hide}
        changes.append(change)
    return MaskedDryRun(
        stream_id=result.stream_id,
        version_before=result.version_before,
        version=result.version,
        events=[dataclasses.replace(e, data=mask(e.data)) for e in result.events],
        changes=changes,
    )


@dataclasses.dataclass(frozen=True)
class MaskedDryRun:
    """What the console shows of a dry run to those who see no personal data."""

    stream_id: str
    version_before: int
    version: int
    events: list[Any]
    changes: list[dict[str, Any]]


def dispatch(name: str, data: dict[str, Any], form_id: str) -> dict[str, Any]:
    """Dispatch through the web layer's service (metrics, refusals), the form id as the
    command's idempotency key; the events as stored, revealed for the admin (and logged).
    `duplicate`: this form was dispatched before and these are that dispatch's events."""
    result = services.dispatch(name, data, account=current_account(), idempotency_key=form_id)
    events = services.reveal(result.events, where=f"console dispatch of {name}")
    viewer = current_viewer()
    events = [e if _revealed_in(e, viewer) else _masked_event(e) for e in events]
    return {
        "stream_id": result.stream_id,
        "version": result.version,
        "events": events,
        "duplicate": result.duplicate,
    }


def _event_subjects(event: Any) -> set[str]:
    """Subjects whose declared personal fields this event's data holds."""
    cls = event_class(event.type)
    return {
        str(event.data[subject_field])
        for fld, subject_field in (personal_data_of(cls) if cls else {}).items()
        if event.data.get(fld) is not None and event.data.get(subject_field)
    }


def _revealed_in(event: Any, viewer: Any) -> bool:
    return all(viewer.may_see(subject) for subject in _event_subjects(event))


def _masked_event(event: Any) -> Any:
    """The event with its declared personal fields masked (each mask names its subject)."""
    cls = event_class(event.type)
    personal = personal_data_of(cls) if cls else {}
    data = {
        k: Masked(str(event.data.get(personal[k]) or "")) if k in personal and v is not None else v
        for k, v in event.data.items()
    }
    return dataclasses.replace(event, data=data)


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
