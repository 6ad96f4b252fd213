"""API tokens: random strings of which only a SHA-256 digest and the first characters are
stored (table `web_api_tokens`); one may expire, and each can be revoked."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import sqlalchemy as sa

from webapp.database import reading, write_if_free
from webapp.web.account_records import (
    MAX_TOKEN_LIFETIME,
    TOKEN_HINT_LENGTH,
    TOKEN_TOUCH_SECONDS,
    Account,
    AccountError,
    TokenInfo,
    UnknownToken,
    accounts_table,
    tokens_table,
)
from webapp.web.account_rows import (
    account_from_row,
    locked_account,
    moment,
    record_change,
    token_digest,
)
from webapp.web.token_cache import PROCESS_CACHE, TokenCache, forget_tokens

PREFIX = "es_"
MAX_TOKEN_LENGTH = 200
"""Longer tokens are not looked up: no token issued here is anywhere near as long."""


class ApiTokens:
    """The accounts' API tokens in the store's database (SQLAlchemy Core)."""

    def __init__(self, engine: sa.Engine, cache: TokenCache = PROCESS_CACHE) -> None:
        self.engine = engine
        self.cache = cache
        self._database = str(engine.url)

    def issue(self, name: str, *, actor: str, expires_in: timedelta | None = None) -> str:
        """A new token for enabled account `name`, refused after `expires_in` if given."""
        if expires_in is not None and not timedelta(0) < expires_in <= MAX_TOKEN_LIFETIME:
            days = MAX_TOKEN_LIFETIME.days
            msg = f"a token's lifetime must be more than 0 and at most {days} days"
            raise AccountError(msg)
        token = PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        expires_at = None if expires_in is None else now + expires_in.total_seconds()
        with self.engine.begin() as conn:
            row = locked_account(conn, name, enabled=True)
            result = conn.execute(
                tokens_table.insert().values(
                    account_id=row.id,
                    token_hash=token_digest(token),
                    created_at=now,
                    expires_at=expires_at,
                    hint=token[:TOKEN_HINT_LENGTH],
                )
            )
            token_id = result.inserted_primary_key[0]
            detail = f"token {token_id}"
            if expires_at is not None:
                detail += f", expires {moment(expires_at):%Y-%m-%d %H:%M} UTC"
            record_change(conn, actor, "token-created", name, detail)
        return token

    def account_for(self, token: str) -> Account | None:
        """The account of an unrevoked, unexpired token whose account is not disabled (a
        revocation or account change made by another process is seen within
        `TOKEN_CACHE_SECONDS`; one made here, at once: see `webapp.web.token_cache`)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_digest(token)
        cached = self.cache.get(self._database, digest)
        if cached is not None:
            return cached
        generation = self.cache.generation()
        with reading(self.engine) as conn:
            row = conn.execute(
                sa.select(
                    accounts_table,
                    tokens_table.c.last_used_at.label("token_used_at"),
                    tokens_table.c.expires_at.label("token_expires_at"),
                )
                .join(tokens_table, tokens_table.c.account_id == accounts_table.c.id)
                .where(
                    tokens_table.c.token_hash == digest,
                    token_usable(now := time.time()),
                    accounts_table.c.disabled_at.is_(None),
                )
            ).first()
        if row is None:
            return None
        touched = True
        if row.token_used_at is None or now - row.token_used_at >= TOKEN_TOUCH_SECONDS:
            # bookkeeping: while another writer holds the lock, a later request records it
            touch = tokens_table.update().where(tokens_table.c.token_hash == digest)
            touched = write_if_free(
                self.engine, lambda conn: conn.execute(touch.values(last_used_at=now))
            )
        account = account_from_row(row)
        if account is not None and touched:  # else the next request looks up and touches
            self.cache.put(self._database, digest, account, row.token_expires_at, generation)
        return account

    def listed(self, name: str | None = None) -> list[TokenInfo]:
        """Tokens, revoked ones too, by account name and then age (`name`: one account's)."""
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
                locked_account(conn, name, lock=False)  # a clear error for an unknown account
                query = query.where(accounts_table.c.name == name)
            rows = conn.execute(query).all()
        return [
            TokenInfo(
                id=r.id,
                account=r.account,
                hint=r.hint,
                created_at=moment(r.created_at),  # type: ignore[arg-type]
                last_used_at=moment(r.last_used_at),
                revoked_at=moment(r.revoked_at),
                expires_at=moment(r.expires_at),
                account_disabled=r.account_disabled_at is not None,
            )
            for r in rows
        ]

    def revoke(self, token_id: int, *, actor: str) -> TokenInfo:
        """Revoke one token by its id (as `listed()` gives it); it is refused from now on."""
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
            record_change(conn, actor, "token-revoked", row.account, f"token {token_id}")
        forget_tokens()
        return TokenInfo(
            id=row.id,
            account=row.account,
            hint=row.hint,
            created_at=moment(row.created_at),  # type: ignore[arg-type]
            last_used_at=moment(row.last_used_at),
            revoked_at=moment(now),
            expires_at=moment(row.expires_at),
        )

    def revoke_all(self, name: str, *, actor: str) -> int:
        """Revoke every active (unrevoked, unexpired) token of account `name`; returns how many."""
        with self.engine.begin() as conn:
            row = locked_account(conn, name)
            ids = (
                conn.execute(
                    sa.select(tokens_table.c.id).where(
                        tokens_table.c.account_id == row.id, token_usable(time.time())
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
                record_change(conn, actor, "token-revoked", name, f"tokens {listed}"[:500])
        forget_tokens()
        return len(ids)


def token_usable(now: float) -> sa.ColumnElement[bool]:
    """Neither revoked nor expired at `now`."""
    return sa.and_(
        tokens_table.c.revoked_at.is_(None),
        sa.or_(tokens_table.c.expires_at.is_(None), tokens_table.c.expires_at > now),
    )
