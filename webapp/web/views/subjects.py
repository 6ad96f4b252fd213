"""Subjects, for support staff: find a data subject, see where their data lives, export, forget.

Finding and locating show no personal data (the page lists streams, versions,
read models and snapshots, not values). Showing the values decrypted, exporting
and forgetting each go through the privacy layer, which writes the access log.
A forgotten subject's page says when, by whom and why, and links to the places
that now show them as forgotten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, request, url_for

from webapp.privacy import DELETED_ACCOUNT_NAME
from webapp.privacy.reveals import MIN_PURPOSE
from webapp.queries import subjects as subject_queries
from webapp.queries.subjects import Location
from webapp.web import services
from webapp.web.access import current_account, requires_role, safe_next
from webapp.web.context import current_reveals, current_viewer, get_runtime
from webapp.web.errors import RequestRefused
from webapp.web.pages import has_endpoint, is_fragment_request, render_view
from webapp.web.rendering import json_default

bp = Blueprint("subjects", __name__, url_prefix="/subjects")

MAX_QUERY = 200
MAX_REASON = 500
RECENT_FORGETS = 10
REVEAL_DURATIONS = (5, 15, 60)
DEFAULT_REVEAL_MINUTES = 15
CONFIRM_PHRASE_HELP = "Type the subject id exactly to confirm."
SAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _subject_or_404(subject_id: str) -> Location:
    if not subject_id.strip() or len(subject_id) > MAX_QUERY:
        abort(400, description=f"A subject id is 1 to {MAX_QUERY} characters.")
    location = subject_queries.locate_subject(get_runtime(), subject_id)
    if location.status.state == "unknown" and not location.streams:
        abort(404, description=f"No data subject {subject_id!r} is known.")
    return location


# --- finding ----------------------------------------------------------------------------------


@bp.get("/")
@requires_role("support")
def index() -> Any:
    """The search form and the recently forgotten. A search in the URL is refused: an e-mail
    address there would land in request logs, where forget cannot reach it."""
    if "q" in request.args:
        abort(
            400,
            description="Search with the search form: an e-mail address in a URL would "
            "stay in request logs.",
        )
    return _search_page("")


@bp.post("/")
@requires_role("support")
def find() -> Any:
    """Find a subject by id or e-mail address (the e-mail through the blind index); posted so
    the address is in the body, never in a URL, a log or the browser's history."""
    return _search_page(request.form.get("q", "").strip())


def _search_page(query: str) -> Any:
    if len(query) > MAX_QUERY:
        abort(400, description=f"The search is limited to {MAX_QUERY} characters.")
    runtime = get_runtime()
    matches: list[Any] = []
    searched_by = None
    if query:
        matches, searched_by = subject_queries.find_subjects(runtime, query, current_viewer())
        if len(matches) == 1 and not is_fragment_request():
            return redirect(url_for("subjects.show", subject_id=matches[0].subject_id), code=303)
    recent = subject_queries.recent_forgets(runtime, RECENT_FORGETS)
    return render_view(
        "subjects/page.html",
        "subjects/_results.html",
        query=query,
        matches=matches,
        searched_by=searched_by,
        recent_forgets=recent,
    )


# --- one subject ------------------------------------------------------------------------------


def _forgotten_places(location: Location) -> list[dict[str, Any]]:
    """Links to every view that now shows the subject as forgotten."""
    places = []
    for place in location.streams + location.related:
        stream_id = place.info.stream_id
        if has_endpoint("streams.show"):
            version = place.versions[0] if place.versions else place.info.version
            places.append(
                {
                    "label": f"Stream timeline of {stream_id}",
                    "href": url_for("streams.show", stream_id=stream_id, version=version),
                    "testid": "forgotten-stream",
                }
            )
        if place.personal and has_endpoint("streams.state"):
            places.append(
                {
                    "label": f"Current state of {stream_id}",
                    "href": url_for("streams.state", stream_id=stream_id),
                    "testid": "forgotten-state",
                }
            )
    if location.user_row is not None and has_endpoint("projections.users"):
        places.append(
            {
                "label": "User directory (projection)",
                "href": url_for("projections.users", user=location.subject_id),
                "testid": "forgotten-directory",
            }
        )
    return places


@bp.get("/<id:subject_id>")
@requires_role("support")
def show(subject_id: str) -> str:
    """Where a subject's data lives (no values shown), or how and when they were forgotten."""
    location = _subject_or_404(subject_id)
    return render_view(
        "subjects/subject.html",
        "subjects/_subject.html",
        location=location,
        forgotten_places=_forgotten_places(location) if location.status.forgotten else [],
        reveals=_my_reveals(subject_id),
        reveal_form=_reveal_form(location),
        deleted_name=DELETED_ACCOUNT_NAME,
        stream_endpoint="streams.show" if has_endpoint("streams.show") else None,
    )


