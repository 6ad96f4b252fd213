"""Browser sessions kept on the server, so that logging out ends one for good.

The session cookie is signed but a copy of it stays valid as long as its signature
does; so each login also writes a row to `web_sessions` (Alembic revision
web_0006_browser_sessions) under the SHA-256 of a random session id that only the
cookie carries. Every request with a session cookie finds its account through that
row, in one read by primary key; logging out deletes the row, so a saved copy of the
cookie opens nothing. Ending all of an account's sessions at once (sign out
everywhere, disabling it, a new password) moves the account's session epoch instead,
which the same read compares.
"""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa

from webapp.database import reading
from webapp.web.account_records import Account, accounts_table
from webapp.web.account_rows import account_from_row, token_digest

_metadata = sa.MetaData()
sessions_table = sa.Table(
    "web_sessions",
    _metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
_accounts = accounts_table.to_metadata(_metadata)


class BrowserSessions:
    """The open browser sessions of the dashboard, in the store's database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def open(self, account: Account, *, lifetime_seconds: float) -> str:
        """Record a new session of `account`; returns its id, for the cookie only.

        Sessions past their lifetime are deleted on the way."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(sessions_table.delete().where(sessions_table.c.expires_at < now))
            conn.execute(
                sessions_table.insert().values(
                    id_hash=token_digest(session_id),
                    account_id=account.id,
                    created_at=now,
                    expires_at=now + lifetime_seconds,
                )
            )
        return session_id

    def account_for(self, session_id: str, account_id: int) -> Account | None:
        """The account of an open, unexpired session `session_id` of `account_id`; else None."""
        query = (
            sa.select(_accounts)
            .join(sessions_table, sessions_table.c.account_id == _accounts.c.id)
            .where(
                sessions_table.c.id_hash == token_digest(session_id),
                sessions_table.c.account_id == account_id,
                sessions_table.c.expires_at > time.time(),
            )
        )
        with reading(self.engine) as conn:
            return account_from_row(conn.execute(query).first())

    def close(self, session_id: str) -> None:
        """End one session: its cookie opens nothing from now on."""
        with self.engine.begin() as conn:
            conn.execute(
                sessions_table.delete().where(sessions_table.c.id_hash == token_digest(session_id))
            )
