"""projections: process-manager instances listed newest first, by status, or found by id.

Revision ID: projections_0003
Revises: projections_0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "projections_0003"
down_revision = "projections_0002"
branch_labels = None
depends_on = None

COLUMNS = ["updated_at", "process", "instance_id"]


def upgrade() -> None:
    # keyset pages of (updated_at, process, instance_id), newest first
    op.create_index("ix_process_instances_updated", "process_instances", COLUMNS)
    op.create_index(
        "ix_process_instances_status_updated", "process_instances", ["status", *COLUMNS]
    )
    # an instance by its id whatever its process (the primary key leads with the process)
    op.create_index("ix_process_instances_instance_id", "process_instances", ["instance_id"])


def downgrade() -> None:
    op.drop_index("ix_process_instances_instance_id", table_name="process_instances")
    op.drop_index("ix_process_instances_status_updated", table_name="process_instances")
    op.drop_index("ix_process_instances_updated", table_name="process_instances")
