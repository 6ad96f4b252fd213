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
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, request, url_for

from webapp.privacy import crypto
from webapp.privacy.markers import DELETED_ACCOUNT_NAME
from webapp.privacy.service import subject_status
from webapp.store.types import RecordedEvent, Snapshot, StreamInfo
from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import get_runtime, require_part
from webapp.web.pages import has_endpoint, is_fragment_request, render_view

bp = Blueprint("subjects", __name__, url_prefix="/subjects")

MAX_QUERY = 200
SCAN_LIMIT = 500
"""At most this many events of one stream are scanned for a subject's fields."""
READ_PAGE = 200
MAX_REASON = 500
RECENT_FORGETS = 10
CONFIRM_PHRASE_HELP = "Type the subject id exactly to confirm."
SAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")

# --- where a subject's data lives -------------------------------------------------------------


@dataclass
class StreamPlace:
    info: StreamInfo
    versions: list[int] = field(default_factory=list)
    """Versions of events that carry the subject's personal fields."""
    earlier_versions: list[int] = field(default_factory=list)
    """Versions whose fields were sealed under a key forgotten before a re-registration."""
    fields: set[str] = field(default_factory=set)
    scanned_all: bool = True
    snapshots: list[Snapshot] = field(default_factory=list)
    personal: bool = True
    """False for a related stream (e.g. an account they own) that holds none of their fields."""


@dataclass
class Location:
    subject_id: str
    status: Any  # webapp.privacy.SubjectStatus
    streams: list[StreamPlace]
    related: list[StreamPlace]
    read_models: dict[str, int]
    """Projection name -> rows holding the subject."""
    user_row: dict[str, Any] | None = None

    @property
    def event_count(self) -> int:
        return sum(len(place.versions) for place in self.streams)

    @property
    def earlier_event_count(self) -> int:
        return sum(len(place.earlier_versions) for place in self.streams)

    @property
    def snapshot_count(self) -> int:
        return sum(len(place.snapshots) for place in self.streams)


def subject_fields(event: RecordedEvent, subject_id: str) -> set[str]:
    """The fields of `event` that are `subject_id`'s personal data (by the event's declaration)."""
    from webapp.domain import event_class, personal_data_of

    cls = event_class(event.type)
    if cls is None:
        return set()
    return {
        name
        for name, owner_field in personal_data_of(cls).items()
        if name in event.data and str(event.data.get(owner_field)) == subject_id
    }


def sealed_under_epoch(event: RecordedEvent, fields: set[str], epoch: int) -> bool:
    """Whether any of the event's `fields` was sealed under the subject's key of `epoch`
    (a field stored in plain text counts as readable)."""
    for name in fields:
        value = event.data.get(name)
        if not crypto.is_envelope(value) or crypto.envelope_epoch(value) == epoch:
            return True
    return False


def _scan_stream(info: StreamInfo, subject_id: str, epoch: int | None = None) -> StreamPlace:
    """Which events of one stream carry the subject's fields (at most SCAN_LIMIT events).

    With the `epoch` of a re-registered subject's key, events sealed under an earlier,
    forgotten key are listed apart: their fields are unreadable."""
    store = get_runtime().store
    place = StreamPlace(info=info)
    version = 1
    scanned = 0
    while scanned < SCAN_LIMIT:
        batch = store.read_stream(info.stream_id, version, limit=READ_PAGE)
        for event in batch:
            found = subject_fields(event, subject_id)
            if not found:
                continue
            if epoch is None or sealed_under_epoch(event, found, epoch):
                place.versions.append(event.stream_version)
                place.fields |= found
            else:
                place.earlier_versions.append(event.stream_version)
        scanned += len(batch)
        if len(batch) < READ_PAGE:
            break
        version = batch[-1].stream_version + 1
    place.scanned_all = scanned < SCAN_LIMIT or version > info.version
    place.snapshots = store.list_snapshots(info.stream_id)
    return place


def _candidate_streams(subject_id: str) -> list[str]:
    """Streams that may hold the subject's data: the privacy layer's record, plus the stream
    each aggregate type would give this id (the record is deleted on forget)."""
    runtime = get_runtime()
    found: list[str] = []
    privacy = runtime.privacy
    if privacy is not None:
        found += privacy.keys.streams_of(subject_id)
    if runtime.router is not None:
        for route in runtime.router.routes():
            found.append(f"{route.prefix}{subject_id}")
    return list(dict.fromkeys(found))


def _related_streams(subject_id: str) -> list[str]:
    """Streams about the subject without their personal fields (accounts they own)."""
    projections = get_runtime().projections
    if projections is None:
        return []
    try:
        return projections.related_streams(subject_id)[:50]
    except Exception:  # noqa: BLE001 - a read model not built yet must not break the page
        return []


