"""privacy: subject keys, blind index, stream links and the PII access log.

Revision ID: privacy_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "privacy_0001"
down_revision = None
branch_labels = ("privacy",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "privacy_subjects",
        sa.Column("subject_id", sa.String(200), primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
        sa.Column("key_epoch", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("forgotten_at", sa.Float, nullable=True),
        sa.Column("forgotten_reason", sa.Text, nullable=True),
        sa.Column("forgotten_by", sa.String(200), nullable=True),
    )
    op.create_table(
        "privacy_subject_streams",
        sa.Column("subject_id", sa.String(200), primary_key=True),
        sa.Column("stream_id", sa.String(200), primary_key=True),
    )
    op.create_table(
        "privacy_subject_lookup",
        sa.Column("hmac", sa.String(64), primary_key=True),
        sa.Column("subject_id", sa.String(200), primary_key=True),
    )
    op.create_index("ix_privacy_subject_lookup_subject", "privacy_subject_lookup", ["subject_id"])
    op.create_table(
        "privacy_access_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("what", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_privacy_access_log_subject", "privacy_access_log", ["subject_id", "id"])
    op.create_index("ix_privacy_access_log_actor", "privacy_access_log", ["actor", "id"])


def downgrade() -> None:
    op.drop_table("privacy_access_log")
    op.drop_table("privacy_subject_lookup")
    op.drop_table("privacy_subject_streams")
    op.drop_table("privacy_subjects")
    op.drop_table("privacy_meta")
