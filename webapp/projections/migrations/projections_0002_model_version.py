"""projections: the handler version each projection's live generation was built with.

Revision ID: projections_0002
Revises: projections_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0002"
down_revision = "projections_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: built before versions were recorded, i.e. version 1.
    op.add_column("projection_registry", sa.Column("model_version", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projection_registry") as batch:
        batch.drop_column("model_version")