def _read_model_rows(subject_id: str) -> tuple[dict[str, int], dict[str, Any] | None]:
    """How many rows each read model holds on the subject, and their user-directory row.

    Only counts and the forgotten flag leave this function, never values."""
    projections = get_runtime().projections
    if projections is None:
        return {}, None
    counts = {name: len(rows) for name, rows in projections.export_subject(subject_id).items()}
    read_models = get_runtime().read_models
    row = read_models.get("users", subject_id) if "users" in read_models else None
    user = None
    if row is not None:
        user = {"user_id": row["user_id"], "forgotten": bool(row["forgotten"])}
    return counts, user


def locate(subject_id: str) -> Location:
    """Where the subject's personal data lives: streams, events, snapshots, read models."""
    privacy = require_part("privacy", "Subjects (the privacy layer)")
    key = privacy.keys.subject(subject_id)
    status = subject_status(subject_id, key)
    store = get_runtime().store
    recorded = set(privacy.keys.streams_of(subject_id))
    reregistered = key is not None and not key.forgotten and key.epoch > 1
    streams: list[StreamPlace] = []
    for stream_id in _candidate_streams(subject_id):
        info = store.stream_info(stream_id)
        if info is None:
            continue
        place = _scan_stream(info, subject_id, key.epoch if reregistered else None)
        if place.versions or place.earlier_versions or stream_id in recorded:
            streams.append(place)
    known = {place.info.stream_id for place in streams}
    related = []
    for stream_id in _related_streams(subject_id):
        info = store.stream_info(stream_id)
        if info is not None and stream_id not in known:
            related.append(StreamPlace(info=info, personal=False))
    counts, user = _read_model_rows(subject_id)
    return Location(subject_id, status, streams, related, counts, user)


def _subject_or_404(subject_id: str) -> Location:
    if not subject_id.strip() or len(subject_id) > MAX_QUERY:
        abort(400, description=f"A subject id is 1 to {MAX_QUERY} characters.")
    location = locate(subject_id)
    if location.status.state == "unknown" and not location.streams:
        abort(404, description=f"No data subject {subject_id!r} is known.")
    return location


# --- finding ----------------------------------------------------------------------------------


@bp.get("/")
@requires_role("support")
def index() -> Any:
    """Find a subject by id or e-mail address (the e-mail through the blind index)."""
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY:
        abort(400, description=f"The search is limited to {MAX_QUERY} characters.")
    privacy = require_part("privacy", "Subjects (the privacy layer)")
    account = current_account()
    matches: list[Any] = []
    searched_by = None
    if query:
        if "@" in query:
            searched_by = "e-mail"
            matches = privacy.subjects_with_email(query, actor=account.name, role=account.role)
        else:
            searched_by = "subject id"
            matches = [privacy.status(query)] if _exists(query) else []
        if len(matches) == 1 and not is_fragment_request():
            return redirect(url_for("subjects.show", subject_id=matches[0].subject_id))
    recent = privacy.access_log(action="forget", limit=RECENT_FORGETS).entries
    return render_view(
        "subjects/page.html",
        "subjects/_results.html",
        query=query,
        matches=matches,
        searched_by=searched_by,
        recent_forgets=recent,
    )


def _exists(subject_id: str) -> bool:
    privacy = get_runtime().privacy
    if privacy.status(subject_id).state != "unknown":
        return True
    store = get_runtime().store
    return any(store.stream_info(s) is not None for s in _candidate_streams(subject_id))


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
        deleted_name=DELETED_ACCOUNT_NAME,
        stream_endpoint="streams.show" if has_endpoint("streams.show") else None,
    )


@bp.get("/<id:subject_id>/data")
@requires_role("support")
def data(subject_id: str) -> str:
    """The subject's personal data decrypted: their events and read-model rows (logged)."""
    location = _subject_or_404(subject_id)
    account = current_account()
    store = get_runtime().store
    events: list[RecordedEvent] = []
    for place in location.streams:
        for version in place.versions:
            found = store.read_stream(place.info.stream_id, version, limit=1)
            events += found
    shown = services.reveal(events, account, purpose=f"subject page of {subject_id}")
    rows: dict[str, list[dict[str, Any]]] = {}
    projections = get_runtime().projections
    if projections is not None and not location.status.forgotten:
        rows = {k: v for k, v in projections.export_subject(subject_id).items() if v}
        if rows:
            get_runtime().privacy.record_access(
                account.name, "view", subject_id, "subject page: read-model rows"
            )
    return render_view(
        "subjects/data_page.html",
        "subjects/_data.html",
        location=location,
        events=[(event, subject_fields(event, subject_id)) for event in shown],
        rows=rows,
        stream_endpoint="streams.show" if has_endpoint("streams.show") else None,
    )


@bp.get("/<id:subject_id>/export")
@requires_role("support")
def export(subject_id: str) -> Response:
    """The subject access export as a JSON download (logged by the privacy layer)."""
    _subject_or_404(subject_id)
    document = services.export_subject(subject_id, current_account())
    from webapp.web.app import json_default

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
