"""store: the earliest time on each clock per block of positions, for dates turned into positions

Revision ID: store_0004
Revises: store_0003
Create Date: 2026-12-06

`event_clock_blocks` holds, for every block of CLOCK_BLOCK positions the index holds, the
earliest `recorded_at` and `occurred_at` in it. The last event before a date is then found
by walking the blocks down from the top to the first one with an earlier time, and reading
that block alone (webapp.store.event_store.EventStore.last_position_before), not the log.
The index builder keeps the table in the same transaction as `event_index`.

Upgrade: filled from `event_index` in one statement. Downgrade: the table is dropped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "store_0004"
down_revision = "store_0003"
branch_labels = None
depends_on = None

CLOCK_BLOCK = 1024
"""As webapp.store.indexer.CLOCK_BLOCK when this revision was written."""
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_clock_blocks",
        sa.Column("block", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("recorded_min", TIMESTAMP, nullable=True),
        sa.Column("occurred_min", TIMESTAMP, nullable=True),
    )
    op.get_bind().execute(
        sa.text(
            "INSERT INTO event_clock_blocks (block, recorded_min, occurred_min) "
            f"SELECT position / {CLOCK_BLOCK}, MIN(recorded_at), MIN(occurred_at) "
            f"FROM event_index GROUP BY position / {CLOCK_BLOCK}"
        )
    )


def downgrade() -> None:
    op.drop_table("event_clock_blocks")
