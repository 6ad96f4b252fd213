"""account_summary: one row per bank account (balance, status, owner).

Backs `GET /api/read/accounts/<account_number>`. An owner's accounts are data about
them: a subject access export includes their rows and their streams' events
(`export_subject`, `subject_positions`); forgetting the owner leaves the accounts
(money is not personal data to shred) under the owner's pseudonymous id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from webapp.database.upserts import upsert
from webapp.demo.bank import ACCOUNT_NUMBER
from webapp.demo.identity import USER_ID
from webapp.demo.read_models._rows import as_int, iso, load_rows
from webapp.projections.projection import FailurePolicy, Projection, Tables, table_name
from webapp.store.types import RecordedEvent

CREDITS = frozenset({"MoneyDeposited", "MoneyRefunded"})
DEBITS = frozenset({"MoneyWithdrawn"})


class AccountSummary(Projection):
    name = "account_summary"
    handles = frozenset({"BankAccountOpened", "BankAccountClosed"} | CREDITS | DEBITS)
    on_error = FailurePolicy("skip", max_attempts=3)
    refers_to_subjects = True

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        accounts = sa.Table(
            table_name(self.name, generation),
            metadata,
            sa.Column("account_number", sa.String(ACCOUNT_NUMBER.max_length), primary_key=True),
            sa.Column("owner_id", sa.String(USER_ID.max_length), nullable=True, index=True),
            sa.Column("balance", sa.BigInteger, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("transactions", sa.Integer, nullable=False),
            sa.Column("opened_at", sa.String(40), nullable=True),
            sa.Column("updated_at", sa.String(40), nullable=False),
            sa.Column("last_position", sa.BigInteger, nullable=False),
        )
        return {"accounts": accounts}

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        table = tables["accounts"]
        numbers = {str(e.data.get("account_number")) for e in events}
        rows = load_rows(conn, table, "account_number", numbers)
        changed: dict[str, dict[str, Any]] = {}
        for event in events:
            number = str(event.data.get("account_number"))
            row = rows.get(number)
            if event.type == "BankAccountOpened":
                row = {
                    "account_number": number,
                    "owner_id": event.data.get("owner_id"),
                    "balance": as_int(event.data.get("initial_balance")),
                    "status": "open",
                    "transactions": 0,
                    "opened_at": iso(event.recorded_at),
                }
                rows[number] = row
            elif row is None:
                msg = f"{event.type} for account {number!r}, which was never opened"
                raise LookupError(msg)
            elif event.type in CREDITS:
                row["balance"] += as_int(event.data.get("amount"))
                row["transactions"] += 1
            elif event.type in DEBITS:
                row["balance"] -= as_int(event.data.get("amount"))
                row["transactions"] += 1
            elif event.type == "BankAccountClosed":
                row["status"] = "closed"
            row["updated_at"] = event.recorded_at
            row["last_position"] = event.position
            changed[number] = row
        for row in changed.values():
            row["updated_at"] = iso(row["updated_at"])
        upsert(conn, table, list(changed.values()), ["account_number"])

    def export_subject(
        self, conn: sa.Connection, tables: Tables, subject_id: str
    ) -> list[dict[str, Any]]:
        return list_accounts(conn, tables, owner_id=subject_id, limit=10_000)

    def subject_positions(self, conn: sa.Connection, tables: Tables, subject_id: str) -> list[int]:
        """The latest event of each account the subject owns (in that account's stream)."""
        table = tables["accounts"]
        query = sa.select(table.c.last_position).where(table.c.owner_id == subject_id)
        return [int(p) for p in conn.execute(query).scalars()]


COLUMNS = (
    "account_number",
    "owner_id",
    "balance",
    "status",
    "transactions",
    "opened_at",
    "updated_at",
    "last_position",
)
"""The fields of an `account_row`, in the order a report writes them."""


def account_row(row: Any) -> dict[str, Any]:
    return {
        "account_number": row.account_number,
        "owner_id": row.owner_id,
        "balance": int(row.balance),
        "status": row.status,
        "transactions": int(row.transactions),
        "opened_at": row.opened_at,
        "updated_at": row.updated_at,
        "last_position": int(row.last_position),
    }


def get_account_summary(
    conn: sa.Connection, tables: Tables, account_number: str
) -> dict[str, Any] | None:
    table = tables["accounts"]
    row = conn.execute(sa.select(table).where(table.c.account_number == account_number)).first()
    return None if row is None else account_row(row)


def list_accounts(
    conn: sa.Connection,
    tables: Tables,
    *,
    after: str | None = None,
    limit: int = 100,
    owner_id: str | None = None,
) -> list[dict[str, Any]]:
    table = tables["accounts"]
    query = sa.select(table).order_by(table.c.account_number).limit(limit)
    if after is not None:
        query = query.where(table.c.account_number > after)
    if owner_id is not None:
        query = query.where(table.c.owner_id == owner_id)
    return [account_row(r) for r in conn.execute(query)]


def total_balance(conn: sa.Connection, tables: Tables) -> int:
    table = tables["accounts"]
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(table.c.balance), 0))).scalar())
