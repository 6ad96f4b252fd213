"""What the account book keeps and hands out: its tables, its records, roles and limits.

The tables are created by the Alembic branch "web" (webapp/web/migrations/); the
records are what `AccountBook` (webapp/web/accounts.py) returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

ROLES: tuple[str, ...] = ("viewer", "support", "admin")
LOGIN_LINK_SECONDS = 600
TOKEN_TOUCH_SECONDS = 60
"""A token's `last_used_at` is written at most once a minute, not on every request."""
TOKEN_HINT_LENGTH = 8
MAX_TOKEN_LIFETIME = timedelta(days=3650)
IDLE_DAYS = 90
"""The Staff accounts page marks active accounts unused for this long."""
CHANGE_ACTIONS: tuple[str, ...] = (
    "created",
    "role-changed",
    "password-set",
    "token-created",
    "token-revoked",
    "login-link-created",
    "disabled",
    "enabled",
    "sessions-ended",
)
MAX_ACTOR = 200
SIGN_IN_OUTCOMES: tuple[str, ...] = (
    "signed-in",
    "wrong-password",
    "unknown-account",
    "no-password",
    "disabled",
    "link-used",
    "link-expired",
)
"""How a sign-in attempt ended; every one but the first is a refusal."""

_metadata = sa.MetaData()
accounts_table = sa.Table(
    "web_accounts",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("disabled_at", sa.Float, nullable=True),
    sa.Column("last_sign_in_at", sa.Float, nullable=True),
    sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
)
tokens_table = sa.Table(
    "web_api_tokens",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float, nullable=True),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("hint", sa.String(16), nullable=True),
)
login_links_table = sa.Table(
    "web_login_links",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)
account_changes_table = sa.Table(
    "web_account_changes",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("account", sa.String(100), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
)


class AccountError(ValueError):
    """A bad account name, role, password or token id; nothing was changed."""


class UnknownAccount(AccountError):
    """No account has that name."""


class UnknownToken(AccountError):
    """No API token has that id."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    role: str
    session_epoch: int = 0
    disabled: bool = False

    def has_role(self, required: str) -> bool:
        """True if this account's role is `required` or above (viewer < support < admin)."""
        return role_rank(self.role) >= role_rank(required)


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """What a password or a login link came to: the account it signs in (None if refused),
    the account name concerned (as typed, or the link's account) and the outcome."""

    account: Account | None
    name: str
    outcome: str


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One account as the admin page and `eventscope accounts list` show it."""

    name: str
    role: str
    created_at: datetime
    has_password: bool
    disabled_at: datetime | None
    active_tokens: int
    last_used_at: datetime | None
    """When one of its API tokens was last used."""
    last_sign_in_at: datetime | None = None
    """When it last signed in to the dashboard (password or one-time link)."""

    def idle_since(self, since: datetime) -> bool:
        """An active account made before `since` that has neither signed in nor used a
        token since then (a candidate for disabling in a review of who needs access)."""
        if self.disabled_at is not None or self.created_at >= since:
            return False
        return all(
            used is None or used < since for used in (self.last_sign_in_at, self.last_used_at)
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "state": "disabled" if self.disabled_at else "active",
            "created_at": _iso(self.created_at),
            "has_password": self.has_password,
            "disabled_at": _iso(self.disabled_at),
            "active_tokens": self.active_tokens,
            "last_used_at": _iso(self.last_used_at),
            "last_sign_in_at": _iso(self.last_sign_in_at),
        }


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token's record: never the token itself, only its first characters."""

    id: int
    account: str
    hint: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None = None
    account_disabled: bool = False

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)

    @property
    def active(self) -> bool:
        """Neither revoked nor expired (while its account is disabled, it is still refused)."""
        return self.revoked_at is None and not self.expired

    @property
    def state(self) -> str:
        """revoked, expired, refused (its account is disabled) or active."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expired:
            return "expired"
        return "refused" if self.account_disabled else "active"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "account": self.account,
            "starts_with": self.hint,
            "state": self.state,
            "created_at": _iso(self.created_at),
            "last_used_at": _iso(self.last_used_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
        }


@dataclass(frozen=True, slots=True)
class AccountChange:
    id: int
    at: datetime
    actor: str
    action: str
    account: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "account": self.account,
            "detail": self.detail,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        msg = f"unknown role {role!r}; expected one of {', '.join(ROLES)}"
        raise AccountError(msg) from None
