"""The account book: dashboard accounts and everything that lets them in, kept beside the
event store.

An account has a role and may have a password (webapp/web/passwords.py), one-time login
links (webapp/web/login_links.py) and API tokens (webapp/web/api_tokens.py). An account
can be disabled, a token revoked and every browser session of an account ended; each
such change, and every other change to who may do what, is recorded in
`web_account_changes`. The tables, records and limits are in
webapp/web/account_records.py.
"""

from __future__ import annotations

import time
from datetime import timedelta

import sqlalchemy as sa

from webapp.database import reading
from webapp.web.account_records import (
    IDLE_DAYS,
    LOGIN_LINK_SECONDS,
    ROLES,
    Account,
    AccountChange,
    AccountError,
    AccountSummary,
    SignInAttempt,
    TokenInfo,
    UnknownAccount,
    UnknownToken,
    account_changes_table,
    accounts_table,
    role_rank,
    tokens_table,
)
from webapp.web.account_rows import (
    NEXT_EPOCH,
    account_from_row,
    locked_account,
    moment,
    record_change,
    update_account,
)
from webapp.web.api_tokens import ApiTokens, token_usable
from webapp.web.login_links import LoginLinks
from webapp.web.passwords import Passwords
from webapp.web.token_cache import forget_tokens

MAX_NAME = 100


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        msg = f"an account name must be 1 to {MAX_NAME} printable characters"
        raise AccountError(msg)
    return name


