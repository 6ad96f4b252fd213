"""projections: checkpoints, generations, status, errors, leases, process managers, timeouts.

Revision ID: projections_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0001"
down_revision = None
branch_labels = ("projections",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_registry",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("live_generation", sa.Integer, nullable=False),
        sa.Column("rebuild_generation", sa.Integer, nullable=True),
        sa.Column("rebuild_requested_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "projection_errors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("event_type", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_index("ix_projection_errors_name", "projection_errors", ["name"])
    op.create_table(
        "projection_status",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("head", sa.BigInteger, nullable=False),
        sa.Column("events_per_second", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("error_position", sa.BigInteger, nullable=True),
        sa.Column("rebuild_position", sa.BigInteger, nullable=True),
        sa.Column("rebuild_target", sa.BigInteger, nullable=True),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
    )
    op.create_table(
        "projection_leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "process_instances",
        sa.Column("process", sa.String(100), primary_key=True),
        sa.Column("instance_id", sa.String(200), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "process_timeouts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("instance_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("command_type", sa.String(200), nullable=False),
        sa.Column("command_data", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("fired_at", sa.Float, nullable=True),
        sa.UniqueConstraint("process", "instance_id", "name", name="uq_process_timeouts_key"),
    )
    op.create_index("ix_process_timeouts_due_at", "process_timeouts", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_process_timeouts_due_at", table_name="process_timeouts")
    op.drop_table("process_timeouts")
    op.drop_table("process_instances")
    op.drop_table("projection_leases")
    op.drop_table("projection_status")
    op.drop_index("ix_projection_errors_name", table_name="projection_errors")
    op.drop_table("projection_errors")
    op.drop_table("projection_checkpoints")
    op.drop_table("projection_registry")
