"""Review notes: what domain experts say about an event type, a stream or one event.

Notes are kept in their own table (`web_review_notes`), apart from the event
store: they are remarks about the history, not part of it. A review session
groups notes by name and exports as Markdown. Other pages show the notes pinned
to what they display by loading `/notes/for?kind=...&target=...` with htmx.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, redirect, request, url_for

from webapp.database import reading
from webapp.web.access import current_account, requires_role, safe_next
from webapp.web.context import get_runtime
from webapp.web.numbers import MAX_INTEGER, BadNumber, whole_number
from webapp.web.pages import is_fragment_request, render_view

bp = Blueprint("notes", __name__, url_prefix="/notes")

KINDS: dict[str, str] = {"event_type": "event type", "stream": "stream", "event": "event"}
MAX_BODY = 2000
MAX_TARGET = 300
MAX_SESSION = 100
DEFAULT_SESSION = "general"
PAGE_SIZE = 50
SESSION_PATTERN = re.compile(r"^[\w .:@()/-]+$")

_metadata = sa.MetaData()
notes_table = sa.Table(
    "web_review_notes",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_name", sa.String(MAX_SESSION), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("target", sa.String(MAX_TARGET), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("author_id", sa.Integer, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
"""Created by the Alembic revision web_0002_review_notes (never by create_all)."""


class NoteRefused(ValueError):
    """Bad note input; nothing was stored."""


@dataclass(frozen=True, slots=True)
class Note:
    id: int
    session_name: str
    kind: str
    target: str
    body: str
    author: str
    author_id: int | None
    created_at: datetime

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


def _row_to_note(row: Any) -> Note:
    return Note(
        id=row.id,
        session_name=row.session_name,
        kind=row.kind,
        target=row.target,
        body=row.body,
        author=row.author,
        author_id=row.author_id,
        created_at=datetime.fromtimestamp(row.created_at, UTC),
    )


class NoteBook:
    """Review notes in the store's database (SQLAlchemy Core, indexed reads only)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(
        self,
        *,
        kind: str,
        target: str,
        body: str,
        session_name: str,
        author: str,
        author_id: int | None,
    ) -> Note:
        kind, target, body, session_name = check_note(kind, target, body, session_name)
        values = {
            "session_name": session_name,
            "kind": kind,
            "target": target,
            "body": body,
            "author": author,
            "author_id": author_id,
            "created_at": time.time(),
        }
        with self.engine.begin() as conn:
            note_id = conn.execute(notes_table.insert().values(**values)).inserted_primary_key[0]
        return Note(
            id=int(note_id),
            **{**values, "created_at": datetime.fromtimestamp(values["created_at"], UTC)},
        )  # type: ignore[arg-type]

    def get(self, note_id: int) -> Note | None:
        with reading(self.engine) as conn:
            row = conn.execute(sa.select(notes_table).where(notes_table.c.id == note_id)).first()
        return _row_to_note(row) if row is not None else None

    def delete(self, note_id: int) -> bool:
        with self.engine.begin() as conn:
            return (
                conn.execute(notes_table.delete().where(notes_table.c.id == note_id)).rowcount > 0
            )

    def pinned_to(self, kind: str, target: str, *, limit: int = PAGE_SIZE) -> list[Note]:
        query = (
            sa.select(notes_table)
            .where(notes_table.c.kind == kind, notes_table.c.target == target)
            .order_by(notes_table.c.id)
            .limit(limit)
        )
        with reading(self.engine) as conn:
            return [_row_to_note(r) for r in conn.execute(query)]

    def in_session(
        self, session_name: str, *, after: int = 0, limit: int | None = PAGE_SIZE
    ) -> list[Note]:
        query = (
            sa.select(notes_table)
            .where(notes_table.c.session_name == session_name, notes_table.c.id > after)
            .order_by(notes_table.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with reading(self.engine) as conn:
            return [_row_to_note(r) for r in conn.execute(query)]

    def recent(self, *, before: int | None = None, limit: int = PAGE_SIZE) -> list[Note]:
        query = sa.select(notes_table).order_by(notes_table.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(notes_table.c.id < before)
        with reading(self.engine) as conn:
            return [_row_to_note(r) for r in conn.execute(query)]

    def sessions(self, *, limit: int = 100) -> list[dict[str, Any]]:
        query = (
            sa.select(
                notes_table.c.session_name,
                sa.func.count().label("notes"),
                sa.func.max(notes_table.c.created_at).label("last_at"),
            )
            .group_by(notes_table.c.session_name)
            .order_by(sa.func.max(notes_table.c.id).desc())
            .limit(limit)
        )
        with reading(self.engine) as conn:
            return [
                {
                    "name": r.session_name,
                    "notes": int(r.notes),
                    "last_at": datetime.fromtimestamp(r.last_at, UTC),
                }
                for r in conn.execute(query)
            ]


def check_note(kind: Any, target: Any, body: Any, session_name: Any) -> tuple[str, str, str, str]:
    """The cleaned (kind, target, body, session) or NoteRefused with a reason a person can read."""
    kind = str(kind or "").strip()
    if kind not in KINDS:
        msg = f"a note is pinned to one of: {', '.join(KINDS)}"
        raise NoteRefused(msg)
    target = check_target(kind, target)
    body = str(body or "").replace("\r\n", "\n").strip()
    if not body:
        msg = "the note is empty"
        raise NoteRefused(msg)
    if len(body) > MAX_BODY:
        msg = f"a note holds at most {MAX_BODY} characters (this one has {len(body)})"
        raise NoteRefused(msg)
    session_name = str(session_name or "").strip() or DEFAULT_SESSION
    if len(session_name) > MAX_SESSION or not SESSION_PATTERN.match(session_name):
        msg = f"a session name has at most {MAX_SESSION} letters, digits, spaces or . : @ ( ) / - _"
        raise NoteRefused(msg)
    return kind, target, body, session_name


def check_target(kind: str, target: Any) -> str:
    target = str(target or "").strip()
    if not target or len(target) > MAX_TARGET:
        msg = f"a note needs a target of 1 to {MAX_TARGET} characters"
        raise NoteRefused(msg)
    if kind == "event":
        try:
            target = str(whole_number(target, "event position", low=1))
        except BadNumber:
            msg = "an event is named by its global position (a positive whole number)"
            raise NoteRefused(msg) from None
    return target


def target_exists(kind: str, target: str) -> bool:
    """True if the event type, stream or event a note would be pinned to is known."""
    store = get_runtime().store
    if kind == "stream":
        return store.stream_info(target) is not None
    if kind == "event":
        return store.get_event(int(target)) is not None
    from webapp.domain import event_class

    if event_class(target) is not None:
        return True
    return bool(store.read_all_backward(None, limit=1, types=[target]))


def note_book() -> NoteBook:
    return NoteBook(get_runtime().store.engine)


def target_url(kind: str, target: str) -> str | None:
    """Where the thing a note is pinned to is shown, if that page exists."""
    from flask import current_app

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


# --- views ------------------------------------------------------------------------------


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
        next_cursor = notes[PAGE_SIZE - 1].id if len(notes) > PAGE_SIZE else None
        notes = notes[:PAGE_SIZE]
    else:
        notes = book.recent(before=before, limit=PAGE_SIZE + 1)
        next_cursor = notes[PAGE_SIZE - 1].id if len(notes) > PAGE_SIZE else None
        notes = notes[:PAGE_SIZE]
    return render_view(
        "notes/page.html",
        "notes/_list.html",
        sessions=book.sessions(),
        session_name=session_name,
        notes=notes,
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
            raise NoteRefused(f"kind must be one of: {', '.join(KINDS)}")
        target = check_target(kind, request.args.get("target"))
    except NoteRefused as exc:
        abort(400, description=str(exc))
    return _pinned_response(kind, target)


def _pinned_response(kind: str, target: str, *, error: str | None = None, draft: str = "") -> str:
    from flask import render_template

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
    body = session_markdown(session_name, notes)
    filename = re.sub(r"[^\w.-]+", "_", session_name).strip("_") or "session"
    return Response(
        body,
        mimetype="text/markdown",
        headers={"Content-Disposition": f'attachment; filename="review-{filename}.md"'},
    )


def session_markdown(session_name: str, notes: list[Note]) -> str:
    """The notes grouped by what they are pinned to, oldest first."""
    lines = [f"# Review session: {_md_inline(session_name)}", ""]
    authors = sorted({n.author for n in notes})
    lines.append(f"{len(notes)} note(s) by {', '.join(_md_inline(a) for a in authors)}.")
    groups: dict[tuple[str, str], list[Note]] = {}
    for note in notes:
        groups.setdefault((note.kind, note.target), []).append(note)
    for (kind, target), pinned_notes in groups.items():
        lines += ["", f"## {KINDS.get(kind, kind).capitalize()} `{target.replace('`', '')}`", ""]
        for note in pinned_notes:
            stamp = note.created_at.strftime("%Y-%m-%d %H:%M UTC")
            lines.append(f"- **{_md_inline(note.author)}**, {stamp}:")
            lines.extend(
                f"  > {_md_text(line)}" if line else "  >" for line in note.body.split("\n")
            )
    return "\n".join(lines) + "\n"


def _md_inline(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#])", r"\\\1", text)


def _md_text(text: str) -> str:
    """Note text kept readable, but no Markdown renderer turns it into HTML tags."""
    return text.replace("<", "\\<")


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return whole_number(raw, f"{name!r} cursor")
    except BadNumber as exc:
        abort(400, description=str(exc))
