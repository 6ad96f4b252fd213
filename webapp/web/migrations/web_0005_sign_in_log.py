"""web: the sign-in log (each attempt to sign in to the dashboard, kept for 90 days).

Revision ID: web_0005_sign_in_log
Revises: web_0004_access_control
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_0005_sign_in_log"
down_revision = "web_0004_access_control"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sign_ins",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("address", sa.String(64), nullable=False, server_default=""),
        sa.Column("browser", sa.String(200), nullable=False, server_default=""),
    )
    # entries past retention are deleted by time; one account's attempts are read newest first
    op.create_index("ix_web_sign_ins_at", "web_sign_ins", ["at"])
    op.create_index("ix_web_sign_ins_account", "web_sign_ins", ["account", "id"])


def downgrade() -> None:
    op.drop_index("ix_web_sign_ins_account", table_name="web_sign_ins")
    op.drop_index("ix_web_sign_ins_at", table_name="web_sign_ins")
    op.drop_table("web_sign_ins")
