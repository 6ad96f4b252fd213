"""web: disabled accounts, revoked and expiring tokens, signing out everywhere, a log of changes.

Revision ID: web_0004_access_control
Revises: web_0003_login_throttle
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_0004_access_control"
down_revision = "web_0003_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("web_accounts", sa.Column("disabled_at", sa.Float, nullable=True))
    op.add_column("web_accounts", sa.Column("last_sign_in_at", sa.Float, nullable=True))
    # a browser session carries the epoch it was opened in; bumping it ends them all
    op.add_column(
        "web_accounts",
        sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column("web_api_tokens", sa.Column("revoked_at", sa.Float, nullable=True))
    op.add_column("web_api_tokens", sa.Column("expires_at", sa.Float, nullable=True))
    # the first characters of the token, so that its owner can tell which one it is
    op.add_column("web_api_tokens", sa.Column("hint", sa.String(16), nullable=True))
    op.create_index("ix_web_api_tokens_account", "web_api_tokens", ["account_id"])
    op.create_table(
        "web_account_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    )


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35): a batch copy would drop and recreate
    # web_accounts, and the drop would cascade to every API token
    op.drop_table("web_account_changes")
    op.drop_index("ix_web_api_tokens_account", table_name="web_api_tokens")
    op.drop_column("web_api_tokens", "hint")
    op.drop_column("web_api_tokens", "expires_at")
    op.drop_column("web_api_tokens", "revoked_at")
    op.drop_column("web_accounts", "session_epoch")
    op.drop_column("web_accounts", "last_sign_in_at")
    op.drop_column("web_accounts", "disabled_at")
