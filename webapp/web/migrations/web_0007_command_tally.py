"""web: commands dispatched through the dashboard and the API, counted per minute and outcome.

Revision ID: web_0007_command_tally
Revises: web_0006_browser_sessions
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_0007_command_tally"
down_revision = "web_0006_browser_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_command_tally",
        sa.Column("minute", sa.Integer, primary_key=True),
        sa.Column("outcome", sa.String(16), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_command_tally")
