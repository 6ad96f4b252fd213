"""One-time login links: a random token, valid once for a few minutes, of which only a
SHA-256 digest is stored (table `web_login_links`)."""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa

from webapp.web.account_records import (
    LOGIN_LINK_SECONDS,
    SignInAttempt,
    accounts_table,
    login_links_table,
)
from webapp.web.account_rows import (
    account_from_row,
    locked_account,
    moment,
    record_change,
    token_digest,
)

MAX_TOKEN_LENGTH = 200
"""Longer tokens are not looked up: no token issued here is anywhere near as long."""


class LoginLinks:
    """The accounts' one-time login tokens in the store's database (SQLAlchemy Core)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def issue(self, name: str, *, actor: str, ttl_seconds: float = LOGIN_LINK_SECONDS) -> str:
        """A login token for enabled account `name`, valid once within `ttl_seconds` (a
        credential: its issue is recorded, never the token)."""
        token = secrets.token_urlsafe(32)
        expires_at = time.time() + ttl_seconds
        with self.engine.begin() as conn:
            row = locked_account(conn, name, enabled=True)
            conn.execute(
                login_links_table.insert().values(
                    account_id=row.id, token_hash=token_digest(token), expires_at=expires_at
                )
            )
            detail = f"valid until {moment(expires_at):%Y-%m-%d %H:%M} UTC"
            record_change(conn, actor, "login-link-created", name, detail)
        return token

    def sign_in(self, token: str) -> SignInAttempt | None:
        """Use up an unused, unexpired login token; the attempt says whom it signs in or why
        it is refused (a disabled account's link is used up without signing anyone in).
        None for a token that was never issued."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_digest(token)
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
        return SignInAttempt(account_from_row(row), row.name, "signed-in")
