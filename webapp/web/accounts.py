"""Dashboard accounts, API tokens and one-time login links, kept beside the event store.

Passwords are stored as werkzeug scrypt hashes; API tokens and login-link tokens
are random strings of which only a SHA-256 digest is stored (and, for API tokens,
their first characters as a hint). An account can be disabled, a token revoked
and every browser session of an account ended; each such change, and every
other change to who may do what, is recorded in `web_account_changes`. The
tables, records and limits are in webapp/web/account_records.py.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.database import reading, write_if_free
from webapp.web.account_records import (
    CHANGE_ACTIONS,
    IDLE_DAYS,
    LOGIN_LINK_SECONDS,
    MAX_ACTOR,
    MAX_TOKEN_LIFETIME,
    ROLES,
    TOKEN_HINT_LENGTH,
    TOKEN_TOUCH_SECONDS,
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
    login_links_table,
    role_rank,
    tokens_table,
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        msg = "an account name must be 1 to 100 printable characters"
        raise AccountError(msg)
    return name


def _moment(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def _row_to_account(row: sa.Row | None) -> Account | None:
    if row is None:
        return None
    return Account(
        id=row.id,
        name=row.name,
        role=row.role,
        session_epoch=row.session_epoch,
        disabled=row.disabled_at is not None,
    )


class AccountBook:
    """Accounts and their credentials in the store's database (SQLAlchemy Core).

    Every method that changes who may do what takes the `actor` doing it (an account
    name, or `cli:<login>` from the command line) and records the change.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # --- accounts ---
    def get(self, name: str) -> Account | None:
        with reading(self.engine) as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.name == name)
            ).first()
        return _row_to_account(row)

    def get_by_id(self, account_id: int) -> Account | None:
        with reading(self.engine) as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.id == account_id)
            ).first()
        return _row_to_account(row)

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
            _record(conn, actor, "created", name, f"role {role}")
        return Account(id=account_id, name=name, role=role)

    def set_role(self, name: str, role: str, *, actor: str) -> Account:
        role_rank(role)
        with self.engine.begin() as conn:
            row = _locked_account(conn, name)
            if row.role != role:
                _update_account(conn, row, role=role)
                _record(conn, actor, "role-changed", name, f"{row.role} -> {role}")
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
        return [_row_to_account(r) for r in rows]  # type: ignore[misc]

    def summaries(self, name: str | None = None) -> list[AccountSummary]:
        """Every account (or only `name`) with its credentials at a glance, by name."""
        active = _token_usable(time.time())
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
                created_at=_moment(r.created_at),  # type: ignore[arg-type]
                has_password=bool(r.password_hash),
                disabled_at=_moment(r.disabled_at),
                active_tokens=r.active_tokens or 0,
                last_used_at=_moment(r.token_last_used_at),
                last_sign_in_at=_moment(r.last_sign_in_at),
            )
            for r in rows
        ]

    def disable(self, name: str, *, actor: str, reason: str = "") -> None:
        """Refuse the account everywhere: its tokens, password, login links and open sessions."""
        with self.engine.begin() as conn:
            row = _locked_account(conn, name)
            if row.disabled_at is not None:
                msg = f"account {name!r} is already disabled"
                raise AccountError(msg)
            _update_account(conn, row, disabled_at=time.time(), session_epoch=_NEXT_EPOCH)
            _record(conn, actor, "disabled", name, reason)

    def enable(self, name: str, *, actor: str, reason: str = "") -> None:
        """Let a disabled account in again; its unrevoked tokens work again too."""
        with self.engine.begin() as conn:
            row = _locked_account(conn, name)
            if row.disabled_at is None:
                msg = f"account {name!r} is not disabled"
                raise AccountError(msg)
            _update_account(conn, row, disabled_at=None)
            _record(conn, actor, "enabled", name, reason)

    def end_sessions(self, name: str, *, actor: str) -> None:
        """Log every browser of account `name` out at its next request."""
        with self.engine.begin() as conn:
            row = _locked_account(conn, name)
            _update_account(conn, row, session_epoch=_NEXT_EPOCH)
            _record(conn, actor, "sessions-ended", name)

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
        if len(password) < 8:
            msg = "a password needs at least 8 characters"
            raise AccountError(msg)
        hashed = generate_password_hash(password, method="scrypt")
        with self.engine.begin() as conn:
            row = _locked_account(conn, name)
            _update_account(conn, row, password_hash=hashed, session_epoch=_NEXT_EPOCH)
            _record(conn, actor, "password-set", name)

    def check_password(self, name: str, password: str) -> Account | None:
        """The account if `password` is its password and it is not disabled, else None."""
        return self.sign_in_with_password(name, password).account

    def sign_in_with_password(self, name: str, password: str) -> SignInAttempt:
        """Check a password; the attempt says whom it signs in, or why it is refused."""
        with reading(self.engine) as conn:
            row = conn.execute(
                sa.select(accounts_table).where(accounts_table.c.name == name)
            ).first()
        if row is None or not row.password_hash:
            # spend comparable time so a missing account is not revealed by timing
            check_password_hash(_dummy_hash(), password)
            return SignInAttempt(None, name, "unknown-account" if row is None else "no-password")
        if not check_password_hash(row.password_hash, password):
            return SignInAttempt(None, name, "wrong-password")
        if row.disabled_at is not None:
            return SignInAttempt(None, name, "disabled")
        return SignInAttempt(_row_to_account(row), row.name, "signed-in")

    # --- API tokens ---
    def create_token(
        self, name: str, *, actor: str = "system", expires_in: timedelta | None = None
    ) -> str:
        """Issue a new API token for account `name`, refused after `expires_in` if given;
        only its digest and first characters are kept."""
        if expires_in is not None and not timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
            days = MAX_TOKEN_LIFETIME.days
            msg = f"a token's lifetime must be more than 0 and at most {days} days"
            raise AccountError(msg)
        token = "es_" + secrets.token_urlsafe(32)
        now = time.time()
        expires_at = None if expires_in is None else now + expires_in.total_seconds()
        with self.engine.begin() as conn:
            row = _locked_account(conn, name, enabled=True)
            result = conn.execute(
                tokens_table.insert().values(
                    account_id=row.id,
                    token_hash=_digest(token),
                    created_at=now,
                    expires_at=expires_at,
                    hint=token[:TOKEN_HINT_LENGTH],
                )
            )
            token_id = result.inserted_primary_key[0]
            detail = f"token {token_id}"
            if expires_at is not None:
                detail += f", expires {_moment(expires_at):%Y-%m-%d %H:%M} UTC"
            _record(conn, actor, "token-created", name, detail)
        return token

    def account_for_token(self, token: str) -> Account | None:
        """The account of an unrevoked, unexpired token whose account is not disabled."""
        if not token or len(token) > 200:
            return None
        digest = _digest(token)
        with reading(self.engine) as conn:
            row = conn.execute(
                sa.select(accounts_table, tokens_table.c.last_used_at.label("token_used_at"))
                .join(tokens_table, tokens_table.c.account_id == accounts_table.c.id)
                .where(
                    tokens_table.c.token_hash == digest,
                    _token_usable(now := time.time()),
                    accounts_table.c.disabled_at.is_(None),
                )
            ).first()
        if row is None:
            return None
        if row.token_used_at is None or now - row.token_used_at >= TOKEN_TOUCH_SECONDS:
            # bookkeeping: while another writer holds the lock, a later request records it
            touch = tokens_table.update().where(tokens_table.c.token_hash == digest)
            write_if_free(self.engine, lambda conn: conn.execute(touch.values(last_used_at=now)))
        return _row_to_account(row)

    def tokens(self, name: str | None = None) -> list[TokenInfo]:
        """API tokens, revoked ones too, by account name and then age (`name`: one account's)."""
        query = (
            sa.select(
                tokens_table,
                accounts_table.c.name.label("account"),
                accounts_table.c.disabled_at.label("account_disabled_at"),
            )
            .join(accounts_table, accounts_table.c.id == tokens_table.c.account_id)
            .order_by(accounts_table.c.name, tokens_table.c.id)
        )
        with reading(self.engine) as conn:
            if name is not None:
                _locked_account(conn, name, lock=False)  # a clear error for an unknown account
                query = query.where(accounts_table.c.name == name)
            rows = conn.execute(query).all()
        return [
            TokenInfo(
                id=r.id,
                account=r.account,
                hint=r.hint,
                created_at=_moment(r.created_at),  # type: ignore[arg-type]
                last_used_at=_moment(r.last_used_at),
                revoked_at=_moment(r.revoked_at),
                expires_at=_moment(r.expires_at),
                account_disabled=r.account_disabled_at is not None,
            )
            for r in rows
        ]

    def revoke_token(self, token_id: int, *, actor: str) -> TokenInfo:
        """Revoke one token by its id (as `tokens()` lists it); it is refused from now on."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(tokens_table, accounts_table.c.name.label("account"))
                .join(accounts_table, accounts_table.c.id == tokens_table.c.account_id)
                .where(tokens_table.c.id == token_id)
                .with_for_update(of=tokens_table)
            ).first()
            if row is None:
                msg = f"no API token with id {token_id}"
                raise UnknownToken(msg)
            if row.revoked_at is not None:
                msg = f"API token {token_id} is already revoked"
                raise AccountError(msg)
            now = time.time()
            if row.expires_at is not None and row.expires_at <= now:
                msg = f"API token {token_id} has already expired"
                raise AccountError(msg)
            conn.execute(
                tokens_table.update().where(tokens_table.c.id == token_id).values(revoked_at=now)
            )
            _record(conn, actor, "token-revoked", row.account, f"token {token_id}")
        return TokenInfo(
            id=row.id,
            account=row.account,
            hint=row.hint,
            created_at=_moment(row.created_at),  # type: ignore[arg-type]
            last_used_at=_moment(row.last_used_at),
            revoked_at=_moment(now),
            expires_at=_moment(row.expires_at),
        )

    def revoke_all_tokens(self, name: str, *, actor: str) -> int:
        """Revoke every active (unrevoked, unexpired) token of account `name`; returns how many."""
        with self.engine.begin() as conn:
            row = _locked_account(conn, name)
            ids = (
                conn.execute(
                    sa.select(tokens_table.c.id).where(
                        tokens_table.c.account_id == row.id, _token_usable(time.time())
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                conn.execute(
                    tokens_table.update()
                    .where(tokens_table.c.id.in_(ids))
                    .values(revoked_at=time.time())
                )
                listed = ", ".join(str(i) for i in ids)
                _record(conn, actor, "token-revoked", name, f"tokens {listed}"[:500])
        return len(ids)

    # --- one-time login links ---
    def create_login_token(
        self, name: str, *, ttl_seconds: float = LOGIN_LINK_SECONDS, actor: str = "system"
    ) -> str:
        """Issue a login token for account `name`, valid once within `ttl_seconds` (a
        credential: its issue is recorded, never the token)."""
        token = secrets.token_urlsafe(32)
        expires_at = time.time() + ttl_seconds
        with self.engine.begin() as conn:
            row = _locked_account(conn, name, enabled=True)
            conn.execute(
                login_links_table.insert().values(
                    account_id=row.id, token_hash=_digest(token), expires_at=expires_at
                )
            )
            detail = f"valid until {_moment(expires_at):%Y-%m-%d %H:%M} UTC"
            _record(conn, actor, "login-link-created", name, detail)
        return token

    def redeem_login_token(self, token: str) -> Account | None:
        """The account of an unused, unexpired login token, marking it used; else None.

        A disabled account's link is used up without logging anyone in.
        """
        attempt = self.sign_in_with_link(token)
        return attempt.account if attempt is not None else None

    def sign_in_with_link(self, token: str) -> SignInAttempt | None:
        """Redeem a one-time login token (see `redeem_login_token`); the attempt says whom it
        signs in or why it is refused. None for a token that was never issued."""
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
            row = conn.execute(
                sa.select(accounts_table, login_links_table.c.used_at.label("link_used_at"))
                .join(login_links_table, login_links_table.c.account_id == accounts_table.c.id)
                .where(login_links_table.c.token_hash == digest)
            ).first()
        if row is None:
            return None
        if claimed != 1:
            outcome = "link-used" if row.link_used_at is not None else "link-expired"
            return SignInAttempt(None, row.name, outcome)
        if row.disabled_at is not None:
            return SignInAttempt(None, row.name, "disabled")
        return SignInAttempt(_row_to_account(row), row.name, "signed-in")

    # --- the record of changes ---
    def summary(self, name: str) -> AccountSummary | None:
        found = self.summaries(name)
        return found[0] if found else None

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
                at=_moment(r.at),  # type: ignore[arg-type]
                actor=r.actor,
                action=r.action,
                account=r.account,
                detail=r.detail,
            )
            for r in rows
        ]


def _locked_account(
    conn: sa.Connection, name: str, *, enabled: bool = False, lock: bool = True
) -> sa.Row:
    """Account `name`'s row, locked until `conn`'s transaction ends (on PostgreSQL; SQLite's
    write transactions are serial anyway), or AccountError."""
    query = sa.select(accounts_table).where(accounts_table.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        msg = f"no account named {name!r}"
        raise UnknownAccount(msg)
    if enabled and row.disabled_at is not None:
        msg = f"account {name!r} is disabled; enable it first"
        raise AccountError(msg)
    return row


def _token_usable(now: float) -> sa.ColumnElement[bool]:
    """Neither revoked nor expired at `now`."""
    return sa.and_(
        tokens_table.c.revoked_at.is_(None),
        sa.or_(tokens_table.c.expires_at.is_(None), tokens_table.c.expires_at > now),
    )


_NEXT_EPOCH = accounts_table.c.session_epoch + 1
"""As a value for `session_epoch`: ends every browser session of the account."""


def _update_account(conn: sa.Connection, row: sa.Row, **values: object) -> None:
    conn.execute(accounts_table.update().where(accounts_table.c.id == row.id).values(**values))


def _record(conn: sa.Connection, actor: str, action: str, account: str, detail: str = "") -> None:
    if action not in CHANGE_ACTIONS:
        msg = f"unknown account change {action!r}"
        raise ValueError(msg)
    conn.execute(
        account_changes_table.insert().values(
            at=time.time(),
            actor=(actor or "system")[:MAX_ACTOR],
            action=action,
            account=account,
            detail=detail[:500],
        )
    )


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method="scrypt")


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
