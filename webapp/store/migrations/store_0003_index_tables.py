"""store: a slim commit path; the log's indexes move to tables the index builder keeps

Revision ID: store_0003
Revises: store_0002
Create Date: 2026-12-05

An append now writes the event row and the unique (stream_id, stream_version) index
entry, nothing else. What readers filter on (event type, correlation id, actor, the two
clocks, event id) moves to `event_index`, and `streams` is kept by the index builder
(webapp.store.indexer), both filled from the log in position order up to the mark in
`index_progress`.

Upgrade: the table is filled from the existing events in batches (progress is logged to
`eventscope.migrate`), then its indexes are built; the streams table is already exact,
so the mark starts at the head. Downgrade: the events' own indexes come back, the
streams rows are brought up to the head, and the index tables are dropped.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "store_0003"
down_revision = "store_0002"
branch_labels = None
depends_on = None

BATCH = 50_000
"""Events copied per statement while filling the index table."""
POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
MOVED_INDEXES = (
    "ux_events_event_id",
    "ix_events_type_position",
    "ix_events_correlation_id_position",
    "ix_events_actor_position",
    "ix_events_recorded_at",
    "ix_events_occurred_at",
)
log = logging.getLogger("eventscope.migrate")


def upgrade() -> None:
    conn = op.get_bind()
    for name in MOVED_INDEXES:
        op.drop_index(name, table_name="events")
    op.create_table(
        "event_index",
        sa.Column("position", POSITION, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("correlation_id", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("occurred_at", TIMESTAMP, nullable=True),
    )
    op.create_table(
        "index_progress",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
    )
    head = _fill_index(conn)
    create_index_table_indexes()
    conn.execute(
        sa.text("INSERT INTO index_progress (name, position) VALUES ('events', :head)"),
        {"head": head},
    )


def create_index_table_indexes() -> None:
    """The indexes readers use, on `event_index` (built after a bulk fill: faster)."""
    op.create_index("ix_event_index_event_id", "event_index", ["event_id"])
    op.create_index("ix_event_index_type_position", "event_index", ["type", "position"])
    for column in ("correlation_id", "actor"):
        op.create_index(
            f"ix_event_index_{column}_position",
            "event_index",
            [column, "position"],
            sqlite_where=sa.column(column).isnot(None),
            postgresql_where=sa.column(column).isnot(None),
        )
    op.create_index("ix_event_index_recorded_at", "event_index", ["recorded_at"])
    op.create_index("ix_event_index_occurred_at", "event_index", ["occurred_at"])


def _fill_index(conn: sa.Connection) -> int:
    head = int(conn.execute(sa.text("SELECT COALESCE(MAX(position), 0) FROM events")).scalar())
    total = int(conn.execute(sa.text("SELECT COUNT(*) FROM events")).scalar())
    copy = sa.text(
        "INSERT INTO event_index "
        "(position, event_id, type, correlation_id, actor, recorded_at, occurred_at) "
        "SELECT position, event_id, type, correlation_id, actor, recorded_at, "
        "COALESCE(occurred_at, recorded_at) FROM events "
        "WHERE position > :after AND position <= :upto ORDER BY position"
    )
    done = 0
    after = 0
    while after < head:
        upto = min(after + BATCH, head)
        done += conn.execute(copy, {"after": after, "upto": upto}).rowcount
        after = upto
        log.info("indexing the log: %s of %s events", f"{done:,}", f"{total:,}")
    return head


def downgrade() -> None:
    conn = op.get_bind()
    mark = conn.execute(
        sa.text("SELECT position FROM index_progress WHERE name = 'events'")
    ).scalar()
    if mark is not None:  # the streams rows of events the builder had not reached
        conn.execute(
            sa.text(
                "INSERT INTO streams (stream_id, version, created_at, updated_at) "
                "SELECT stream_id, MAX(stream_version), MIN(recorded_at), MAX(recorded_at) "
                "FROM events WHERE position > :mark GROUP BY stream_id "
                "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, "
                "updated_at = excluded.updated_at"
            ),
            {"mark": int(mark)},
        )
    op.drop_table("index_progress")
    op.drop_table("event_index")
    op.create_index("ux_events_event_id", "events", ["event_id"], unique=True)
    op.create_index("ix_events_type_position", "events", ["type", "position"])
    for column in ("correlation_id", "actor"):
        op.create_index(
            f"ix_events_{column}_position",
            "events",
            [column, "position"],
            sqlite_where=sa.column(column).isnot(None),
            postgresql_where=sa.column(column).isnot(None),
        )
    op.create_index("ix_events_recorded_at", "events", ["recorded_at"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
