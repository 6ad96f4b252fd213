"""privacy: reveals (personal data shown on purpose, for a while) and the access log's purpose.

Revision ID: privacy_0002
Revises: privacy_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "privacy_0002"
down_revision = "privacy_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("privacy_access_log") as batch:
        batch.add_column(sa.Column("purpose", sa.Text, nullable=False, server_default=""))
    op.create_table(
        "privacy_reveals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("field", sa.String(200), nullable=False, server_default=""),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("granted_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_privacy_reveals_actor", "privacy_reveals", ["actor", "expires_at"])


def downgrade() -> None:
    op.drop_table("privacy_reveals")
    with op.batch_alter_table("privacy_access_log") as batch:
        batch.drop_column("purpose")
