"""Review notes: what domain experts say about an event type, a stream or one event.

A review session groups notes by name and exports as Markdown. The checks a note
passes are in `checks`, the table and the book that stores and reads notes in
`book`, the Markdown export in `export`; the pages are in webapp/web/views/notes.py.
"""

from __future__ import annotations

from webapp.web.notes.book import PAGE_SIZE, Note, NoteBook, notes_table
from webapp.web.notes.checks import (
    DEFAULT_SESSION,
    KINDS,
    MAX_BODY,
    MAX_SESSION,
    MAX_TARGET,
    NoteRefused,
    check_note,
    check_target,
)
from webapp.web.notes.export import session_filename, session_markdown

__all__ = [
    "DEFAULT_SESSION",
    "KINDS",
    "MAX_BODY",
    "MAX_SESSION",
    "MAX_TARGET",
    "PAGE_SIZE",
    "Note",
    "NoteBook",
    "NoteRefused",
    "check_note",
    "check_target",
    "notes_table",
    "session_filename",
    "session_markdown",
]
