"""Data subjects as the privacy service reports them, and the checks on what callers pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webapp.privacy.keystore import SubjectKey

MAX_REASON = 500
MAX_SUBJECT_ID = 200


@dataclass(frozen=True)
class SubjectStatus:
    subject_id: str
    state: str
    """"active", "forgotten" or "unknown"."""
    forgotten_at: datetime | None = None
    forgotten_reason: str | None = None
    forgotten_by: str | None = None

    @property
    def forgotten(self) -> bool:
        return self.state == "forgotten"

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "state": self.state,
            "forgotten_at": self.forgotten_at.isoformat() if self.forgotten_at else None,
            "forgotten_reason": self.forgotten_reason,
            "forgotten_by": self.forgotten_by,
        }


@dataclass(frozen=True)
class ForgetResult:
    subject_id: str
    forgotten_at: datetime
    newly_forgotten: bool
    """False when the subject had already been forgotten (the call changed nothing)."""
    streams: tuple[str, ...] = ()
    snapshots_deleted: int = 0
    aggregates_evicted: int = 0
    files_scrubbed: bool = True
    """SQLite: both write-ahead logs were emptied; PostgreSQL: the touched tables were vacuumed."""
    held_data: bool = True
    """False when eventscope had never held a key for the subject: the forget only recorded
    that personal data for this id is to be refused (often a mistyped id)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "forgotten_at": self.forgotten_at.isoformat(),
            "newly_forgotten": self.newly_forgotten,
            "streams": list(self.streams),
            "snapshots_deleted": self.snapshots_deleted,
            "aggregates_evicted": self.aggregates_evicted,
            "files_scrubbed": self.files_scrubbed,
            "held_data": self.held_data,
        }


def subject_status(subject_id: str, record: SubjectKey | None) -> SubjectStatus:
    """The status a key-store record (or none) gives a subject."""
    if record is None:
        return SubjectStatus(subject_id, "unknown")
    if not record.forgotten:
        return SubjectStatus(subject_id, "active")
    return SubjectStatus(
        subject_id,
        "forgotten",
        datetime.fromtimestamp(record.forgotten_at, UTC) if record.forgotten_at else None,
        record.forgotten_reason,
        record.forgotten_by,
    )


def check_subject_id(subject_id: object) -> str:
    """The subject id; a ValueError unless it is a non-empty string of bounded length."""
    if (
        not isinstance(subject_id, str)
        or not subject_id.strip()
        or len(subject_id) > MAX_SUBJECT_ID
    ):
        msg = f"a subject id is a non-empty string of at most {MAX_SUBJECT_ID} characters"
        raise ValueError(msg)
    return subject_id


def check_reason(reason: str | None, what: str) -> str:
    """The reason stripped; a ValueError when it is missing or too long."""
    reason = (reason or "").strip()
    if not reason:
        msg = f"{what} needs a reason"
        raise ValueError(msg)
    if len(reason) > MAX_REASON:
        msg = f"the reason is limited to {MAX_REASON} characters"
        raise ValueError(msg)
    return reason
