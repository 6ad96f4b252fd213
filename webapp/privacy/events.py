"""The privacy audit trail's events (stream `privacy-<subject id>`); they hold no personal data."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.domain import event


@event("SubjectForgotten", version=1)
@dataclass(frozen=True)
class SubjectForgotten:
    """A data subject was crypto-shredded: their key is gone, their personal data unreadable."""

    subject_id: str
    reason: str
    forgotten_by: str
    forgotten_at: str | None = None


@event("SubjectReregistered", version=1)
@dataclass(frozen=True)
class SubjectReregistered:
    """A forgotten subject may hold personal data again, under a new key."""

    subject_id: str
    reason: str
    reregistered_by: str
