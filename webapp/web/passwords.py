"""Dashboard passwords: stored as werkzeug scrypt hashes, checked at the login form."""

from __future__ import annotations

import functools
import secrets

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.database import reading
from webapp.web.account_records import AccountError, SignInAttempt, accounts_table
from webapp.web.account_rows import (
    NEXT_EPOCH,
    account_from_row,
    locked_account,
    record_change,
    update_account,
)

MIN_LENGTH = 8


class Passwords:
    """The accounts' login passwords in the store's database (SQLAlchemy Core)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def set(self, name: str, password: str, *, actor: str) -> None:
        """Set account `name`'s password; every open browser session of the account ends."""
        if len(password) < MIN_LENGTH:
            msg = f"a password needs at least {MIN_LENGTH} characters"
            raise AccountError(msg)
        hashed = generate_password_hash(password, method="scrypt")
        with self.engine.begin() as conn:
            row = locked_account(conn, name)
            update_account(conn, row, password_hash=hashed, session_epoch=NEXT_EPOCH)
            record_change(conn, actor, "password-set", name)

    def sign_in(self, name: str, password: str) -> SignInAttempt:
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
        return SignInAttempt(account_from_row(row), row.name, "signed-in")


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method="scrypt")
