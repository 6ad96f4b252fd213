"""The privacy service the web layer and the CLI call, passing the actor and their role.

Built once per process by the composition root (webapp/bootstrap.py) on a `Vault`. It checks
roles and arguments, then hands the work to the module holding each idea: `forget`,
`export`, `viewing`; lookups, the access log and sealed values are the vault's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from webapp.privacy import viewing
from webapp.privacy.access_log import AccessLog, AccessPage
from webapp.privacy.audit import AuditTrail
from webapp.privacy.blind_index import BlindIndex
from webapp.privacy.codec import PrivacyCodec
from webapp.privacy.event_log import EventLog, NoEventLog
from webapp.privacy.export import SubjectExport
from webapp.privacy.forget import Forgetting
from webapp.privacy.keystore import KeyStore
from webapp.privacy.master_key import MasterKey
from webapp.privacy.participants import AggregateEvictor, ForgetParticipant, NoLiveAggregates
from webapp.privacy.reveals import Reveal, Reveals, RevealScope
from webapp.privacy.roles import (
    Role,
    check_may_handle_subjects,
    check_may_reregister,
    sees_personal_data,
)
from webapp.privacy.subjects import (
    ForgetResult,
    SubjectStatus,
    check_reason,
    check_subject_id,
    subject_status,
)
from webapp.privacy.vault import Vault
from webapp.privacy.viewing import RoleCodec
from webapp.store import EventStore
from webapp.store.types import RecordedEvent

__all__ = ["ForgetResult", "Privacy", "RoleCodec", "SubjectStatus", "subject_status"]


class Privacy:
    """Field encryption, crypto-shredding, subject export, e-mail lookup and the PII access log.

    A forget reaches every part that holds a subject's data through what is passed in:
    `registry` drops live aggregates and each of `participants` scrubs and exports its rows
    (see `webapp.privacy.participants`). Without a `store` (key tools, tests) there are no
    events, snapshots or audit stream to read or write.
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
        self.registry: AggregateEvictor = registry if registry is not None else NoLiveAggregates()
        self.participants: list[ForgetParticipant] = list(participants)
        events: EventLog = store if store is not None else NoEventLog()
        audit = AuditTrail(events)
        self.forgetting = Forgetting(vault, events, audit, self.registry, self.participants)
        self.exporting = SubjectExport(vault, events, audit, self.participants)
        self.reveals = Reveals(vault.engine, vault.log)

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

    def check_forgets_elsewhere(self) -> int:
        """After a forget committed by another process: drop this process's cached keys and
        the live aggregates holding data of a forgotten subject; how many were dropped.

        Cheap when nothing changed (one primary-key read). Run by the aggregate reaper
        every tick, on a thread that holds no aggregate's lock."""
        return self.forgetting.check_forgets_elsewhere()

    def close(self) -> None:
        self.vault.close()

    # --- reading ----------------------------------------------------------------

    def decode(self, event: RecordedEvent, *, role: str | Role | None = None) -> RecordedEvent:
        """The event with personal fields decrypted, or masked when `role` may not see them.

        Does not log: callers showing decrypted data to a person use `view_events`.
        """
        return viewing.decode(self.codec, event, role=role)

    def view_events(
        self,
        events: Iterable[RecordedEvent],
        *,
        actor: str,
        role: str | Role,
        where: str,
        reveals: RevealScope | None = None,
    ) -> list[RecordedEvent]:
        """Decode events for a person: masked for viewers; for support/admin, in clear and logged
        (one access-log entry per subject whose plaintext is returned), or with `reveals` in
        clear only what they revealed on purpose (already logged)."""
        return viewing.view_events(
            self.codec, self.log, events, actor=actor, role=role, where=where, reveals=reveals
        )

    def view_page(
        self, events: Iterable[RecordedEvent], *, actor: str, role: str | Role, where: str
    ) -> tuple[list[RecordedEvent], viewing.Showing | None]:
        """`view_events` by role, and what showing the same page again takes (`show_again`);
        None when it cannot be shown again without decoding it."""
        return viewing.view_page(self.codec, self.log, events, actor=actor, role=role, where=where)

    def show_again(self, showing: viewing.Showing, *, actor: str, where: str) -> bool:
        """Log `actor` seeing a page decoded earlier, as `view_page` logged it; False (nothing
        logged) when a key was dropped since and the page must be decoded again."""
        return viewing.show_again(self.codec, self.log, showing, actor=actor, where=where)

    def when_keys_dropped(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever this process drops cached keys (a forget, here or seen
        from elsewhere, or a re-registration): whatever holds decoded data lets it go."""
        self.vault.keys.when_dropped(listener)

    def reader(
        self,
        *,
        role: str | Role,
        actor: str | None = None,
        where: str = "",
        reveals: RevealScope | None = None,
    ) -> RoleCodec:
        """A PayloadCodec whose `decode` suits `role` (and logs what it reveals when `actor` is
        given; with `reveals`, shows only that and logs nothing), e.g. for rebuilding an
        aggregate's state at version N for display."""
        return RoleCodec(self.codec, self.log, role, actor, where, reveals)

    # --- reveals: personal data shown on purpose, for a while -----------------------

    def reveal(
        self,
        subject_id: str,
        *,
        actor: str,
        role: str | Role,
        purpose: str,
        field: str | None = None,
        minutes: int | None = None,
    ) -> Reveal:
        """Show a subject's data (or one field) to `actor` for a while; logged with `purpose`."""
        extra = {} if minutes is None else {"minutes": minutes}
        return self.reveals.grant(
            subject_id, actor=actor, role=role, purpose=purpose, field=field, **extra
        )

    def revealed_to(self, actor: str, *, subject_id: str | None = None) -> list[Reveal]:
        """The reveals in force for `actor`."""
        return self.reveals.active(actor, subject_id=subject_id)

    def reveal_scope(self, actor: str) -> RevealScope:
        """What `actor` may see in clear right now."""
        return self.reveals.scope(actor)

    def end_reveal(self, subject_id: str, *, actor: str) -> int:
        """Mask a subject again for `actor` before their reveal runs out."""
        return self.reveals.end(actor, subject_id)

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
        self, actor: str, action: str, subject_id: str | list[str], what: str, purpose: str = ""
    ) -> None:
        """Log a view/export/forget/reregister of a subject (`what` and `purpose` hold no
        personal data)."""
        self.log.record(actor, action, subject_id, what, purpose=purpose)

    def access_log(self, **filters: Any) -> AccessPage:
        """Entries newest first; filters: subject_id, actor, action, purpose, since, until,
        before, limit."""
        return self.log.query(**filters)

    # --- forget and export -------------------------------------------------------

    def forget(
        self, subject_id: str, *, reason: str, actor: str, role: str | Role = Role.ADMIN
    ) -> ForgetResult:
        """Crypto-shred a subject: key, lookups, snapshots, live aggregates and read-model rows.

        Idempotent. When it returns, no file of a SQLite deployment holds their plaintext or key.
        """
        check_may_handle_subjects(role, "forget")
        subject_id = check_subject_id(subject_id)
        reason = check_reason(reason, "a forget")
        return self.forgetting.forget(subject_id, reason=reason, actor=actor)

    def reregister(
        self, subject_id: str, *, reason: str, actor: str, role: str | Role = Role.ADMIN
    ) -> SubjectStatus:
        """Allow a forgotten subject new personal data under a fresh key (audited).

        Their data from before the forget stays unreadable.
        """
        check_may_reregister(role)
        subject_id = check_subject_id(subject_id)
        reason = check_reason(reason, "a re-registration")
        self.forgetting.reregister(subject_id, reason=reason, actor=actor)
        return self.status(subject_id)

    def export(
        self,
        subject_id: str,
        *,
        actor: str,
        role: str | Role = Role.ADMIN,
        purpose: str = "",
    ) -> dict[str, Any]:
        """Everything held on a subject as one JSON-ready document (GDPR art. 15/20); logged
        with `purpose` (the request it answers)."""
        check_may_handle_subjects(role, "export")
        subject_id = check_subject_id(subject_id)
        return self.exporting.export(subject_id, actor=actor, purpose=purpose)

    # --- keys ---------------------------------------------------------------------

    def rotate_master_key(self, new_master_key: bytes) -> int:
        """Re-wrap every data key under `new_master_key` (events untouched); returns how many.

        The caller must then configure the new key (see `eventscope keys rotate`).
        """
        count = self.keys.rotate_master_key(new_master_key)
        self.forgetting.scrub_files()
        return count

    # --- sealed values for read models -------------------------------------------

    def seal(self, subject_id: str, value: Any, context: str) -> dict[str, Any]:
        """Encrypt a value under the subject's key for a read model (`context`: "users.email")."""
        return self.codec.seal_value(subject_id, value, context)

    def unseal(self, value: Any, context: str, *, role: str | Role | None = None) -> Any:
        """Open a sealed value: plaintext, or FORGOTTEN / MASKED / Unreadable."""
        reveal = role is None or sees_personal_data(role)
        return self.codec.open_value(value, context, reveal=reveal)
