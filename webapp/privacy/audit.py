"""The privacy audit trail: one stream per subject recording their forget and re-registration.

Its events hold no personal data (see `webapp.privacy.events`), so they stay readable
after the subject's key is gone and appear in their export.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from webapp.domain import type_name_of
from webapp.privacy.event_log import EventLog
from webapp.privacy.events import SubjectForgotten, SubjectReregistered
from webapp.store.types import NewEvent

AUDIT_STREAM_PREFIX = "privacy-"


def audit_stream(subject_id: str) -> str:
    """The stream recording a subject's forget and re-registration (no personal data in it)."""
    return f"{AUDIT_STREAM_PREFIX}{subject_id}"


class AuditTrail:
    """Appends and reads the audit streams in the event log."""

    def __init__(self, events: EventLog) -> None:
        self.events = events

    def record(
        self, subject_id: str, fact: SubjectForgotten | SubjectReregistered, actor: str
    ) -> None:
        event = NewEvent(type_name_of(fact), dataclasses.asdict(fact), {"actor": actor})
        self.events.append(audit_stream(subject_id), [event])

    def forget_recorded(self, subject_id: str) -> bool:
        """The subject's last audit event records a forget."""
        last = self.events.read_stream(audit_stream(subject_id), None, limit=1, backward=True)
        return bool(last) and last[0].type == type_name_of(SubjectForgotten)

    def entries(self, subject_id: str) -> list[dict[str, Any]]:
        """The subject's audit events, oldest first, as the export shows them."""
        return [
            {
                "type": e.type,
                "stream_id": e.stream_id,
                "stream_version": e.stream_version,
                "recorded_at": e.recorded_at.isoformat(),
                "data": e.data,
            }
            for e in self.events.read_stream(audit_stream(subject_id))
        ]
