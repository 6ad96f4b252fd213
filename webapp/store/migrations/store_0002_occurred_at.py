"""store: events.occurred_at, when each event happened (business time), indexed

Revision ID: store_0002
Revises: store_0001
Create Date: 2026-12-05

The column holds the metadata's `occurred_at` in UTC when it is a valid ISO time, else
the recorded time (webapp.store.business_time). Existing rows are filled in batches by
position, each batch its own statement, with the same parsing the append path uses.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from webapp.store.business_time import occurred_time

revision = "store_0002"
down_revision = "store_0001"
branch_labels = None
depends_on = None

BATCH = 5000
"""Rows filled per statement while backfilling."""


def upgrade() -> None:
    op.add_column("events", sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    _backfill(op.get_bind())
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_events_occurred_at", table_name="events")
    op.drop_column("events", "occurred_at")


def _backfill(conn: sa.Connection) -> None:
    sqlite = conn.dialect.name == "sqlite"
    stated = "json_extract(metadata, '$.occurred_at')" if sqlite else "metadata ->> 'occurred_at'"
    select = sa.text(
        f"SELECT position, {stated}, recorded_at FROM events "
        "WHERE position > :after ORDER BY position LIMIT :batch"
    )
    update = sa.text("UPDATE events SET occurred_at = :at WHERE position = :position")
    after = 0
    while True:
        rows = conn.execute(select, {"after": after, "batch": BATCH}).all()
        if not rows:
            return
        params = [
            _row_time(position, stated_at, recorded, sqlite)
            for position, stated_at, recorded in rows
        ]
        conn.execute(update, params)
        after = rows[-1][0]


def _row_time(position: int, stated: Any, recorded: Any, sqlite: bool) -> dict[str, Any]:
    at = occurred_time({"occurred_at": stated})
    if at is None:
        return {"position": position, "at": recorded}
    if sqlite:  # the store's own text form: fixed-width UTC, so text order is time order
        return {"position": position, "at": at.isoformat(" ", "microseconds")}
    return {"position": position, "at": at}
