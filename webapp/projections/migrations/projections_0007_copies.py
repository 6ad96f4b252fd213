"""projections: milestones and scratch generations of read models (as-of reads).

Revision ID: projections_0007
Revises: projections_0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0007"
down_revision = "projections_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_copies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_projection_copies_name_kind_position",
        "projection_copies",
        ["name", "kind", "position"],
    )


def downgrade() -> None:
    """The copies' own read-model tables (generations from 1,000,000 up) stay behind."""
    op.drop_index("ix_projection_copies_name_kind_position", table_name="projection_copies")
    op.drop_table("projection_copies")
