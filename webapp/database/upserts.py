"""Writes that insert a row or, when its key is taken, update it (or leave it), on SQLite
and PostgreSQL alike."""

from __future__ import annotations

import functools
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
    statement = _upsert_statement(conn.dialect.name, table, tuple(rows[0]), tuple(keys), tuple(add))
    conn.execute(statement, rows)


@functools.lru_cache(maxsize=512)
def _upsert_statement(
    dialect: str,
    table: sa.Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    add: tuple[str, ...],
) -> sa.Executable:
    """The statement for one shape of upsert, built once: read models upsert on every batch,
    and building the statement took longer than running it (measured under bench/serve.py's
    mix on PostgreSQL, 3 % of the busy processes' time)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    updates = {}
    for column in columns:
        if column in keys:
            continue
        if column in add:
            updates[column] = table.c[column] + stmt.excluded[column]
        else:
            updates[column] = stmt.excluded[column]
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)


def insert_ignore(conn: sa.Connection, table: sa.Table, values: Mapping[str, Any]) -> None:
    """Insert one row unless a row with the same key is there already."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())
