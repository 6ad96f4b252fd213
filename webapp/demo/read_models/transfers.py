"""transfer_summary: one row per transfer with its outcome, for the dashboard's list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from webapp.database.upserts import upsert
from webapp.demo.bank import ACCOUNT_NUMBER
from webapp.demo.read_models._rows import as_int, iso, load_rows
from webapp.demo.transfers import TRANSFER_ID
from webapp.projections.projection import FailurePolicy, Projection, Tables, table_name
from webapp.store.types import RecordedEvent

STATUS_OF = {
    "TransferDebited": "debited",
    "TransferCreditStarted": "crediting",
    "TransferCompleted": "completed",
    "TransferTimedOut": "timed_out",
    "TransferFailed": "failed",
}


class TransferSummary(Projection):
    name = "transfer_summary"
    handles = frozenset({"TransferRequested", "TransferRefunded", *STATUS_OF})
    on_error = FailurePolicy("skip", max_attempts=3)

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "transfers": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("transfer_id", sa.String(TRANSFER_ID.max_length), primary_key=True),
                sa.Column("from_account", sa.String(ACCOUNT_NUMBER.max_length), nullable=True),
                sa.Column("to_account", sa.String(ACCOUNT_NUMBER.max_length), nullable=True),
                sa.Column("amount", sa.BigInteger, nullable=False),
                sa.Column("status", sa.String(16), nullable=False),
                sa.Column("refunded", sa.BigInteger, nullable=False),
                sa.Column("reason", sa.Text, nullable=True),
                sa.Column("requested_at", sa.String(40), nullable=True),
                sa.Column("updated_at", sa.String(40), nullable=False),
            )
        }

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        table = tables["transfers"]
        rows = load_rows(
            conn, table, "transfer_id", {str(e.data.get("transfer_id")) for e in events}
        )
        changed: dict[str, dict[str, Any]] = {}
        for event in events:
            transfer_id = str(event.data.get("transfer_id"))
            row = rows.get(transfer_id)
            if event.type == "TransferRequested":
                row = {
                    "transfer_id": transfer_id,
                    "from_account": event.data.get("from_account"),
                    "to_account": event.data.get("to_account"),
                    "amount": as_int(event.data.get("amount")),
                    "status": "requested",
                    "refunded": 0,
                    "reason": None,
                    "requested_at": iso(event.recorded_at),
                }
                rows[transfer_id] = row
            elif row is None:
                msg = f"{event.type} for transfer {transfer_id!r}, which was never requested"
                raise LookupError(msg)
            elif event.type == "TransferRefunded":
                row["refunded"] += as_int(event.data.get("amount"))
            else:
                row["status"] = STATUS_OF[event.type]
                if event.type == "TransferFailed":
                    row["reason"] = event.data.get("reason")
            row["updated_at"] = iso(event.recorded_at)
            changed[transfer_id] = row
        upsert(conn, table, list(changed.values()), ["transfer_id"])


COLUMNS = (
    "transfer_id",
    "from_account",
    "to_account",
    "amount",
    "status",
    "refunded",
    "reason",
    "requested_at",
    "updated_at",
)
"""The fields of a `transfer_row`, in the order a report writes them."""


def transfer_row(row: Any) -> dict[str, Any]:
    return {
        "transfer_id": row.transfer_id,
        "from_account": row.from_account,
        "to_account": row.to_account,
        "amount": int(row.amount),
        "status": row.status,
        "refunded": int(row.refunded),
        "reason": row.reason,
        "requested_at": row.requested_at,
        "updated_at": row.updated_at,
    }


def get_transfer(conn: sa.Connection, tables: Tables, transfer_id: str) -> dict[str, Any] | None:
    table = tables["transfers"]
    row = conn.execute(sa.select(table).where(table.c.transfer_id == transfer_id)).first()
    return None if row is None else transfer_row(row)


def page_transfers(
    conn: sa.Connection,
    tables: Tables,
    *,
    after: str | None = None,
    limit: int = 100,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Transfers in transfer-id order after `after` (the order `ReadModels.page` pages in)."""
    table = tables["transfers"]
    query = sa.select(table).order_by(table.c.transfer_id).limit(limit)
    if after is not None:
        query = query.where(table.c.transfer_id > after)
    if status is not None:
        query = query.where(table.c.status == status)
    return [transfer_row(r) for r in conn.execute(query)]


def list_transfers(
    conn: sa.Connection, tables: Tables, *, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    table = tables["transfers"]
    query = sa.select(table).order_by(table.c.requested_at.desc()).limit(limit)
    if status is not None:
        query = query.where(table.c.status == status)
    return [transfer_row(r) for r in conn.execute(query)]
