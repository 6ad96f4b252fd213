"""web: failed password logins, counted per account name and per client address.

Revision ID: web_0003_login_throttle
Revises: web_0002_review_notes
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_0003_login_throttle"
down_revision = "web_0002_review_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_login_failures",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failed_at", sa.Float, nullable=False),
        sa.Column("locked_until", sa.Float, nullable=False),
    )
    # stale counts are deleted as new failures come in
    op.create_index("ix_web_login_failures_last", "web_login_failures", ["last_failed_at"])


def downgrade() -> None:
    op.drop_index("ix_web_login_failures_last", table_name="web_login_failures")
    op.drop_table("web_login_failures")
