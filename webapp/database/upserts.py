"""Writes that insert a row or, when its key is taken, update it (or leave it), on SQLite
and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    add: Sequence[str] = (),
) -> None:
    """Insert rows, or on key conflict overwrite the other columns (or add to `add` columns)."""
    rows = list(rows)
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    updates = {}
    for column in rows[0]:
        if column in keys:
            continue
        if column in add:
            updates[column] = table.c[column] + stmt.excluded[column]
        else:
            updates[column] = stmt.excluded[column]
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
    conn.execute(stmt, rows)


def insert_ignore(conn: sa.Connection, table: sa.Table, values: Mapping[str, Any]) -> None:
    """Insert one row unless a row with the same key is there already."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())
