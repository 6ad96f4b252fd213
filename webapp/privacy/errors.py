"""Errors of the privacy layer."""

from __future__ import annotations


class PrivacyError(Exception):
    """Base class of privacy errors."""


class MasterKeyError(PrivacyError):
    """The master key is missing, malformed or not the one the key store was made with."""


class SubjectForgottenError(PrivacyError, ValueError):
    """A forgotten subject cannot receive a new key without an explicit re-registration.

    A ValueError, so callers treating bad input as a 4xx refusal refuse it (nothing appended).
    """

    code = "subject_forgotten"

    def __init__(self, subject_id: str) -> None:
        self.subject_id = subject_id
        super().__init__(
            f"subject {subject_id!r} has been forgotten; re-register them explicitly "
            "before writing new personal data"
        )


class MissingSubject(PrivacyError, ValueError):
    """An event carries personal data but not the id of the subject it belongs to."""


class AccessDenied(PrivacyError, PermissionError):
    """The actor's role does not allow this privacy operation."""
