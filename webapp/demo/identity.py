"""The identity context: users who register and change their email address.

`name` and `email` are personal data of the subject `user_id`; the privacy
layer encrypts them, and a forgotten user's values may arrive as any marker,
which the fold simply stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from webapp.domain import (
    Aggregate,
    CommandValidationError,
    DomainError,
    KeepFor,
    Limits,
    Router,
    applies,
    command,
    event,
    handles,
)
from webapp.domain.formats import enum

USER_ID = Limits(max_length=100, description="the user's id (their data subject id)")
PERSON_NAME = Limits(max_length=200, description="full name")
EMAIL = Limits(max_length=254, description="email address")
"""What identity's commands accept; `user_directory` sizes its columns from these."""


def _check_email(email: str) -> None:
    local, _, domain = email.partition("@")
    if not local or "." not in domain:
        msg = f"{email!r} is not an email address"
        raise CommandValidationError("invalid_value", msg, field="email")


# --- commands -------------------------------------------------------------------------


@command("RegisterUser")
@dataclass(frozen=True)
class RegisterUser:
    """Register a new user."""

    user_id: str = USER_ID.field()
    name: str = PERSON_NAME.field()
    email: str = EMAIL.field()

    def check(self) -> None:
        _check_email(self.email)


@command("ChangeEmail")
@dataclass(frozen=True)
class ChangeEmail:
    """Change a registered user's email address."""

    user_id: str = USER_ID.field()
    email: str = EMAIL.field()

    def check(self) -> None:
        _check_email(self.email)


# --- events ---------------------------------------------------------------------------


@event("UserRegistered", version=1)
@dataclass(frozen=True)
class UserRegistered:
    __personal_data__ = {"name": "user_id", "email": "user_id"}

    user_id: str
    name: Any
    email: Any


@event("EmailChanged", version=1)
@dataclass(frozen=True)
class EmailChanged:
    __personal_data__ = {"email": "user_id"}

    user_id: str
    email: Any


# --- the aggregate --------------------------------------------------------------------


class User(Aggregate):
    """A registered person. Not snapshotted: its state holds personal data in clear."""

    __formats__ = {"status": enum("registered")}

    snapshot_every = None

    def __init__(self) -> None:
        self.user_id: str | None = None
        self.name: Any = None
        self.email: Any = None
        self.status: str | None = None

    @handles(RegisterUser, emits=[UserRegistered])
    def register_user(self, cmd: RegisterUser) -> UserRegistered:
        if self.status is not None:
            raise DomainError("user_already_registered", f"user {cmd.user_id!r} already exists")
        return UserRegistered(cmd.user_id, cmd.name, cmd.email)

    @handles(ChangeEmail, emits=[EmailChanged])
    def change_email(self, cmd: ChangeEmail) -> EmailChanged | None:
        if self.status is None:
            raise DomainError("user_not_found", f"no user {cmd.user_id!r}")
        if cmd.email == self.email:
            return None  # already the address: nothing happened
        return EmailChanged(cmd.user_id, cmd.email)

    @applies(UserRegistered)
    def _registered(self, ev: UserRegistered) -> None:
        self.user_id, self.name, self.email = ev.user_id, ev.name, ev.email
        self.status = "registered"

    @applies(EmailChanged)
    def _email_changed(self, ev: EmailChanged) -> None:
        self.email = ev.email


router = Router("identity")
router.route(
    [RegisterUser, ChangeEmail],
    to=User,
    identity="user_id",
    prefix="user-",
    lifespan=KeepFor(timedelta(minutes=10)),
)
