"""projections: each unit's position and the log's head minute by minute, for the health page.

Revision ID: projections_0006
Revises: projections_0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0006"
down_revision = "projections_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_progress",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("minute", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("head", sa.BigInteger, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("projection_progress")
