"""Dashboard accounts, API tokens and one-time login links, kept beside the event store.

Passwords are stored as werkzeug scrypt hashes; API tokens and login-link tokens
are random strings of which only a SHA-256 digest is stored. The tables are
created by the Alembic branch "web" (webapp/web/migrations/).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

ROLES: tuple[str, ...] = ("viewer", "support", "admin")
LOGIN_LINK_SECONDS = 600

_metadata = sa.MetaData()
accounts_table = sa.Table(
    "web_accounts",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
tokens_table = sa.Table(
    "web_api_tokens",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_used_at", sa.Float, nullable=True),
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


class AccountError(ValueError):
    """A bad account name, role or password; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    role: str

    def has_role(self, required: str) -> bool:
        """True if this account's role is `required` or above (viewer < support < admin)."""
        return role_rank(self.role) >= role_rank(required)


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        msg = f"unknown role {role!r}; expected one of {', '.join(ROLES)}"
        raise AccountError(msg) from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        msg = "an account name must be 1 to 100 printable characters"
        raise AccountError(msg)
    return name


def _row_to_account(row: sa.Row | None) -> Account | None:
    if row is None:
        return None
    return Account(id=row.id, name=row.name, role=row.role)


class AccountBook:
    """Accounts and their credentials in the store's database (SQLAlchemy Core)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # --- accounts ---
    def get(self, name: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.name == name)
            ).first()
        return _row_to_account(row)

    def get_by_id(self, account_id: int) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.id == account_id)
            ).first()
        return _row_to_account(row)

    def ensure(self, name: str, role: str) -> Account:
        """Return the account `name`, creating it with `role` if it does not exist yet.

        An existing account keeps its name and gets `role`.
        """
        name = _check_name(name)
        role_rank(role)
        existing = self.get(name)
        if existing is not None:
            if existing.role != role:
                with self.engine.begin() as conn:
                    conn.execute(
                        accounts_table.update()
                        .where(accounts_table.c.id == existing.id)
                        .values(role=role)
                    )
                return Account(id=existing.id, name=existing.name, role=role)
            return existing
        with self.engine.begin() as conn:
            result = conn.execute(
                accounts_table.insert().values(name=name, role=role, created_at=time.time())
            )
            account_id = result.inserted_primary_key[0]
        return Account(id=account_id, name=name, role=role)

    def list(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts_table).order_by(accounts_table.c.name)).all()
        return [Account(id=r.id, name=r.name, role=r.role) for r in rows]

    # --- passwords ---
    def set_password(self, name: str, password: str) -> None:
        if len(password) < 8:
            msg = "a password needs at least 8 characters"
            raise AccountError(msg)
        with self.engine.begin() as conn:
            updated = conn.execute(
                accounts_table.update()
                .where(accounts_table.c.name == name)
                .values(password_hash=generate_password_hash(password, method="scrypt"))
            ).rowcount
        if updated != 1:
            msg = f"no account named {name!r}"
            raise AccountError(msg)

    def check_password(self, name: str, password: str) -> Account | None:
        """The account if `password` is its password, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.name == name)
            ).first()
        if row is None or not row.password_hash:
            # spend comparable time so a missing account is not revealed by timing
            check_password_hash(_dummy_hash(), password)
            return None
        if not check_password_hash(row.password_hash, password):
            return None
        return _row_to_account(row)

    # --- API tokens ---
    def create_token(self, name: str) -> str:
        """Issue a new API token for account `name`; only its digest is kept."""
        account = self.get(name)
        if account is None:
            msg = f"no account named {name!r}"
            raise AccountError(msg)
        token = "es_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                tokens_table.insert().values(
                    account_id=account.id, token_hash=_digest(token), created_at=time.time()
                )
            )
        return token

    def account_for_token(self, token: str) -> Account | None:
        if not token or len(token) > 200:
            return None
        digest = _digest(token)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(accounts_table)
                .join(tokens_table, tokens_table.c.account_id == accounts_table.c.id)
                .where(tokens_table.c.token_hash == digest)
            ).first()
            if row is not None:
                conn.execute(
                    tokens_table.update()
                    .where(tokens_table.c.token_hash == digest)
                    .values(last_used_at=time.time())
                )
        return _row_to_account(row)

    # --- one-time login links ---
    def create_login_token(self, name: str, *, ttl_seconds: float = LOGIN_LINK_SECONDS) -> str:
        """Issue a login token for account `name`, valid once within `ttl_seconds`."""
        account = self.get(name)
        if account is None:
            msg = f"no account named {name!r}"
            raise AccountError(msg)
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                login_links_table.insert().values(
                    account_id=account.id,
                    token_hash=_digest(token),
                    expires_at=time.time() + ttl_seconds,
                )
            )
        return token

    def redeem_login_token(self, token: str) -> Account | None:
        """The account of an unused, unexpired login token, marking it used; else None."""
        if not token or len(token) > 200:
            return None
        digest = _digest(token)
        now = time.time()
        with self.engine.begin() as conn:
            claimed = conn.execute(
                login_links_table.update()
                .where(
                    login_links_table.c.token_hash == digest,
                    login_links_table.c.used_at.is_(None),
                    login_links_table.c.expires_at > now,
                )
                .values(used_at=now)
            ).rowcount
            if claimed != 1:
                return None
            row = conn.execute(
                sa.select(accounts_table)
                .join(login_links_table, login_links_table.c.account_id == accounts_table.c.id)
                .where(login_links_table.c.token_hash == digest)
            ).first()
        return _row_to_account(row)


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method="scrypt")
