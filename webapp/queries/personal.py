"""Personal data as a viewer may see it: one rule for every page that shows events.

Viewers see personal fields masked. Support and admin see them in clear either on purpose
(the dashboard: what they revealed, logged once when revealed) or by role (the API and the
CLI: each subject whose plaintext is shown gets an access-log entry saying where). A
forgotten subject's fields read as a placeholder for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from webapp.privacy import Showing, is_forgotten, is_masked, is_unreadable
from webapp.queries.context import Parts, Viewer, runs_domain
from webapp.sources import RecordedEvent


def reveal(
    parts: Parts, events: Iterable[RecordedEvent], viewer: Viewer, *, where: str
) -> list[RecordedEvent]:
    """`events` with personal fields decoded for `viewer` (logged when shown in clear).

    Another tool's store marks no field as personal and encrypts none that eventscope can
    open: its payloads are shown as stored, to every role, and each showing is logged."""
    if not runs_domain(parts):
        shown = list(events)
        record_payload_view(parts, viewer, [event.stream_id for event in shown], where)
        return shown
    return parts.privacy.view_events(
        events, actor=viewer.actor, role=viewer.role, where=where, reveals=viewer.reveals
    )


def reveal_page(
    parts: Parts, events: Iterable[RecordedEvent], viewer: Viewer, *, where: str
) -> tuple[list[RecordedEvent], Showing | None]:
    """`reveal`, and the `Showing` that lets the same page be shown to a reader of the same
    role again without decoding it (`show_again`). None where a page is not shown by role
    alone: another tool's store, a dashboard reader's reveals, a field that could not be
    read."""
    if not runs_domain(parts) or not viewer.logs_each_view:
        return reveal(parts, events, viewer, where=where), None
    return parts.privacy.view_page(events, actor=viewer.actor, role=viewer.role, where=where)


def show_again(parts: Parts, showing: Showing, viewer: Viewer, *, where: str) -> bool:
    """Log `viewer` seeing a page `reveal_page` decoded for the same role; False (nothing
    logged) when a forget since then means it must be decoded again."""
    return parts.privacy.show_again(showing, actor=viewer.actor, where=where)


FOREIGN_VIEW = "payloads of another tool's store, as stored"
MAX_LOGGED_STREAMS = 100


def record_payload_view(
    parts: Parts, viewer: Viewer, stream_ids: Sequence[str], where: str
) -> None:
    """Log that `viewer` was shown the payloads of these streams of another tool's store
    (one access-log entry per stream, at most MAX_LOGGED_STREAMS per showing)."""
    unique = list(dict.fromkeys(stream_ids))[:MAX_LOGGED_STREAMS]
    if unique:
        parts.privacy.record_access(viewer.actor, "view", unique, f"{where} ({FOREIGN_VIEW})")


def record_view(parts: Parts, viewer: Viewer, subjects: str | Sequence[str], what: str) -> None:
    """Log that `viewer` was shown personal data of `subjects` outside an event (a read-model
    row, a dry run's state); `what` says where, without the data. Nothing is logged for a
    reader whose reveals were logged when made."""
    if not viewer.logs_each_view:
        return
    shown = subjects if isinstance(subjects, str) else list(subjects)
    parts.privacy.record_access(viewer.actor, "view", shown, what)


def placeholder_kind(value: Any) -> str | None:
    """The kind of placeholder ("forgotten", "masked", "unreadable") standing in for personal data
    (None for any other value): pages show its mark, never a quoted escape."""
    if is_forgotten(value):
        return "forgotten"
    if is_masked(value):
        return "masked"
    if is_unreadable(value):
        return "unreadable"
    return None


def privacy_flags(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, "forgotten" | "masked" | "unreadable") for each top-level placeholder value."""
    flags = []
    for key, value in data.items():
        if is_forgotten(value):
            flags.append((key, "forgotten"))
        elif is_masked(value):
            flags.append((key, "masked"))
        elif is_unreadable(value):
            flags.append((key, "unreadable"))
    return flags
