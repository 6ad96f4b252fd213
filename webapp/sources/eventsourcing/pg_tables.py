"""Finding an `eventsourcing` application's tables in a PostgreSQL schema by their columns.

The library names them after the application (lowercased): `<app>_events` (with a
`notification_id` bigserial), `<app>_snapshots` and, for process applications,
`<app>_tracking`; all in one schema (its `POSTGRES_SCHEMA`, `public` by default). The
`originator_id` column is `uuid` unless the library was told `ORIGINATOR_ID_TYPE=text`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from webapp.sources.errors import ForeignStoreError
from webapp.sources.eventsourcing.pg_database import Session
from webapp.sources.eventsourcing.tables import RECORD_COLUMNS, TRACKING_COLUMNS
from webapp.store.filters import prefix_clause

EVENTS_COLUMNS: Final = RECORD_COLUMNS | {"notification_id"}
EVENTS_SUFFIX: Final = "_events"
_HEX_PREFIX = re.compile(r"[0-9a-f]{0,32}")
_HEX_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class PgTables:
    """One application's tables in `schema`, by their (unquoted) names."""

    schema: str
    app: str
    events: str
    snapshots: str | None
    tracking: str | None
    id_type: str
    """`uuid` or `text`: the type of `originator_id`."""


def _app_of(table: str) -> str:
    return table.removesuffix(EVENTS_SUFFIX) if table.endswith(EVENTS_SUFFIX) else table


def _pick(names: list[str], wanted: list[str], fallback_word: str, alone: bool) -> str | None:
    for name in wanted:
        if name in names:
            return name
    if alone:
        guessed = [name for name in names if fallback_word in name]
        if len(guessed) == 1:
            return guessed[0]
    return None


def discover(session: Session, schema: str | None, app: str | None, where: str) -> PgTables:
    """The tables of `app` (or of the one application) in `schema` (None: the current one)."""
    if schema is None:
        schema = str(session.scalar("SELECT current_schema()") or "public")
    rows = session.rows(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = ? AND t.table_type = 'BASE TABLE' ORDER BY c.table_name",
        [schema],
    )
    columns: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        columns.setdefault(str(table), {})[str(column)] = str(data_type)
    names = sorted(columns)
    events = [name for name in names if columns[name].keys() >= EVENTS_COLUMNS]
    if not events:
        msg = (
            f"schema {schema!r} of {where} holds no eventsourcing events table "
            "(originator_id, originator_version, topic, state, notification_id)"
        )
        raise ForeignStoreError(msg)
    apps = {_app_of(name): name for name in events}
    if app is None:
        if len(apps) > 1:
            msg = (
                f"schema {schema!r} of {where} holds several eventsourcing applications "
                f"({', '.join(sorted(apps))}): name one with app="
            )
            raise ForeignStoreError(msg)
        chosen = next(iter(apps))
    else:
        matches = [name for name in apps if name.lower() == app.lower()]
        if not matches:
            msg = (
                f"schema {schema!r} of {where} holds no eventsourcing application {app!r} "
                f"(found: {', '.join(sorted(apps))})"
            )
            raise ForeignStoreError(msg)
        chosen = matches[0]
    alone = len(apps) == 1
    records = [
        name
        for name in names
        if columns[name].keys() >= RECORD_COLUMNS and "notification_id" not in columns[name]
    ]
    trackers = [
        name
        for name in names
        if columns[name].keys() >= TRACKING_COLUMNS and "originator_id" not in columns[name]
    ]
    tracking_names = [f"{chosen}_tracking"]
    if chosen == "stored":
        tracking_names.append("notification_tracking")
    events_table = apps[chosen]
    return PgTables(
        schema=schema,
        app=chosen,
        events=events_table,
        snapshots=_pick(records, [f"{chosen}_snapshots"], "snapshot", alone),
        tracking=_pick(trackers, tracking_names, "tracking", alone),
        id_type="uuid" if columns[events_table]["originator_id"] == "uuid" else "text",
    )


def stream_id_of(value: Any) -> str:
    """A stored `originator_id` as its stream id: a uuid as 32 hex digits, as on SQLite."""
    return value.hex if isinstance(value, uuid.UUID) else str(value)


class StreamKeys:
    """Stream ids as `originator_id` parameters and conditions, for a uuid or text column."""

    def __init__(self, id_type: str) -> None:
        self.is_uuid = id_type == "uuid"

    def key(self, stream_id: str) -> Any:
        """The column value of `stream_id`, or None when no stored id can be it."""
        if not self.is_uuid:
            return stream_id
        try:
            return uuid.UUID(stream_id)
        except (ValueError, AttributeError, TypeError):
            return None

    def prefix_where(self, prefix: str) -> tuple[list[str], list[Any]]:
        """Conditions keeping stream ids that start with `prefix`, as an index range."""
        if not self.is_uuid:
            return prefix_clause(prefix, "originator_id")
        if not prefix:
            return [], []
        if not _HEX_PREFIX.fullmatch(prefix):
            return ["1 = 0"], []
        low, high = uuid.UUID(prefix.ljust(32, "0")), uuid.UUID(prefix.ljust(32, "f"))
        return ["originator_id >= ?", "originator_id <= ?"], [low, high]

    def after_where(self, after: str) -> tuple[str, list[Any]]:
        """The condition keeping stream ids above `after` in id order."""
        if not self.is_uuid:
            return "originator_id > ?", [after]
        if _HEX_ID.fullmatch(after):
            return "originator_id > ?", [uuid.UUID(after)]
        return "replace(CAST(originator_id AS text), '-', '') COLLATE \"C\" > ?", [after]
