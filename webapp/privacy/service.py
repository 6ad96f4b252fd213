"""The privacy service: forget (crypto-shredding), subject access export, lookup and the access log.

Built once per process by the composition root (webapp/bootstrap.py) on a `Vault`;
the web layer and the CLI call it, passing the actor and their role.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from webapp.privacy import crypto
from webapp.privacy.access_log import AccessLog, AccessPage
from webapp.privacy.blind_index import BlindIndex
from webapp.privacy.codec import PrivacyCodec
from webapp.privacy.database import (
    secure_delete_enabled,
    truncate_sqlite_wal,
    vacuum_postgresql,
)
from webapp.privacy.events import SubjectForgotten, SubjectReregistered
from webapp.privacy.keystore import KeyStore, SubjectKey
from webapp.privacy.master_key import MasterKey
from webapp.privacy.participants import AggregateEvictor, ForgetParticipant
from webapp.privacy.roles import (
    Role,
    check_may_handle_subjects,
    check_may_reregister,
    sees_personal_data,
)
from webapp.privacy.tables import TOUCHED_BY_FORGET
from webapp.privacy.vault import Vault
from webapp.store import EventStore
from webapp.store.types import NewEvent, RecordedEvent

logger = logging.getLogger(__name__)

AUDIT_STREAM_PREFIX = "privacy-"
SUBJECT_FORGOTTEN = "SubjectForgotten"
MAX_REASON = 500


def audit_stream(subject_id: str) -> str:
    """The stream recording a subject's forget and re-registration (no personal data in it)."""
    return f"{AUDIT_STREAM_PREFIX}{subject_id}"


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


def _checked_reason(reason: str | None, what: str) -> str:
    """The reason stripped; a ValueError when it is missing or too long."""
    reason = (reason or "").strip()
    if not reason:
        msg = f"{what} needs a reason"
        raise ValueError(msg)
    if len(reason) > MAX_REASON:
        msg = f"the reason is limited to {MAX_REASON} characters"
        raise ValueError(msg)
    return reason


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


