"""Forgetting a data subject: shred their key, then every copy of their data kept in the clear.

A forget runs in this order, and may be run again after any step fails:

1. shred the key and the blind-index lookups (nothing new is written or decrypted for them);
2. drop live aggregates holding their data, and record the forget in their audit stream;
3. ask each participant to scrub its rows (again if a background worker wrote meanwhile);
4. delete the snapshots of their streams, and drop aggregates loaded meanwhile;
5. drop the links to their streams (last, so a rerun still finds them), and log the forget;
6. make the freed bytes unrecoverable from the database files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime

from webapp.privacy.audit import AuditTrail
from webapp.privacy.database import scrub_freed_space
from webapp.privacy.event_log import EventLog
from webapp.privacy.events import SubjectForgotten, SubjectReregistered
from webapp.privacy.participants import AggregateEvictor, ForgetParticipant
from webapp.privacy.subjects import ForgetResult
from webapp.privacy.tables import TOUCHED_BY_FORGET
from webapp.privacy.vault import Vault

logger = logging.getLogger(__name__)

SETTLE_PATIENCE = 1.0
"""How long a forget waits for each participant's background writes (seconds)."""


class Forgetting:
    """Crypto-shreds subjects and reaches every part passed in; re-registers them on request."""

    def __init__(
        self,
        vault: Vault,
        events: EventLog,
        audit: AuditTrail,
        registry: AggregateEvictor,
        participants: Sequence[ForgetParticipant],
    ) -> None:
        self.vault = vault
        self.events = events
        self.audit = audit
        self.registry = registry
        self.participants = participants
        self._lock = threading.Lock()
        self._changes_handled = 0

    def forget(self, subject_id: str, *, reason: str, actor: str) -> ForgetResult:
        """Crypto-shred a subject (idempotent); the id and reason are checked by the caller."""
        keys = self.vault.keys
        with self._lock:
            streams = tuple(keys.streams_of(subject_id))
            newly, held_data, record = keys.shred(subject_id, reason=reason, actor=actor)
            self.vault.codec.forget_noted(subject_id)
            evicted = self._evict(streams)
            if newly or not self.audit.forget_recorded(subject_id):
                forgotten = SubjectForgotten(
                    subject_id=subject_id,
                    reason=record.forgotten_reason or reason,
                    forgotten_by=record.forgotten_by or actor,
                    forgotten_at=_iso(record.forgotten_at),
                )
                self.audit.record(subject_id, forgotten, actor)
            self._scrub_participants(subject_id, self.events.head_position())
            deleted = sum(self.events.delete_snapshots(stream_id) for stream_id in streams)
            evicted += self._evict(streams)  # anything loaded while we worked
            keys.drop_streams(subject_id)
            self.vault.log.record(
                actor,
                "forget",
                subject_id,
                "forget" if newly else "forget (again)",
                purpose=reason,
            )
            scrubbed = self.scrub_files()
        return ForgetResult(
            subject_id=subject_id,
            forgotten_at=datetime.fromtimestamp(record.forgotten_at or 0, UTC),
            newly_forgotten=newly,
            streams=streams,
            snapshots_deleted=deleted,
            aggregates_evicted=evicted,
            files_scrubbed=scrubbed,
            held_data=held_data,
        )

    def reregister(self, subject_id: str, *, reason: str, actor: str) -> None:
        """Give a forgotten subject a fresh key (audited); their data from before stays
        unreadable. A ValueError when they are not forgotten."""
        self.vault.keys.reregister(subject_id)
        self.vault.codec.forget_noted(subject_id)
        fact = SubjectReregistered(subject_id=subject_id, reason=reason, reregistered_by=actor)
        self.audit.record(subject_id, fact, actor)
        self.vault.log.record(actor, "reregister", subject_id, "re-registration", purpose=reason)

    def check_forgets_elsewhere(self) -> int:
        """After a forget committed by another process: drop this process's cached keys and
        the live aggregates holding data of a forgotten subject; how many were dropped.

        Cheap when nothing changed (one primary-key read)."""
        keys = self.vault.keys
        keys.changed_elsewhere()
        seen = keys.changes_seen  # a key lookup may have found the new mark first
        if seen == self._changes_handled:
            return 0
        self._changes_handled = seen
        live = self.registry.live_subject_ids()
        forgotten = keys.forgotten_among(live) if live else set()
        if not forgotten:
            return 0
        return self.registry.evict_where(
            lambda entry: not forgotten.isdisjoint(entry.aggregate.subject_ids())
        )

    def scrub_files(self) -> bool:
        """Make deleted key and personal-data bytes unrecoverable from the database files.

        True when every file was scrubbed: SQLite's write-ahead logs emptied, PostgreSQL's
        touched tables vacuumed.
        """
        key_engine = self.vault.engine
        ok = scrub_freed_space(key_engine, lambda: TOUCHED_BY_FORGET)
        store_engine = self.events.engine
        if store_engine is not None and store_engine is not key_engine:
            ok = scrub_freed_space(store_engine, self._store_tables) and ok
        if not ok:
            logger.warning("forget: a write-ahead log stayed busy or VACUUM failed; forget again")
        return ok

    def _scrub_participants(self, subject_id: str, head: int) -> None:
        for participant in self.participants:
            participant.forget_subject(subject_id)
            if participant.settle(head, patience=SETTLE_PATIENCE):
                participant.forget_subject(subject_id)  # a worker wrote rows meanwhile

    def _evict(self, stream_ids: Iterable[str]) -> int:
        count = 0
        for stream_id in stream_ids:
            entry = self.registry.peek(stream_id)
            # let a command in flight on this aggregate finish first
            with entry.lock if entry is not None else nullcontext():
                count += self.registry.evict(stream_id)
        return count

    def _store_tables(self) -> list[str]:
        tables = ["snapshots"]
        for participant in self.participants:
            tables += participant.personal_tables()
        return tables


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None