@bp.get("/<id:subject_id>/data")
@requires_role("support")
def data(subject_id: str) -> str:
    """The subject's personal data: their events and read-model rows, in clear while you have
    revealed them (the reveal was logged with its purpose), masked otherwise."""
    location = _subject_or_404(subject_id)
    found = subject_queries.subject_data(get_runtime(), location, current_viewer())
    return render_view(
        "subjects/data_page.html",
        "subjects/_data.html",
        location=location,
        events=found.events,
        rows=found.rows,
        hidden_rows=found.hidden_rows,
        reveals=_my_reveals(subject_id),
        reveal_form=_reveal_form(location),
        stream_endpoint="streams.show" if has_endpoint("streams.show") else None,
    )


# --- revealing: personal data shown on purpose, for a while -------------------------------------


def _my_reveals(subject_id: str) -> list[Any]:
    return [r for r in current_reveals() if r.subject_id == subject_id]


def _reveal_form(location: Location, **values: Any) -> dict[str, Any]:
    """What the reveal form offers and what was typed into it."""
    field = values.get("field") or request.args.get("field", "")
    return {
        "fields": sorted(location.fields),
        "field": field if field in location.fields else "",
        "purpose": values.get("purpose", ""),
        "minutes": values.get("minutes", DEFAULT_REVEAL_MINUTES),
        "durations": REVEAL_DURATIONS,
        "next": safe_next(values.get("next") or request.args.get("next")) or "",
        "errors": values.get("errors", []),
    }


@bp.get("/<id:subject_id>/reveal")
@requires_role("support")
def confirm_reveal(subject_id: str) -> Any:
    """The reveal form: which data (all, or one field), for how long, and why (required)."""
    location = _subject_or_404(subject_id)
    return _reveal_page(location, _reveal_form(location))


def _reveal_page(location: Location, form: dict[str, Any]) -> str:
    return render_view(
        "subjects/reveal_page.html",
        "subjects/_reveal.html",
        location=location,
        form=form,
        reveals=_my_reveals(location.subject_id),
    )


@bp.post("/<id:subject_id>/reveal")
@requires_role("support")
def reveal(subject_id: str) -> Any:
    """Reveal the subject's data to you for a while; written to the access log with the purpose
    you state. Then back to the page you came from."""
    location = _subject_or_404(subject_id)
    purpose = request.form.get("purpose", "").strip()
    field = request.form.get("field", "").strip()
    next_url = safe_next(request.form.get("next"))
    errors = []
    if field and field not in location.fields:
        errors.append(f"{subject_id} has no personal field {field!r}.")
    try:
        minutes = int(request.form.get("minutes", DEFAULT_REVEAL_MINUTES))
    except ValueError:
        minutes = 0
    if minutes not in REVEAL_DURATIONS:
        errors.append(f"Choose how long: {', '.join(map(str, REVEAL_DURATIONS))} minutes.")
    if location.status.forgotten:
        errors.append(f"{subject_id} has been forgotten: there is nothing left to reveal.")
    if not errors:
        try:
            services.reveal_subject(
                subject_id, current_account(), purpose=purpose, field=field or None, minutes=minutes
            )
        except RequestRefused as exc:
            errors.append(_sentence(str(exc.description)))
    if errors:
        form = _reveal_form(
            location, purpose=purpose, field=field, minutes=minutes, next=next_url, errors=errors
        )
        status = 200 if request.headers.get("HX-Request") == "true" else 400
        return _reveal_page(location, form), status
    what = f"their {field}" if field else "their personal data"
    flash(f"Showing {what} ({subject_id}) to you for {minutes} minutes.", "ok")
    return redirect(next_url or url_for("subjects.data", subject_id=subject_id), code=303)


@bp.post("/<id:subject_id>/hide")
@requires_role("support")
def hide(subject_id: str) -> Any:
    """Mask the subject again for you now, before your reveal runs out."""
    if not subject_id.strip() or len(subject_id) > MAX_QUERY:
        abort(400, description=f"A subject id is 1 to {MAX_QUERY} characters.")
    account = current_account()
    ended = get_runtime().privacy.end_reveal(subject_id, actor=account.name) if account else 0
    flash(
        f"{subject_id} is masked again." if ended else f"{subject_id} was not revealed to you.",
        "ok",
    )
    target = safe_next(request.form.get("next"))
    return redirect(target or url_for("subjects.show", subject_id=subject_id), code=303)


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


# --- the subject access export -----------------------------------------------------------------


