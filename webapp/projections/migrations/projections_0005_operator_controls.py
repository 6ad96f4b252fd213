"""projections: operator controls: pauses, parked events (dead letters), the operator log,
and the position a reset replays from.

Revision ID: projections_0005
Revises: projections_0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0005"
down_revision = "projections_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projection_registry", sa.Column("rebuild_from", sa.BigInteger, nullable=True))
    op.create_table(
        "projection_pauses",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("paused_by", sa.String(200), nullable=False),
        sa.Column("paused_at", sa.Float, nullable=False),
    )
    op.create_table(
        "projection_dead_letters",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("event_type", sa.String(200), nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("parked_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("retry_requested_by", sa.String(200), nullable=True),
        sa.Column("retry_requested_at", sa.Float, nullable=True),
    )
    op.create_table(
        "projection_operator_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_projection_operator_log_name", "projection_operator_log", ["name"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_projection_operator_log_name", table_name="projection_operator_log")
    op.drop_table("projection_operator_log")
    op.drop_table("projection_dead_letters")
    op.drop_table("projection_pauses")
    with op.batch_alter_table("projection_registry") as batch:
        batch.drop_column("rebuild_from")
