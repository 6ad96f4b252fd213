"""The notes book: review notes stored in their own table, and the reads the pages make.

Notes are kept in `web_review_notes`, apart from the event store: they are remarks
about the history, not part of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from webapp.database import reading
from webapp.web.notes.checks import KINDS, MAX_SESSION, MAX_TARGET, check_note

PAGE_SIZE = 50

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
        """Check and store a note (NoteRefused if it is not one)."""
        kind, target, body, session_name = check_note(kind, target, body, session_name)
        created_at = time.time()
        values = {
            "session_name": session_name,
            "kind": kind,
            "target": target,
            "body": body,
            "author": author,
            "author_id": author_id,
            "created_at": created_at,
        }
        with self.engine.begin() as conn:
            note_id = conn.execute(notes_table.insert().values(**values)).inserted_primary_key[0]
        return Note(
            id=int(note_id),
            session_name=session_name,
            kind=kind,
            target=target,
            body=body,
            author=author,
            author_id=author_id,
            created_at=datetime.fromtimestamp(created_at, UTC),
        )

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
        """The oldest notes pinned to one event type, stream or event first."""
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
        """A review session's notes, oldest first (`after`: ids above it; `limit` None: all)."""
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
        """The newest notes first (`before`: ids below it)."""
        query = sa.select(notes_table).order_by(notes_table.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(notes_table.c.id < before)
        with reading(self.engine) as conn:
            return [_row_to_note(r) for r in conn.execute(query)]

    def sessions(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Review sessions with their note count and last note time, latest first."""
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
