"""Reveals: personal data shown on purpose, to one person, for a while.

Pages show personal fields masked to everyone by default. Support and admin staff reveal
one subject's data (or one field of it) by stating why (a ticket, a reason); the reveal
lasts a few minutes and is written to the access log once, with its purpose. While it
lasts, the pages that person opens show that subject in clear without logging again.

`RevealScope` is what one person may see in clear right now; the codec asks it per field.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from webapp.database import reading
from webapp.privacy.access_log import AccessLog
from webapp.privacy.roles import Role, check_may_handle_subjects
from webapp.privacy.subjects import check_subject_id
from webapp.privacy.tables import reveals

DEFAULT_MINUTES = 15
MAX_MINUTES = 60
MIN_PURPOSE = 3
MAX_PURPOSE = 200
MAX_FIELD = 200
KEEP_ENDED_SECONDS = 24 * 3600
"""Ended reveals are deleted a day later; the access log keeps the record."""


class RevealScope:
    """The subjects (whole, or single fields of them) one person may see in clear now."""

    __slots__ = ("_fields", "_subjects")

    def __init__(self, grants: Iterable[tuple[str, str | None]] = ()) -> None:
        grants = list(grants)
        self._subjects: frozenset[str] = frozenset(s for s, f in grants if not f)
        self._fields: frozenset[tuple[str, str]] = frozenset((s, f) for s, f in grants if f)

    def allows(self, subject_id: str | None, field: str | None = None) -> bool:
        """Whether `field` of `subject_id` (or, with no field, all their data) is revealed."""
        if subject_id is None:
            return False
        if subject_id in self._subjects:
            return True
        return field is not None and (subject_id, field) in self._fields

    def __bool__(self) -> bool:
        return bool(self._subjects or self._fields)

    def __repr__(self) -> str:
        return f"RevealScope(subjects={sorted(self._subjects)}, fields={sorted(self._fields)})"


NOTHING_REVEALED = RevealScope()


@dataclass(frozen=True)
class Reveal:
    id: int
    actor: str
    subject_id: str
    field: str | None
    """None: all of the subject's personal data."""
    purpose: str
    granted_at: datetime
    expires_at: datetime

    @property
    def minutes_left(self) -> int:
        return max(0, int((self.expires_at.timestamp() - time.time() + 59) // 60))

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "subject_id": self.subject_id,
            "field": self.field,
            "purpose": self.purpose,
            "granted_at": self.granted_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


def check_purpose(purpose: str) -> str:
    """The stated purpose, trimmed; a ValueError when it is missing, too short or too long."""
    text = " ".join(str(purpose or "").split())
    if len(text) < MIN_PURPOSE:
        msg = "state the purpose of the reveal (a ticket number or a reason)"
        raise ValueError(msg)
    if len(text) > MAX_PURPOSE:
        msg = f"the purpose is limited to {MAX_PURPOSE} characters"
        raise ValueError(msg)
    return text


def check_minutes(minutes: int) -> int:
    if not 1 <= int(minutes) <= MAX_MINUTES:
        msg = f"a reveal lasts 1 to {MAX_MINUTES} minutes"
        raise ValueError(msg)
    return int(minutes)


class Reveals:
    """The reveals in force, kept beside the access log (the key store's database)."""

    def __init__(self, engine: Engine, log: AccessLog) -> None:
        self.engine = engine
        self.log = log

    def grant(
        self,
        subject_id: str,
        *,
        actor: str,
        role: str | Role,
        purpose: str,
        field: str | None = None,
        minutes: int = DEFAULT_MINUTES,
    ) -> Reveal:
        """Reveal a subject (or one `field` of theirs) to `actor` for `minutes`, and log it
        once with its purpose (in the same transaction). Support and admin only."""
        check_may_handle_subjects(role, "reveal the personal data of")
        subject_id = check_subject_id(subject_id)
        purpose = check_purpose(purpose)
        minutes = check_minutes(minutes)
        field = (field or "").strip() or None
        if field is not None and len(field) > MAX_FIELD:
            msg = f"a field name is limited to {MAX_FIELD} characters"
            raise ValueError(msg)
        if not actor:
            msg = "a reveal needs an actor"
            raise ValueError(msg)
        now = time.time()
        expires = now + minutes * 60
        what = f"revealed {('field ' + field) if field else 'all personal data'} for {minutes} min"
        with self.engine.begin() as conn:
            conn.execute(sa.delete(reveals).where(reveals.c.expires_at < now - KEEP_ENDED_SECONDS))
            row_id = conn.execute(
                sa.insert(reveals)
                .values(
                    actor=actor[:200],
                    subject_id=subject_id,
                    field=field or "",
                    purpose=purpose,
                    granted_at=now,
                    expires_at=expires,
                )
                .returning(reveals.c.id)
            ).scalar_one()
            self.log.record(actor, "reveal", subject_id, what, purpose=purpose, connection=conn)
        return Reveal(
            id=row_id,
            actor=actor,
            subject_id=subject_id,
            field=field,
            purpose=purpose,
            granted_at=datetime.fromtimestamp(now, UTC),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def active(self, actor: str, *, subject_id: str | None = None) -> list[Reveal]:
        """The reveals in force for `actor` (of one subject, if given), soonest to end first."""
        query = (
            sa.select(reveals)
            .where(reveals.c.actor == actor, reveals.c.expires_at > time.time())
            .order_by(reveals.c.expires_at, reveals.c.id)
        )
        if subject_id is not None:
            query = query.where(reveals.c.subject_id == subject_id)
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
        return [
            Reveal(
                id=row.id,
                actor=row.actor,
                subject_id=row.subject_id,
                field=row.field or None,
                purpose=row.purpose,
                granted_at=datetime.fromtimestamp(row.granted_at, UTC),
                expires_at=datetime.fromtimestamp(row.expires_at, UTC),
            )
            for row in rows
        ]

    def scope(self, actor: str) -> RevealScope:
        """What `actor` may see in clear right now."""
        return RevealScope((r.subject_id, r.field) for r in self.active(actor))

    def end(self, actor: str, subject_id: str) -> int:
        """End `actor`'s reveals of a subject now (masked again); how many were in force."""
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(reveals)
                .where(
                    reveals.c.actor == actor,
                    reveals.c.subject_id == subject_id,
                    reveals.c.expires_at > now,
                )
                .values(expires_at=now)
            )
        return int(result.rowcount or 0)
