"""projections: a rebuild held for preview (it waits for an admin's switch or discard).

Revision ID: projections_0008
Revises: projections_0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0008"
down_revision = "projections_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projection_registry") as batch:
        # NULL or false: the rebuild switches in once caught up (as before)
        batch.add_column(sa.Column("rebuild_hold", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("hold_requested_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("preview_decision", sa.String(16), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(200), nullable=True))


def downgrade() -> None:
    """A held generation's tables stay behind (a rebuild started after the downgrade drops
    them when it reuses the generation number); its registry row then switches it in."""
    with op.batch_alter_table("projection_registry") as batch:
        batch.drop_column("decided_by")
        batch.drop_column("preview_decision")
        batch.drop_column("hold_requested_by")
        batch.drop_column("rebuild_hold")
