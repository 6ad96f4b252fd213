"""A preview of a rebuild: the next generation held beside the live one, and how they differ.

request_preview(engine, "account_summary", actor="ada")   # the worker fills N+1, then holds it
diff_generations(engine, table_set, "account_summary", limit=50)   # counts and field diffs
decide(engine, "account_summary", "switch", actor="ada")  # or "discard"; the worker does it

A preview is a rebuild whose registry row says `rebuild_hold`: the worker fills generation
N+1 from the log like any rebuild, then keeps it at the live generation's position (never
past it) instead of switching it in, until an admin's decision (`preview_decision`) is
carried out by the worker holding the projection's leadership: "switch" makes N+1 live
(the old tables are dropped), "discard" drops N+1's tables. Everything is in the registry
row, so a preview survives restarts and another process may ask and decide.

The diff compares each table of the preview with the same table of the live generation,
rows matched by primary key, both read in one snapshot at the same checkpoint position
(`position`; when the worker is mid-step they may differ for a moment, and the answer
then says so with `same_position` False). Each side of a table is one query streamed in
key order, the two read in step, so no table is ever loaded whole: the counts cover every
row, the details the first `limit` differing rows after `after` (keyset paging). Columns
are those of the tables as they stand in the database, so a column the new version adds
or removes shows as such. A table only the old version had is not seen (the running
code does not name it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from webapp.projections import schema
from webapp.projections.controls import log_action
from webapp.projections.errors import ControlRefused
from webapp.projections.generations import TableSet

CHUNK_ROWS = 500
MAX_DETAILS = 500
SAME_POSITION_TRIES = 20
SAME_POSITION_WAIT = 0.1
NEARLY_SAME = 2000
"""A preview this close behind the live generation has caught up: the worker moves the
live generation a batch (2,000 events by default), then the preview to it."""
ACTIONS = ("switch", "discard")


# --- asking and deciding --------------------------------------------------------------------


def _registry_row(conn: sa.Connection, name: str, *, lock: bool = False) -> sa.Row[Any]:
    query = sa.select(schema.registry).where(schema.registry.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        msg = f"{name} has never been started; start its worker first"
        raise ControlRefused(msg)
    return row


def _checkpoint(conn: sa.Connection, name: str, generation: int | None) -> int | None:
    if generation is None:
        return None
    table = schema.checkpoints
    found = conn.execute(
        sa.select(table.c.position).where(table.c.name == name, table.c.generation == generation)
    ).scalar()
    return None if found is None else int(found)


def request_preview(engine: sa.Engine, name: str, *, actor: str) -> None:
    """Ask the worker running `name` to build its next generation from the whole log and
    hold it for preview. Refused while a rebuild or reset is asked or under way."""
    with engine.begin() as conn:
        row = _registry_row(conn, name, lock=True)
        if row.rebuild_generation is not None or row.rebuild_requested_at is not None:
            what = "a preview is" if row.rebuild_hold else "a rebuild is"
            msg = f"{name}: {what} already asked or under way; switch or discard it first"
            if not row.rebuild_hold:
                msg = f"{name}: a rebuild is already asked or under way; wait for its switch"
            raise ControlRefused(msg)
        conn.execute(
            schema.registry.update()
            .where(schema.registry.c.name == name)
            .values(
                rebuild_requested_at=time.time(),
                rebuild_from=None,
                rebuild_hold=True,
                hold_requested_by=actor[:200],
                preview_decision=None,
                decided_by=None,
            )
        )
        log_action(conn, name, "preview_requested", actor)


def preview_state(engine: sa.Engine, name: str) -> dict[str, Any] | None:
    """The preview of `name` as the registry holds it (None when there is none): its
    generation (None until the worker starts it), positions, whether it caught up."""
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        row = _registry_row(conn, name)
        if not row.rebuild_hold:
            return None
        live = _checkpoint(conn, name, row.live_generation) or 0
        held = _checkpoint(conn, name, row.rebuild_generation)
    return {
        "live_generation": int(row.live_generation),
        "generation": None if row.rebuild_generation is None else int(row.rebuild_generation),
        "live_position": live,
        "position": held,
        "caught_up": held is not None and live - held <= NEARLY_SAME,
        "requested_by": row.hold_requested_by,
        "decision": row.preview_decision,
        "decided_by": row.decided_by,
    }


def decide(engine: sa.Engine, name: str, action: str, *, actor: str) -> str:
    """Record an admin's decision on the preview of `name` for its worker to carry out:
    "switch" (refused until the preview has caught up with the live generation) or
    "discard" (a preview not started yet is withdrawn here and then); the worker switches
    only once both stand at the same position. Refused when no
    preview is held or a decision is already waiting. Returns what happens: "asked" (the
    worker carries it out) or "discarded" (nothing had been built yet)."""
    if action not in ACTIONS:
        msg = f"unknown decision {action!r}; use switch or discard"
        raise ValueError(msg)
    registry = schema.registry
    with engine.begin() as conn:
        row = _registry_row(conn, name, lock=True)
        if not row.rebuild_hold:
            msg = f"{name} has no preview held: there is nothing to {action}"
            raise ControlRefused(msg)
        if row.preview_decision is not None:
            msg = (
                f"{name}: a {row.preview_decision} of its preview was already asked by "
                f"{row.decided_by}; its worker has not carried it out yet"
            )
            raise ControlRefused(msg)
        if row.rebuild_generation is None:
            if action == "switch":
                msg = f"{name}: its preview has not started yet; there is nothing to switch in"
                raise ControlRefused(msg)
            conn.execute(
                registry.update()
                .where(registry.c.name == name)
                .values(
                    rebuild_requested_at=None,
                    rebuild_from=None,
                    rebuild_hold=None,
                    hold_requested_by=None,
                )
            )
            log_action(conn, name, "preview_discarded", actor, detail="withdrawn before it started")
            return "discarded"
        if action == "switch":
            live = _checkpoint(conn, name, row.live_generation) or 0
            held = _checkpoint(conn, name, row.rebuild_generation) or 0
            if live - held > NEARLY_SAME:
                msg = (
                    f"{name}: its preview (generation {row.rebuild_generation}) is at position "
                    f"{held}, the live generation at {live}; switch once it has caught up"
                )
                raise ControlRefused(msg)
        conn.execute(
            registry.update()
            .where(registry.c.name == name)
            .values(preview_decision=action, decided_by=actor[:200])
        )
        log_action(
            conn, name, f"{action}_requested", actor, detail=f"generation {row.rebuild_generation}"
        )
    return "asked"


# --- the diff --------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A column value as JSON can hold it (decimals and dates as text, bytes as hex)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _ordered(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """`column` compared and sorted by code point (PostgreSQL's "C" collation; SQLite's
    default), the order Python compares strings in, so both sides merge in one pass."""
    if dialect == "postgresql" and isinstance(column.type, sa.String):
        return column.collate("C")
    return column


def _rows_in_key_order(
    conn: sa.Connection, table: sa.Table, key: Sequence[str]
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every row of `table` as (key values, row), in key order, streamed from one query
    (a server-side cursor on PostgreSQL; SQLite steps through its result) CHUNK_ROWS at a
    time, so the table is sorted once and never held whole."""
    dialect = conn.dialect.name
    query = (
        sa.select(table)
        .order_by(*(_ordered(table.c[k], dialect) for k in key))
        .execution_options(yield_per=CHUNK_ROWS)
    )
    for row in conn.execute(query).mappings():
        values = dict(row)
        yield tuple(values[k] for k in key), values


