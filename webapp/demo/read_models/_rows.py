"""Small helpers shared by the demo read models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa


def load_rows(
    conn: sa.Connection, table: sa.Table, key: str, values: Iterable[Any], chunk: int = 500
) -> dict[Any, dict[str, Any]]:
    """The rows whose `key` column is in `values`, as dicts keyed by that column."""
    values = list(values)
    found: dict[Any, dict[str, Any]] = {}
    column = table.c[key]
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        for row in conn.execute(sa.select(table).where(column.in_(part))).mappings():
            found[row[key]] = dict(row)
    return found


def iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
