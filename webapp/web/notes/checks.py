"""What a review note may hold: the things it is pinned to, its limits, and the checks."""

from __future__ import annotations

import re
from typing import Any

from webapp.web.numbers import BadNumber, whole_number

KINDS: dict[str, str] = {"event_type": "event type", "stream": "stream", "event": "event"}
"""What a note may be pinned to, with the words a page shows for it."""
MAX_BODY = 2000
MAX_TARGET = 300
MAX_SESSION = 100
DEFAULT_SESSION = "general"
SESSION_PATTERN = re.compile(r"^[\w .:@()/-]+$")


class NoteRefused(ValueError):
    """Bad note input; nothing was stored."""


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
    """The cleaned target of a note of `kind` (an event by its global position)."""
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