def _field_changes(
    old: dict[str, Any], new: dict[str, Any], added: set[str], removed: set[str]
) -> dict[str, dict[str, Any]]:
    changes: dict[str, dict[str, Any]] = {}
    for column in sorted(set(old) | set(new)):
        if column in added:
            if new[column] is not None:
                changes[column] = {"old": None, "new": plain(new[column]), "column": "added"}
        elif column in removed:
            if old[column] is not None:
                changes[column] = {"old": plain(old[column]), "new": None, "column": "removed"}
        elif old[column] != new[column]:
            changes[column] = {"old": plain(old[column]), "new": plain(new[column])}
    return changes


def diff_table(
    conn: sa.Connection,
    live: sa.Table | None,
    held: sa.Table,
    *,
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """One table's diff: counts over every row, details of the first `limit` differing rows
    whose key is beyond `after`, and `next_after` (the key to page on from) if there are more.
    `live` None: the table is new (every row added)."""
    key = [c.name for c in held.primary_key.columns]
    out: dict[str, Any] = {
        "live_table": None if live is None else live.name,
        "preview_table": held.name,
        "key": key,
        "columns_added": [],
        "columns_removed": [],
        "counts": {"added": 0, "removed": 0, "changed": 0, "unchanged": 0},
        "rows": [],
        "next_after": None,
        "error": None,
    }
    if not key:
        out["error"] = "the table has no primary key: its rows cannot be matched"
        return out
    if live is not None:
        live_columns, held_columns = set(live.c.keys()), set(held.c.keys())
        out["columns_added"] = sorted(held_columns - live_columns)
        out["columns_removed"] = sorted(live_columns - held_columns)
        if not set(key) <= live_columns:
            out["error"] = f"the live table has no column {', '.join(set(key) - live_columns)}"
            return out
    added, removed = set(out["columns_added"]), set(out["columns_removed"])
    start = None if after is None else tuple(after)
    counts, details = out["counts"], out["rows"]

    def note(change: str, row_key: tuple[Any, ...], **what: Any) -> None:
        counts[change] += 1
        if start is not None and row_key <= start:
            return
        if len(details) < limit:
            details.append(
                {"change": change, "key": dict(zip(key, map(plain, row_key), strict=True)), **what}
            )
        elif out["next_after"] is None:
            out["next_after"] = [plain(v) for v in details[-1]["key"].values()]

    def rows(row: dict[str, Any]) -> dict[str, Any]:
        return {k: plain(v) for k, v in row.items()}

    old_rows = _rows_in_key_order(conn, live, key) if live is not None else iter(())
    new_rows = _rows_in_key_order(conn, held, key)
    old, new = next(old_rows, None), next(new_rows, None)
    while old is not None or new is not None:
        if new is None or (old is not None and old[0] < new[0]):
            assert old is not None
            note("removed", old[0], row=rows(old[1]))
            old = next(old_rows, None)
        elif old is None or new[0] < old[0]:
            note("added", new[0], row=rows(new[1]))
            new = next(new_rows, None)
        else:
            fields = _field_changes(old[1], new[1], added, removed)
            if fields:
                note("changed", new[0], fields=fields)
            else:
                counts["unchanged"] += 1
            old, new = next(old_rows, None), next(new_rows, None)
    counts["live_rows"] = counts["removed"] + counts["changed"] + counts["unchanged"]
    counts["preview_rows"] = counts["added"] + counts["changed"] + counts["unchanged"]
    return out


def _snapshot(engine: sa.Engine) -> sa.Connection:
    """A read-only connection whose transaction sees one snapshot of the database."""
    conn = engine.connect().execution_options(eventscope_readonly=True)
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def diff_generations(
    engine: sa.Engine,
    table_set: TableSet,
    name: str,
    *,
    table: str | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The held preview of projection `name` against its live generation, table by table
    (only `table`, a logical name, when given; `after` pages its details by key).

    Refused (ControlRefused) when no preview has been built yet. Waits up to about two
    seconds for both generations to stand at the same position (the worker moves them one
    after the other); past that the answer has `same_position` False and both positions.
    """
    limit = max(1, min(limit, MAX_DETAILS))
    logical_names = list(table_set.tables(1))
    if table is not None and table not in logical_names:
        msg = f"{name} has no table {table!r}; its tables: {', '.join(logical_names)}"
        raise ValueError(msg)
    for attempt in range(SAME_POSITION_TRIES):
        with _snapshot(engine) as conn, conn.begin():
            row = _registry_row(conn, name)
            if not row.rebuild_hold:
                msg = f"{name} has no preview held"
                raise ControlRefused(msg)
            if row.rebuild_generation is None:
                msg = f"{name}: its preview is asked for but its worker has not started it yet"
                raise ControlRefused(msg)
            live_generation, held_generation = int(row.live_generation), int(row.rebuild_generation)
            live_position = _checkpoint(conn, name, live_generation) or 0
            held_position = _checkpoint(conn, name, held_generation) or 0
            same = live_position == held_position
            # a few events apart: the worker is between the live batch and the preview's
            # (a preview still filling is answered at once, with both positions)
            nearly = 0 < live_position - held_position <= NEARLY_SAME
            if nearly and attempt + 1 < SAME_POSITION_TRIES:
                conn.rollback()
                time.sleep(SAME_POSITION_WAIT)
                continue
            tables = []
            present = set(sa.inspect(conn).get_table_names())
            held_tables = table_set.tables(held_generation)
            live_names = {k: t.name for k, t in table_set.tables(live_generation).items()}
            for logical in logical_names:
                if table is not None and logical != table:
                    continue
                live_table = None
                if live_names[logical] in present:
                    live_table = sa.Table(live_names[logical], sa.MetaData(), autoload_with=conn)
                diff = diff_table(
                    conn,
                    live_table,
                    held_tables[logical],
                    after=after if table is not None else None,
                    limit=limit,
                )
                tables.append({"table": logical, **diff})
            return {
                "projection": name,
                "live_generation": live_generation,
                "preview_generation": held_generation,
                "position": live_position if same else None,
                "positions": {"live": live_position, "preview": held_position},
                "same_position": same,
                "caught_up": live_position - held_position <= NEARLY_SAME,
                "requested_by": row.hold_requested_by,
                "decision": row.preview_decision,
                "decided_by": row.decided_by,
                "tables": tables,
            }
    msg = "unreachable"
    raise AssertionError(msg)
