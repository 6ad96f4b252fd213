"""Review notes pages: sessions, the notes pinned to one thing, adding, deleting, export.

Other pages show the notes pinned to what they display by loading
`/notes/for?kind=...&target=...` with htmx. The notes themselves are kept by
webapp/web/notes/.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from webapp.queries import targets
from webapp.web.access import current_account, requires_role, safe_next
from webapp.web.context import get_runtime
from webapp.web.notes import (
    DEFAULT_SESSION,
    KINDS,
    MAX_BODY,
    MAX_TARGET,
    PAGE_SIZE,
    Note,
    NoteBook,
    NoteRefused,
    check_note,
    check_target,
    session_filename,
    session_markdown,
)
from webapp.web.numbers import MAX_INTEGER, BadNumber, whole_number
from webapp.web.pages import is_fragment_request, render_view

bp = Blueprint("notes", __name__, url_prefix="/notes")


def note_book() -> NoteBook:
    return NoteBook(get_runtime().database)


def target_exists(kind: str, target: str) -> bool:
    """True if the event type, stream or event a note would be pinned to is known."""
    return targets.target_exists(get_runtime(), kind, target)


def target_url(kind: str, target: str) -> str | None:
    """Where the thing a note is pinned to is shown, if that page exists."""
    views = current_app.view_functions
    if kind == "event_type" and "catalog.index" in views:
        return url_for("catalog.index", _anchor=f"type-{target}")
    if kind == "stream" and "streams.show" in views:
        return url_for("streams.show", stream_id=target)
    if kind == "event" and "timeline.chain" in views:
        return url_for("timeline.chain", position=int(target))
    return None


def _may_delete(note: Note) -> bool:
    account = current_account()
    return account is not None and note.author_id == account.id


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Review sessions, and the notes of one session (or the newest notes)."""
    book = note_book()
    session_name = request.args.get("session", "").strip()
    before = _int_arg("before")
    if session_name:
        after = _int_arg("after") or 0
        notes = book.in_session(session_name, after=after, limit=PAGE_SIZE + 1)
    else:
        notes = book.recent(before=before, limit=PAGE_SIZE + 1)
    next_cursor = notes[PAGE_SIZE - 1].id if len(notes) > PAGE_SIZE else None
    return render_view(
        "notes/page.html",
        "notes/_list.html",
        sessions=book.sessions(),
        session_name=session_name,
        notes=notes[:PAGE_SIZE],
        next_cursor=next_cursor,
        kinds=KINDS,
        target_url=target_url,
        may_delete=_may_delete,
        max_body=MAX_BODY,
        default_session=DEFAULT_SESSION,
    )


@bp.get("/for")
@requires_role("viewer")
def pinned() -> str:
    """The notes pinned to one target, with a form to add one (a fragment for htmx)."""
    kind = request.args.get("kind", "")
    try:
        if kind not in KINDS:
            msg = f"kind must be one of: {', '.join(KINDS)}"
            raise NoteRefused(msg)
        target = check_target(kind, request.args.get("target"))
    except NoteRefused as exc:
        abort(400, description=str(exc))
    return _pinned_response(kind, target)


def _pinned_response(kind: str, target: str, *, error: str | None = None, draft: str = "") -> str:
    context = _pinned_context(kind, target, error=error, draft=draft)
    if is_fragment_request() or request.args.get("fragment") == "1":
        return render_template("notes/_pinned_block.html", **context)
    return render_template("notes/pinned_page.html", **context)


def _pinned_context(kind: str, target: str, *, error: str | None, draft: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "kind_label": KINDS[kind],
        "target": target,
        "notes": note_book().pinned_to(kind, target),
        "error": error,
        "draft": draft,
        "session_name": request.values.get("session_name", "") or "",
        "may_delete": _may_delete,
        "max_body": MAX_BODY,
        "target_url": target_url(kind, target),
    }


@bp.post("/")
@requires_role("viewer")
def add() -> Any:
    """Pin a new note; htmx gets the target's refreshed notes, a form post is redirected back."""
    form = request.form
    account = current_account()
    htmx = request.headers.get("HX-Request") == "true"
    try:
        kind, target, body, session_name = check_note(
            form.get("kind"), form.get("target"), form.get("body"), form.get("session_name")
        )
        if not target_exists(kind, target):
            abort(404, description=f"no {KINDS[kind]} {target!r} to pin a note to")
    except NoteRefused as exc:
        if htmx and form.get("kind") in KINDS and str(form.get("target") or "").strip():
            # htmx swaps only 2xx answers: show the refusal inline, keep the draft
            return _pinned_response(
                str(form["kind"]),
                str(form["target"]).strip()[:MAX_TARGET],
                error=str(exc),
                draft=str(form.get("body") or "")[: MAX_BODY * 2],
            )
        abort(400, description=str(exc))
    note_book().add(
        kind=kind,
        target=target,
        body=body,
        session_name=session_name,
        author=account.name if account else "anonymous",
        author_id=account.id if account else None,
    )
    if htmx and not request.headers.get("HX-Boosted"):
        return _pinned_response(kind, target)
    back = safe_next(form.get("next")) or url_for("notes.index", session=session_name)
    return redirect(back)


@bp.post(f"/<int(max={MAX_INTEGER}):note_id>/delete")
@requires_role("viewer")
def delete(note_id: int) -> Any:
    """Delete one of your own notes."""
    book = note_book()
    note = book.get(note_id)
    if note is None:
        abort(404, description=f"no note {note_id}")
    if not _may_delete(note):
        abort(403, description="Only the author of a note may delete it.")
    book.delete(note_id)
    if request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted"):
        return _pinned_response(note.kind, note.target)
    back = safe_next(request.form.get("next")) or url_for("notes.index", session=note.session_name)
    return redirect(back)


@bp.get("/sessions/<path:session_name>.md")
@requires_role("viewer")
def export_markdown(session_name: str) -> Response:
    """A review session's notes as a Markdown file."""
    notes = note_book().in_session(session_name, limit=None)
    if not notes:
        abort(404, description=f"no review session {session_name!r}")
    filename = session_filename(session_name)
    return Response(
        session_markdown(session_name, notes),
        mimetype="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return whole_number(raw, f"{name!r} cursor")
    except BadNumber as exc:
        abort(400, description=str(exc))