class Privacy:
    """Field encryption, crypto-shredding, subject export, e-mail lookup and the PII access log.

    A forget reaches every part that holds a subject's data through what is passed in:
    `registry` drops live aggregates (anything with `peek` and `evict`) and each of
    `participants` scrubs and exports its rows (see `ForgetParticipant`).
    """

    def __init__(
        self,
        vault: Vault,
        *,
        store: EventStore | None = None,
        registry: AggregateEvictor | None = None,
        participants: Sequence[ForgetParticipant] = (),
    ) -> None:
        self.vault = vault
        self.store = store
        self.registry = registry
        self.participants: list[ForgetParticipant] = list(participants)
        self._forget_lock = threading.Lock()
        self._changes_handled = 0

    @property
    def keys(self) -> KeyStore:
        return self.vault.keys

    @property
    def codec(self) -> PrivacyCodec:
        return self.vault.codec

    @property
    def log(self) -> AccessLog:
        return self.vault.log

    @property
    def index(self) -> BlindIndex:
        return self.vault.index

    @property
    def master_key(self) -> MasterKey:
        return self.vault.master_key

    @property
    def keystore_url(self) -> str:
        return self.vault.keystore_url

    @property
    def engine(self) -> Engine:
        return self.vault.engine

    def _current_participants(self) -> list[ForgetParticipant]:
        return self.participants

    def _current_registry(self) -> AggregateEvictor | None:
        return self.registry

    def check_forgets_elsewhere(self) -> int:
        """After a forget committed by another process: drop this process's cached keys and
        the live aggregates holding data of a forgotten subject; how many were dropped.

        Cheap when nothing changed (one primary-key read). Run by the aggregate reaper
        every tick, on a thread that holds no aggregate's lock."""
        self.keys.changed_elsewhere()
        seen = self.keys.changes_seen  # a key lookup may have found the new mark first
        if seen == self._changes_handled:
            return 0
        self._changes_handled = seen
        registry = self._current_registry()
        if registry is None or not hasattr(registry, "live_subject_ids"):
            return 0
        forgotten = self.keys.forgotten_among(registry.live_subject_ids())
        if not forgotten:
            return 0
        return registry.evict_where(lambda e: not forgotten.isdisjoint(e.aggregate.subject_ids()))

    def close(self) -> None:
        self.vault.close()

    # --- reading ----------------------------------------------------------------

    def decode(self, event: RecordedEvent, *, role: str | Role | None = None) -> RecordedEvent:
        """The event with personal fields decrypted, or masked when `role` may not see them.

        Does not log: callers showing decrypted data to a person use `view_events`.
        """
        if role is None or sees_personal_data(role):
            return self.codec.decode(event)
        data = self.codec.decode_data(str(event.event_id), event.data, reveal=False)
        return event if data is event.data else _with_data(event, data)

    def view_events(
        self,
        events: Iterable[RecordedEvent],
        *,
        actor: str,
        role: str | Role,
        where: str,
    ) -> list[RecordedEvent]:
        """Decode events for a person: masked for viewers; for support/admin, in clear and logged
        (one access-log entry per subject whose plaintext is returned)."""
        reveal = sees_personal_data(role)
        revealed: set[str] = set()
        out = []
        for event in events:
            data = self.codec.decode_data(
                str(event.event_id), event.data, reveal=reveal, revealed=revealed
            )
            out.append(event if data is event.data else _with_data(event, data))
        if revealed:
            self.log.record(actor, "view", sorted(revealed), where)
        return out

    def reader(self, *, role: str | Role, actor: str | None = None, where: str = "") -> RoleCodec:
        """A PayloadCodec whose `decode` suits `role` (and logs what it reveals when `actor` is
        given), e.g. for rebuilding an aggregate's state at version N for display."""
        return RoleCodec(self, role, actor, where)

    def status(self, subject_id: str) -> SubjectStatus:
        return subject_status(subject_id, self.keys.subject(subject_id))

    def is_forgotten(self, subject_id: str) -> bool:
        return self.status(subject_id).forgotten

    def lookup_email(self, email: str, *, actor: str, role: str | Role) -> list[str]:
        """Subject ids that used this e-mail address (blind index; support/admin, logged)."""
        check_may_handle_subjects(role, "look up")
        subjects = self.keys.subjects_for_lookup(self.index.token(email))
        if subjects:
            self.log.record(actor, "view", subjects, "lookup by e-mail")
        return subjects

    def subjects_with_email(
        self, email: str, *, actor: str, role: str | Role
    ) -> list[SubjectStatus]:
        """`lookup_email`, with each subject's status."""
        return [self.status(s) for s in self.lookup_email(email, actor=actor, role=role)]

    # --- the PII access log -------------------------------------------------------

    def record_access(
        self, actor: str, action: str, subject_id: str | list[str], what: str
    ) -> None:
        """Log a view/export/forget/reregister of a subject (`what` holds no personal data)."""
        self.log.record(actor, action, subject_id, what)

    def access_log(self, **filters: Any) -> AccessPage:
        """Entries newest first; filters: subject_id, actor, action, since, until, before, limit."""
        return self.log.query(**filters)

    # --- forget -------------------------------------------------------------------

    def forget(
        self, subject_id: str, *, reason: str, actor: str, role: str | Role = Role.ADMIN
    ) -> ForgetResult:
        """Crypto-shred a subject: key, lookups, snapshots, live aggregates and read-model rows.

        Idempotent. When it returns, no file of a SQLite deployment holds their plaintext or key.
        """
        check_may_handle_subjects(role, "forget")
        subject_id = _check_subject_id(subject_id)
        reason = _checked_reason(reason, "a forget")
        with self._forget_lock:
            streams = tuple(self.keys.streams_of(subject_id))
            newly, held_data, record = self.keys.shred(subject_id, reason=reason, actor=actor)
            self.codec.forget_noted(subject_id)
            evicted = self._evict(streams)
            if newly or not self._audited(subject_id):
                self._append_audit(
                    subject_id,
                    SubjectForgotten(
                        subject_id=subject_id,
                        reason=record.forgotten_reason or reason,
                        forgotten_by=record.forgotten_by or actor,
                        forgotten_at=_iso(record.forgotten_at),
                    ),
                    actor,
                )
            head = self.store.head_position() if self.store is not None else 0
            for participant in self._current_participants():
                participant.forget_subject(subject_id)
                if self._settle(participant, head):  # a worker wrote rows meanwhile: again
                    participant.forget_subject(subject_id)
            deleted = self._delete_snapshots(streams)
            evicted += self._evict(streams)  # anything loaded while we worked
            self.keys.drop_streams(subject_id)
            self.log.record(actor, "forget", subject_id, "forget" if newly else "forget (again)")
            scrubbed = self._scrub_files()
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

    def reregister(
        self, subject_id: str, *, reason: str, actor: str, role: str | Role = Role.ADMIN
    ) -> SubjectStatus:
        """Allow a forgotten subject new personal data under a fresh key (audited).

        Their data from before the forget stays unreadable.
        """
        check_may_reregister(role)
        subject_id = _check_subject_id(subject_id)
        reason = _checked_reason(reason, "a re-registration")
        self.keys.reregister(subject_id)
        self.codec.forget_noted(subject_id)
        self._append_audit(
            subject_id,
            SubjectReregistered(subject_id=subject_id, reason=reason, reregistered_by=actor),
            actor,
        )
        self.log.record(actor, "reregister", subject_id, "re-registration")
        return self.status(subject_id)

    def _settle(self, participant: Any, head: int, *, patience: float = 1.0) -> bool:
        """Let a running projection worker finish batches it decoded before the key was shredded.

        Waits (while it makes progress, at most `patience` seconds) until the participant's
        read models hold every event up to `head`; True if they moved meanwhile.
        """
        wait = getattr(participant, "wait_until_projected", None)
        if wait is None or head == 0:
            return False
        names = None
        if hasattr(participant, "names") and hasattr(participant, "get"):
            names = [
                n
                for n in participant.names()
                if getattr(participant.get(n), "holds_personal_data", False)
            ]
            if not names:
                return False
        moved, previous = False, None
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                wait(head, names, 0.2)
            except TimeoutError as exc:
                behind = getattr(exc, "behind", None)
                if behind is not None and behind == previous:
                    return moved  # nobody is working on them: nothing is in flight
                moved = moved or previous is not None
                previous = behind
            else:
                return True
        return moved

    def _evict(self, streams: Sequence[str]) -> int:
        registry = self._current_registry()
        if registry is None:
            return 0
        count = 0
        for stream_id in streams:
            entry = registry.peek(stream_id) if hasattr(registry, "peek") else None
            lock = getattr(entry, "lock", None)
            if lock is not None:
                with lock:  # let a command in flight on this aggregate finish first
                    count += bool(registry.evict(stream_id))
            else:
                count += bool(registry.evict(stream_id))
        return count

    def _delete_snapshots(self, streams: Sequence[str]) -> int:
        if self.store is None:
            return 0
        return sum(self.store.delete_snapshots(stream_id) for stream_id in streams)

    def _audited(self, subject_id: str) -> bool:
        if self.store is None:
            return True
        last = self.store.read_stream(audit_stream(subject_id), None, limit=1, backward=True)
        return bool(last) and last[0].type == SUBJECT_FORGOTTEN

    def _append_audit(self, subject_id: str, fact: Any, actor: str) -> None:
        if self.store is None:
            return
        event = NewEvent(
            type=type(fact).__event_type__, data=dataclasses.asdict(fact), metadata={"actor": actor}
        )
        self.store.append(audit_stream(subject_id), [event])

    def _scrub_files(self) -> bool:
        """Make deleted key and personal-data bytes unrecoverable from the database files."""
        engines = [self.engine]
        store_engine = getattr(self.store, "engine", None)
        if store_engine is not None and store_engine is not self.engine:
            engines.append(store_engine)
        ok = True
        for engine in engines:
            if engine.dialect.name == "sqlite":
                if not secure_delete_enabled(engine):  # freed pages may keep old bytes
                    logger.warning("secure_delete is off on %s: vacuuming the file", engine.url)
                    with engine.connect() as conn:
                        conn.connection.dbapi_connection.execute("VACUUM")
                ok = truncate_sqlite_wal(engine) and ok
            else:
                tables = list(TOUCHED_BY_FORGET)
                if engine is store_engine:
                    tables = ["snapshots", *self._personal_read_model_tables(engine)]
                try:
                    vacuum_postgresql(engine, tables)
                except Exception:  # noqa: BLE001 - VACUUM is best effort; report it
                    logger.warning("VACUUM after forget failed", exc_info=True)
                    ok = False
        if not ok:
            logger.warning("forget: a write-ahead log stayed busy or VACUUM failed; forget again")
        return ok

    def _personal_read_model_tables(self, engine: Engine) -> list[str]:
        """Tables of participants (declared `tables`, or projections holding personal data)."""
        tables: list[str] = []
        prefixes: list[str] = []
        for participant in self._current_participants():
            tables += list(getattr(participant, "tables", None) or [])
            if hasattr(participant, "names") and hasattr(participant, "get"):
                prefixes += [
                    f"rm_{name}_"
                    for name in participant.names()
                    if getattr(participant.get(name), "holds_personal_data", False)
                ]
        if prefixes:
            import sqlalchemy as sa

            with engine.connect() as conn:
                names = conn.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = current_schema()"
                    )
                ).scalars()
                tables += [n for n in names if any(n.startswith(p) for p in prefixes)]
        return tables

    # --- subject access export --------------------------------------------------------

    def export(
        self, subject_id: str, *, actor: str, role: str | Role = Role.ADMIN
    ) -> dict[str, Any]:
        """Everything held on a subject as one JSON-ready document (GDPR art. 15/20); logged."""
        check_may_handle_subjects(role, "export")
        subject_id = _check_subject_id(subject_id)
        status = self.status(subject_id)
        document: dict[str, Any] = {
            "subject_id": subject_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "exported_by": actor,
            "status": status.state,
            "forgotten": None,
            "events": [],
            "snapshots": [],
            "related_streams": [],
            "read_models": {},
            "privacy_audit": self._audit_events(subject_id),
        }
        if status.forgotten:
            document["forgotten"] = {
                "at": status.forgotten_at.isoformat() if status.forgotten_at else None,
                "reason": status.forgotten_reason,
                "by": status.forgotten_by,
            }
        else:
            document["events"], document["snapshots"] = self._export_streams(subject_id)
            exported = {e["stream_id"] for e in document["events"]}
            document["related_streams"] = self._export_related(subject_id, exported)
            for participant in self._current_participants():
                rows = participant.export_subject(subject_id)
                if isinstance(rows, dict):  # a participant grouping rows by read model
                    document["read_models"].update({k: v for k, v in rows.items() if v})
                elif rows:
                    name = getattr(participant, "name", type(participant).__name__)
                    document["read_models"][name] = rows
        self.log.record(actor, "export", subject_id, "subject access export")
        return document

    def _export_streams(self, subject_id: str) -> tuple[list[dict], list[dict]]:
        if self.store is None:
            return [], []
        events: list[dict[str, Any]] = []
        snapshots: list[dict[str, Any]] = []
        for stream_id in self.keys.streams_of(subject_id):
            events += self._exported_events(stream_id, subject_id, carrying_only=True)
            for snap in self.store.list_snapshots(stream_id):
                snapshots.append(
                    {
                        "stream_id": snap.stream_id,
                        "version": snap.version,
                        "type": snap.type,
                        "taken_at": snap.taken_at.isoformat() if snap.taken_at else None,
                        "data": snap.data,
                    }
                )
        return events, snapshots

    def _exported_events(
        self, stream_id: str, subject_id: str, *, carrying_only: bool
    ) -> list[dict[str, Any]]:
        """A stream's events as the export shows them: the subject's own fields decrypted,
        anyone else's withheld; with `carrying_only`, only the events holding the subject's
        fields."""
        assert self.store is not None
        events: list[dict[str, Any]] = []
        after = 0
        while True:
            batch = self.store.read_stream(stream_id, after + 1, limit=1000)
            for event in batch:
                if carrying_only and not _carries(event.data, subject_id):
                    continue
                data = self.codec.decode_data(
                    str(event.event_id), event.data, only_subject=subject_id
                )
                events.append(
                    {
                        "stream_id": event.stream_id,
                        "stream_version": event.stream_version,
                        "position": event.position,
                        "event_id": str(event.event_id),
                        "type": event.type,
                        "recorded_at": event.recorded_at.isoformat(),
                        "data": data,
                        "metadata": event.metadata,
                    }
                )
            if len(batch) < 1000:
                return events
            after = batch[-1].stream_version

    def _export_related(self, subject_id: str, exported: set[str]) -> list[dict[str, Any]]:
        """Streams about the subject without their personal fields (accounts they own),
        as the participants (projections) know them, with every event."""
        if self.store is None:
            return []
        stream_ids: set[str] = set()
        for participant in self._current_participants():
            if hasattr(participant, "related_streams"):
                stream_ids.update(participant.related_streams(subject_id))
        return [
            {
                "stream_id": stream_id,
                "events": self._exported_events(stream_id, subject_id, carrying_only=False),
            }
            for stream_id in sorted(stream_ids - exported)
        ]

    def _audit_events(self, subject_id: str) -> list[dict[str, Any]]:
        if self.store is None:
            return []
        return [
            {
                "type": e.type,
                "stream_id": e.stream_id,
                "stream_version": e.stream_version,
                "recorded_at": e.recorded_at.isoformat(),
                "data": e.data,
            }
            for e in self.store.read_stream(audit_stream(subject_id))
        ]

    # --- keys ---------------------------------------------------------------------

    def rotate_master_key(self, new_master_key: bytes) -> int:
        """Re-wrap every data key under `new_master_key` (events untouched); returns how many.

        The caller must then configure the new key (see `eventscope keys rotate`).
        """
        count = self.keys.rotate_master_key(new_master_key)
        self._scrub_files()
        return count

    # --- sealed values for read models -------------------------------------------

    def seal(self, subject_id: str, value: Any, context: str) -> dict[str, Any]:
        """Encrypt a value under the subject's key for a read model (`context`: "users.email")."""
        return self.codec.seal_value(subject_id, value, context)

    def unseal(self, value: Any, context: str, *, role: str | Role | None = None) -> Any:
        """Open a sealed value: plaintext, or FORGOTTEN / MASKED / Unreadable."""
        reveal = role is None or sees_personal_data(role)
        return self.codec.open_value(value, context, reveal=reveal)