class AccountBook:
    """Accounts and their credentials in the store's database (SQLAlchemy Core).

    Every method that changes who may do what takes the `actor` doing it (an account
    name, or `cli:<login>` from the command line) and records the change. Passwords,
    login links and API tokens are kept by `passwords`, `login_links` and `api_tokens`;
    the book's methods for them hand on to those.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.passwords = Passwords(engine)
        self.login_links = LoginLinks(engine)
        self.api_tokens = ApiTokens(engine)

    # --- accounts ---
    def get(self, name: str) -> Account | None:
        with reading(self.engine) as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.name == name)
            ).first()
        return account_from_row(row)

    def get_by_id(self, account_id: int) -> Account | None:
        with reading(self.engine) as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.id == account_id)
            ).first()
        return account_from_row(row)

    def ensure(self, name: str, role: str, *, actor: str = "system") -> Account:
        """Return the account `name`, creating it with `role` if it does not exist yet.

        An existing account keeps its name and gets `role`.
        """
        name = _check_name(name)
        role_rank(role)
        existing = self.get(name)
        if existing is not None:
            if existing.role != role:
                return self.set_role(name, role, actor=actor)
            return existing
        with self.engine.begin() as conn:
            result = conn.execute(
                accounts_table.insert().values(name=name, role=role, created_at=time.time())
            )
            account_id = result.inserted_primary_key[0]
            record_change(conn, actor, "created", name, f"role {role}")
        return Account(id=account_id, name=name, role=role)

    def set_role(self, name: str, role: str, *, actor: str) -> Account:
        role_rank(role)
        with self.engine.begin() as conn:
            row = locked_account(conn, name)
            if row.role != role:
                update_account(conn, row, role=role)
                record_change(conn, actor, "role-changed", name, f"{row.role} -> {role}")
        forget_tokens()
        return Account(
            id=row.id,
            name=row.name,
            role=role,
            session_epoch=row.session_epoch,
            disabled=row.disabled_at is not None,
        )

    def list(self) -> list[Account]:
        with reading(self.engine) as conn:
            rows = conn.execute(sa.select(accounts_table).order_by(accounts_table.c.name)).all()
        return [account_from_row(r) for r in rows]  # type: ignore[misc]

    def summaries(self, name: str | None = None) -> list[AccountSummary]:
        """Every account (or only `name`) with its credentials at a glance, by name."""
        active = token_usable(time.time())
        token_counts = (
            sa.select(
                tokens_table.c.account_id,
                sa.func.count().filter(active).label("active_tokens"),
                sa.func.max(tokens_table.c.last_used_at).label("last_used_at"),
            )
            .group_by(tokens_table.c.account_id)
            .subquery()
        )
        query = (
            sa.select(
                accounts_table,
                token_counts.c.active_tokens,
                token_counts.c.last_used_at.label("token_last_used_at"),
            )
            .outerjoin(token_counts, token_counts.c.account_id == accounts_table.c.id)
            .order_by(accounts_table.c.name)
        )
        if name is not None:
            query = query.where(accounts_table.c.name == name)
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
        return [
            AccountSummary(
                name=r.name,
                role=r.role,
                created_at=moment(r.created_at),  # type: ignore[arg-type]
                has_password=bool(r.password_hash),
                disabled_at=moment(r.disabled_at),
                active_tokens=r.active_tokens or 0,
                last_used_at=moment(r.token_last_used_at),
                last_sign_in_at=moment(r.last_sign_in_at),
            )
            for r in rows
        ]

    def summary(self, name: str) -> AccountSummary | None:
        found = self.summaries(name)
        return found[0] if found else None

    def disable(self, name: str, *, actor: str, reason: str = "") -> None:
        """Refuse the account everywhere: its tokens, password, login links and open sessions."""
        with self.engine.begin() as conn:
            row = locked_account(conn, name)
            if row.disabled_at is not None:
                msg = f"account {name!r} is already disabled"
                raise AccountError(msg)
            update_account(conn, row, disabled_at=time.time(), session_epoch=NEXT_EPOCH)
            record_change(conn, actor, "disabled", name, reason)
        forget_tokens()

    def enable(self, name: str, *, actor: str, reason: str = "") -> None:
        """Let a disabled account in again; its unrevoked tokens work again too."""
        with self.engine.begin() as conn:
            row = locked_account(conn, name)
            if row.disabled_at is None:
                msg = f"account {name!r} is not disabled"
                raise AccountError(msg)
            update_account(conn, row, disabled_at=None)
            record_change(conn, actor, "enabled", name, reason)
        forget_tokens()

    def end_sessions(self, name: str, *, actor: str) -> None:
        """Log every browser of account `name` out at its next request."""
        with self.engine.begin() as conn:
            row = locked_account(conn, name)
            update_account(conn, row, session_epoch=NEXT_EPOCH)
            record_change(conn, actor, "sessions-ended", name)
        forget_tokens()

    def record_sign_in(self, account: Account) -> None:
        """Note that `account` just signed in to the dashboard (shown to admins)."""
        with self.engine.begin() as conn:
            conn.execute(
                accounts_table.update()
                .where(accounts_table.c.id == account.id)
                .values(last_sign_in_at=time.time())
            )

    # --- passwords ---
    def set_password(self, name: str, password: str, *, actor: str = "system") -> None:
        """Set the login password; every open browser session of the account ends."""
        self.passwords.set(name, password, actor=actor)

    def check_password(self, name: str, password: str) -> Account | None:
        """The account if `password` is its password and it is not disabled, else None."""
        return self.sign_in_with_password(name, password).account

    def sign_in_with_password(self, name: str, password: str) -> SignInAttempt:
        """Check a password; the attempt says whom it signs in, or why it is refused."""
        return self.passwords.sign_in(name, password)

    # --- API tokens ---
    def create_token(
        self, name: str, *, actor: str = "system", expires_in: timedelta | None = None
    ) -> str:
        """Issue a new API token for account `name`, refused after `expires_in` if given;
        only its digest and first characters are kept."""
        return self.api_tokens.issue(name, actor=actor, expires_in=expires_in)

    def account_for_token(self, token: str) -> Account | None:
        """The account of an unrevoked, unexpired token whose account is not disabled."""
        return self.api_tokens.account_for(token)

    def tokens(self, name: str | None = None) -> list[TokenInfo]:
        """API tokens, revoked ones too, by account name and then age (`name`: one account's)."""
        return self.api_tokens.listed(name)

    def revoke_token(self, token_id: int, *, actor: str) -> TokenInfo:
        """Revoke one token by its id (as `tokens()` lists it); it is refused from now on."""
        return self.api_tokens.revoke(token_id, actor=actor)

    def revoke_all_tokens(self, name: str, *, actor: str) -> int:
        """Revoke every active (unrevoked, unexpired) token of account `name`; returns how many."""
        return self.api_tokens.revoke_all(name, actor=actor)

    # --- one-time login links ---
    def create_login_token(
        self, name: str, *, ttl_seconds: float = LOGIN_LINK_SECONDS, actor: str = "system"
    ) -> str:
        """Issue a login token for account `name`, valid once within `ttl_seconds` (a
        credential: its issue is recorded, never the token)."""
        return self.login_links.issue(name, actor=actor, ttl_seconds=ttl_seconds)

    def redeem_login_token(self, token: str) -> Account | None:
        """The account of an unused, unexpired login token, marking it used; else None.

        A disabled account's link is used up without logging anyone in.
        """
        attempt = self.sign_in_with_link(token)
        return attempt.account if attempt is not None else None

    def sign_in_with_link(self, token: str) -> SignInAttempt | None:
        """Redeem a one-time login token (see `redeem_login_token`); the attempt says whom it
        signs in or why it is refused. None for a token that was never issued."""
        return self.login_links.sign_in(token)

    # --- the record of changes ---
    def changes(
        self, *, limit: int = 100, account: str | None = None, before: int | None = None
    ) -> list[AccountChange]:
        """The newest changes to accounts first (at most `limit`; `before`: ids below it)."""
        query = (
            sa.select(account_changes_table)
            .order_by(account_changes_table.c.id.desc())
            .limit(max(1, min(limit, 1000)))
        )
        if account is not None:
            query = query.where(account_changes_table.c.account == account)
        if before is not None:
            query = query.where(account_changes_table.c.id < before)
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
        return [
            AccountChange(
                id=r.id,
                at=moment(r.at),  # type: ignore[arg-type]
                actor=r.actor,
                action=r.action,
                account=r.account,
                detail=r.detail,
            )
            for r in rows
        ]


__all__ = [
    "IDLE_DAYS",
    "LOGIN_LINK_SECONDS",
    "ROLES",
    "Account",
    "AccountBook",
    "AccountChange",
    "AccountError",
    "AccountSummary",
    "SignInAttempt",
    "TokenInfo",
    "UnknownAccount",
    "UnknownToken",
    "role_rank",
]