@bp.get("/<id:subject_id>/export")
@requires_role("support")
def confirm_export(subject_id: str) -> Any:
    """The export form: the request it answers (a ticket or a reason) is required."""
    return _export_page(_subject_or_404(subject_id), "", [])


def _export_page(location: Location, purpose: str, errors: list[str]) -> str:
    return render_view(
        "subjects/export_page.html",
        "subjects/_export.html",
        location=location,
        purpose=purpose,
        errors=errors,
    )


@bp.post("/<id:subject_id>/export")
@requires_role("support")
def export(subject_id: str) -> Any:
    """The subject access export as a JSON download, logged with the purpose stated."""
    location = _subject_or_404(subject_id)
    purpose = " ".join(request.form.get("purpose", "").split())
    errors = []
    if len(purpose) < MIN_PURPOSE:
        errors.append("State the request this export answers (a ticket number or a reason).")
    elif len(purpose) > MAX_REASON:
        errors.append(f"The purpose is limited to {MAX_REASON} characters.")
    if errors:
        return _export_page(location, purpose, errors), 400
    document = services.export_subject(subject_id, current_account(), purpose)
    body = json.dumps(document, indent=2, ensure_ascii=False, default=json_default)
    filename = f"subject-{SAFE_FILENAME.sub('_', subject_id)[:80]}-export.json"
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- forgetting and re-registering: confirmed by a reason and the subject id typed again ---------


def _confirmed_reason(subject_id: str, doing: str) -> tuple[str, list[str]]:
    """The form's reason, and what is wrong with it or with the typed subject id."""
    reason = request.form.get("reason", "").strip()
    errors = []
    if not reason:
        errors.append(f"Give a reason for {doing} this subject (it is kept in the audit trail).")
    elif len(reason) > MAX_REASON:
        errors.append(f"The reason is limited to {MAX_REASON} characters.")
    if request.form.get("confirm_id", "").strip() != subject_id:
        errors.append(f"Type the subject id {subject_id!r} exactly to confirm.")
    return reason, errors


def _confirmation_form(
    action: str, location: Location, *, errors: Sequence[str] = (), reason: str = ""
) -> Any:
    """The `action` ("forget" or "reregister") form; with errors, answered so that htmx swaps
    it in (htmx swaps only 2xx answers) and a plain POST gets a 400."""
    body = render_view(
        f"subjects/{action}_page.html",
        f"subjects/_{action}.html",
        location=location,
        errors=list(errors),
        reason=reason,
        max_reason=MAX_REASON,
    )
    refused = errors and request.headers.get("HX-Request") != "true"
    return body, 400 if refused else 200


@bp.get("/<id:subject_id>/forget")
@requires_role("support")
def confirm_forget(subject_id: str) -> Any:
    """The confirmation step: a reason, the subject id typed again, and a tick."""
    return _confirmation_form("forget", _subject_or_404(subject_id))


@bp.post("/<id:subject_id>/forget")
@requires_role("support")
def forget(subject_id: str) -> Any:
    """Crypto-shred the subject once the form confirms it (CSRF-checked like every POST)."""
    location = _subject_or_404(subject_id)
    reason, errors = _confirmed_reason(subject_id, "forgetting")
    if request.form.get("understood") != "yes":
        errors.append("Tick the box to confirm that this cannot be undone.")
    if errors:
        return _confirmation_form("forget", location, errors=errors, reason=reason)
    result = services.forget_subject(subject_id, reason, current_account())
    if result.get("newly_forgotten", True):
        flash(f"Subject {subject_id} has been forgotten.", "ok")
    else:
        flash(f"Subject {subject_id} had already been forgotten; nothing changed.", "ok")
    return redirect(url_for("subjects.show", subject_id=subject_id), code=303)


@bp.get("/<id:subject_id>/reregister")
@requires_role("admin")
def confirm_reregister(subject_id: str) -> Any:
    """The confirmation step: a reason and the subject id typed again."""
    return _confirmation_form("reregister", _subject_or_404(subject_id))


@bp.post("/<id:subject_id>/reregister")
@requires_role("admin")
def reregister(subject_id: str) -> Any:
    """Give a forgotten subject a new key, so new personal data for them is accepted again."""
    location = _subject_or_404(subject_id)
    reason, errors = _confirmed_reason(subject_id, "re-registering")
    if not location.status.forgotten:
        errors.insert(0, f"Subject {subject_id!r} is not forgotten: nothing to re-register.")
    if errors:
        return _confirmation_form("reregister", location, errors=errors, reason=reason)
    services.reregister_subject(subject_id, reason, current_account())
    flash(
        f"Subject {subject_id} has been re-registered: new personal data is accepted under a new "
        "key. Their data from before the forget stays forgotten.",
        "ok",
    )
    return redirect(url_for("subjects.show", subject_id=subject_id), code=303)
