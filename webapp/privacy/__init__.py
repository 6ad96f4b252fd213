"""Privacy: per-subject field encryption, crypto-shredding, subject export and the PII access log.

    vault = Vault.open(settings)                         # keys, codec, access log
    repository = Repository(store, codec=vault.codec)    # the domain's PayloadCodec
    privacy = Privacy(vault, store=store, registry=registry, participants=[read_side])
    privacy.forget("42", reason="erasure request #7", actor="alice", role="support")
    privacy.export("42", actor="alice", role="support")

See docs/privacy.md for the model and its guarantees.
"""

from __future__ import annotations

from webapp.privacy.access_log import AccessEntry, AccessPage
from webapp.privacy.audit import audit_stream
from webapp.privacy.blind_index import normalise_email
from webapp.privacy.codec import PrivacyCodec
from webapp.privacy.errors import (
    AccessDenied,
    MasterKeyError,
    MissingSubject,
    PrivacyError,
    SubjectForgottenError,
)
from webapp.privacy.markers import (
    DELETED_ACCOUNT_NAME,
    FORGOTTEN,
    MASKED,
    WITHHELD,
    Forgotten,
    Masked,
    Unreadable,
    Withheld,
    display_name,
    is_forgotten,
    is_masked,
    is_placeholder,
    is_unreadable,
)
from webapp.privacy.participants import AggregateEvictor, ForgetParticipant
from webapp.privacy.reveals import NOTHING_REVEALED, Reveal, RevealScope
from webapp.privacy.roles import Role, check_may_handle_subjects, sees_personal_data
from webapp.privacy.service import Privacy
from webapp.privacy.subjects import MAX_REASON, ForgetResult, SubjectStatus, subject_status
from webapp.privacy.vault import Vault
from webapp.privacy.viewing import Showing

__all__ = [
    "Vault",
    "DELETED_ACCOUNT_NAME",
    "FORGOTTEN",
    "MAX_REASON",
    "MASKED",
    "NOTHING_REVEALED",
    "WITHHELD",
    "AccessDenied",
    "AccessEntry",
    "AccessPage",
    "AggregateEvictor",
    "ForgetParticipant",
    "ForgetResult",
    "Forgotten",
    "Masked",
    "MasterKeyError",
    "MissingSubject",
    "Privacy",
    "PrivacyCodec",
    "PrivacyError",
    "Role",
    "Showing",
    "SubjectForgottenError",
    "SubjectStatus",
    "Unreadable",
    "Withheld",
    "audit_stream",
    "check_may_handle_subjects",
    "display_name",
    "is_forgotten",
    "is_masked",
    "is_placeholder",
    "is_unreadable",
    "normalise_email",
    "Reveal",
    "RevealScope",
    "sees_personal_data",
    "subject_status",
]
