"""A review session exported as Markdown: its notes grouped by what they are pinned to."""

from __future__ import annotations

import re

from webapp.web.notes.book import Note
from webapp.web.notes.checks import KINDS


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


def session_filename(session_name: str) -> str:
    """The download's file name: the session name with only letters, digits, `.`, `-`, `_`."""
    safe = re.sub(r"[^\w.-]+", "_", session_name).strip("_") or "session"
    return f"review-{safe}.md"


def _md_inline(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#])", r"\\\1", text)


def _md_text(text: str) -> str:
    """Note text kept readable, but no Markdown renderer turns it into HTML tags."""
    return text.replace("<", "\\<")
