"""store: streams, events and snapshots

Revision ID: store_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "store_0001"
down_revision = None
branch_labels = ("store",)
depends_on = None

# Positions: PostgreSQL draws them from a sequence under the append lock; SQLite uses the
# rowid (max + 1, no AUTOINCREMENT: events are never deleted, so positions never repeat,
# and one page less is written per commit).
# Stream ids compare byte-wise on both backends (SQLite's BINARY, PostgreSQL's "C"),
# so keyset paging and prefix ranges agree and use the indexes.
STREAM_ID = sa.String().with_variant(sa.String(collation="C"), "postgresql")
JSON_DOC = sa.Text().with_variant(postgresql.JSONB(), "postgresql")
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "streams",
        sa.Column("stream_id", STREAM_ID, primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_streams_updated_at", "streams", ["updated_at", "stream_id"])

    op.create_table(
        "events",
        sa.Column("position", POSITION, primary_key=True, autoincrement=True),
        sa.Column("stream_id", STREAM_ID, nullable=False),
        sa.Column("stream_version", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("metadata", JSON_DOC, nullable=False),
        sa.Column("correlation_id", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "ux_events_stream_version", "events", ["stream_id", "stream_version"], unique=True
    )
    op.create_index("ux_events_event_id", "events", ["event_id"], unique=True)
    op.create_index("ix_events_type_position", "events", ["type", "position"])
    # events without a correlation id or actor cost these indexes nothing
    for column in ("correlation_id", "actor"):
        op.create_index(
            f"ix_events_{column}_position",
            "events",
            [column, "position"],
            sqlite_where=sa.column(column).isnot(None),
            postgresql_where=sa.column(column).isnot(None),
        )
    op.create_index("ix_events_recorded_at", "events", ["recorded_at"])

    op.create_table(
        "snapshots",
        sa.Column("stream_id", STREAM_ID, primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("snapshot_version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("taken_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("snapshots")
    op.drop_table("events")
    op.drop_table("streams")
