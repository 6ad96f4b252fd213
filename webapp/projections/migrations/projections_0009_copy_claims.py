"""projections: one copy of a moment at a time across processes (as-of builds claimed once).

Revision ID: projections_0009
Revises: projections_0008
Create Date: 2026-12-06

`projection_copies.moment` names what a copy holds (kind, projection, handlers' version,
position) under a unique index: the process whose insert wins builds the copy, the others
wait for it. Upgrade: the oldest copy of each moment gets its name; any other copy of the
same moment (two processes built it before this revision) is marked expired, so the next
sweep drops its row and its tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "projections_0009"
down_revision = "projections_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projection_copies", sa.Column("moment", sa.String(200), nullable=True))
    conn = op.get_bind()
    copies = sa.table(
        "projection_copies",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
        sa.column("position", sa.BigInteger),
        sa.column("model_version", sa.Integer),
        sa.column("expires_at", sa.Float),
        sa.column("moment", sa.String),
    )
    named: set[str] = set()
    rows = conn.execute(
        sa.select(
            copies.c.id, copies.c.name, copies.c.kind, copies.c.position, copies.c.model_version
        ).order_by(copies.c.id)
    ).all()
    for row in rows:
        moment = f"{row.kind}:{row.name}:{row.model_version}:{row.position}"
        if moment in named:
            values: dict[str, object] = {"expires_at": 0.0}
        else:
            named.add(moment)
            values = {"moment": moment}
        conn.execute(copies.update().where(copies.c.id == row.id).values(**values))
    op.create_index("ux_projection_copies_moment", "projection_copies", ["moment"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_projection_copies_moment", table_name="projection_copies")
    with op.batch_alter_table("projection_copies") as batch:
        batch.drop_column("moment")