class RoleCodec:
    """A PayloadCodec for display: encode is the privacy codec's, decode is role-aware."""

    def __init__(self, privacy: Privacy, role: str | Role, actor: str | None, where: str) -> None:
        self.privacy = privacy
        self.role = role
        self.actor = actor
        self.where = where
        self._logged: set[str] = set()

    def encode(self, stream_id: str, event: NewEvent) -> NewEvent:
        return self.privacy.codec.encode(stream_id, event)

    def decode(self, event: RecordedEvent) -> RecordedEvent:
        if self.actor is None or not sees_personal_data(self.role):
            return self.privacy.decode(event, role=self.role)
        revealed: set[str] = set()
        data = self.privacy.codec.decode_data(str(event.event_id), event.data, revealed=revealed)
        fresh = revealed - self._logged
        if fresh:  # one access-log entry per subject for this reader, however many events
            self.privacy.log.record(self.actor, "view", sorted(fresh), self.where)
            self._logged |= fresh
        return event if data is event.data else _with_data(event, data)


def _with_data(event: RecordedEvent, data: dict[str, Any]) -> RecordedEvent:
    import dataclasses

    return dataclasses.replace(event, data=data)


def _carries(data: dict[str, Any], subject_id: str) -> bool:
    return any(
        crypto.is_envelope(v) and crypto.envelope_subject(v) == subject_id for v in data.values()
    )


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None


def _check_subject_id(subject_id: object) -> str:
    if not isinstance(subject_id, str) or not subject_id.strip() or len(subject_id) > 200:
        msg = "a subject id is a non-empty string of at most 200 characters"
        raise ValueError(msg)
    return subject_id
