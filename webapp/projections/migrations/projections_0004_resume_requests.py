"""projections: an operator's request to resume a stopped projection or process manager.

Revision ID: projections_0004
Revises: projections_0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0004"
down_revision = "projections_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_resume_requests",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("stopped_position", sa.BigInteger, nullable=False),
        sa.Column("skip", sa.Boolean, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("projection_resume_requests")
