"""The row-level steps every part of the account book shares.

An account's row found and locked inside a write, changed, and turned into an
`Account`; each change to who may do what recorded in `web_account_changes`; stored
times read back as datetimes; the digest under which a token is stored.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from webapp.web.account_records import (
    CHANGE_ACTIONS,
    MAX_ACTOR,
    Account,
    AccountError,
    UnknownAccount,
    account_changes_table,
    accounts_table,
)

NEXT_EPOCH = accounts_table.c.session_epoch + 1
"""As a value for `session_epoch`: ends every browser session of the account."""


def token_digest(token: str) -> str:
    """What is stored of an API token or a login-link token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def moment(stamp: float | None) -> datetime | None:
    """A stored time (seconds since the epoch) as a UTC datetime."""
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def account_from_row(row: sa.Row | None) -> Account | None:
    if row is None:
        return None
    return Account(
        id=row.id,
        name=row.name,
        role=row.role,
        session_epoch=row.session_epoch,
        disabled=row.disabled_at is not None,
    )


def locked_account(
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


def update_account(conn: sa.Connection, row: sa.Row, **values: object) -> None:
    conn.execute(accounts_table.update().where(accounts_table.c.id == row.id).values(**values))


def record_change(
    conn: sa.Connection, actor: str, action: str, account: str, detail: str = ""
) -> None:
    """Write one change to an account in `conn`'s transaction (`action`: CHANGE_ACTIONS)."""
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
