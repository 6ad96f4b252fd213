"""web: review notes pinned to an event type, a stream or one event (not domain events).

Revision ID: web_0002_review_notes
Revises: web_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_0002_review_notes"
down_revision = "web_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_review_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("author_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_web_review_notes_target", "web_review_notes", ["kind", "target", "id"])
    op.create_index("ix_web_review_notes_session", "web_review_notes", ["session_name", "id"])


def downgrade() -> None:
    op.drop_index("ix_web_review_notes_session", table_name="web_review_notes")
    op.drop_index("ix_web_review_notes_target", table_name="web_review_notes")
    op.drop_table("web_review_notes")
