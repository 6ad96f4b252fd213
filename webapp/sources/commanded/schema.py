"""Commanded's EventStore schema: its tables, the generations read, the read-only
transaction, and how its rows become the port's values."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, Self

import sqlalchemy as sa
from sqlalchemy.engine import URL

from webapp.database import create_store_engine, parse_store_url
from webapp.sources.errors import ForeignStoreError
from webapp.sources.port import Capabilities
from webapp.store.event_store import as_utc
from webapp.store.types import StreamInfo

TABLES: Final = ("streams", "events", "stream_events", "snapshots", "subscriptions")
SCHEMA_VERSIONS: Final = ((1, 2, 0), (1, 4, 99))
"""The schema generations read (inclusive): `stream_events`, uuid ids, timestamptz and
`streams.deleted_at` are all there from 1.2.0 on; 1.3.2 is what `init` writes today."""
ALL_STREAM_ID: Final = 0
ELIXIR_PREFIX: Final = "Elixir."
DEFAULT_SCAN_BUDGET: Final = 10_000
DEFAULT_STATEMENT_TIMEOUT_MS: Final = 10_000
POLL_SECONDS: Final = 0.25

CAPABILITIES: Final = Capabilities(
    has_correlation_ids=True,
    has_causation_ids=True,
    has_snapshots=True,
    cheap_type_filter=False,
    notifies_live=True,
    has_actor=False,
    writable=False,
    payload_search=True,
)


def display_type(event_type: str) -> str:
    """`Elixir.MyApp.Deposited` as Elixir names it, `MyApp.Deposited`."""
    return event_type.removeprefix(ELIXIR_PREFIX)


def stored_type_names(names: Sequence[str]) -> list[str]:
    """The `event_type` values a shown type name matches: itself and its `Elixir.` form."""
    stored: list[str] = []
    for name in names:
        stored.append(name)
        if not name.startswith(ELIXIR_PREFIX):
            stored.append(ELIXIR_PREFIX + name)
    return stored


def as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def aware(moment: datetime) -> datetime:
    """Naive times are UTC, as the port says."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


utc = as_utc
"""`moment` in UTC (a naive time is taken as UTC), as the store reads its own times."""


def stream_info_of(row: Any) -> StreamInfo:
    return StreamInfo(
        stream_id=row.stream_uuid,
        version=int(row.stream_version),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


class EventStoreTables:
    """The tables of one EventStore schema and the read-only transaction every read runs in."""

    dialect = "postgresql"

    def __init__(
        self,
        url_or_engine: str | URL | sa.Engine,
        *,
        schema: str = "public",
        scan_budget: int = DEFAULT_SCAN_BUDGET,
        statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    ) -> None:
        if isinstance(url_or_engine, sa.Engine):
            self.engine, self._owns_engine = url_or_engine, False
        else:
            parsed = parse_store_url(url_or_engine)
            if parsed.get_backend_name() != "postgresql":
                msg = f"Commanded's EventStore lives in PostgreSQL, not {parsed.get_backend_name()}"
                raise ForeignStoreError(msg)
            self.engine, self._owns_engine = create_store_engine(parsed), True
        if self.engine.dialect.name != "postgresql":
            msg = f"Commanded's EventStore lives in PostgreSQL, not {self.engine.dialect.name}"
            raise ForeignStoreError(msg)
        if not schema or "\0" in schema:
            msg = f"not a schema name: {schema!r}"
            raise ValueError(msg)
        self.schema = schema
        self.scan_budget = max(1, int(scan_budget))
        self.statement_timeout_ms = max(1, int(statement_timeout_ms))
        quote = self.engine.dialect.identifier_preparer.quote_identifier
        self._t = {name: f"{quote(schema)}.{quote(name)}" for name in TABLES}
        self.channel = f"{schema}.events"
        try:
            self.column_type, self.schema_version = self._check_store()
        except Exception:
            self.close()
            raise

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    @contextmanager
    def read_transaction(self) -> Iterator[sa.Connection]:
        """A `READ ONLY` transaction with the statement timeout: the one every read runs in."""
        with self.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {self.statement_timeout_ms}")
            yield conn

    def _check_store(self) -> tuple[str, tuple[int, int, int]]:
        where = f"schema {self.schema!r}"
        with self.read_transaction() as conn:
            present = set(
                conn.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = :schema"
                    ),
                    {"schema": self.schema},
                ).scalars()
            )
            missing = [name for name in (*TABLES, "schema_migrations") if name not in present]
            if missing:
                msg = f"{where} is not a Commanded EventStore: no table {', '.join(missing)}"
                raise ForeignStoreError(msg)
            quote = self.engine.dialect.identifier_preparer.quote_identifier
            row = conn.execute(
                sa.text(
                    "SELECT major_version, minor_version, patch_version"
                    f" FROM {quote(self.schema)}.schema_migrations"
                    " ORDER BY major_version DESC, minor_version DESC, patch_version DESC LIMIT 1"
                )
            ).first()
            if row is None:
                msg = f"{where}: schema_migrations records no EventStore schema version"
                raise ForeignStoreError(msg)
            version = (int(row[0]), int(row[1]), int(row[2]))
            low, high = SCHEMA_VERSIONS
            if not low <= version <= high:
                shown = ".".join(map(str, version))
                msg = (
                    f"{where}: EventStore schema version {shown} is not one this reader knows"
                    f" ({'.'.join(map(str, low))} to 1.4.x)"
                )
                raise ForeignStoreError(msg)
            types = dict(
                conn.execute(
                    sa.text(
                        "SELECT table_name, data_type FROM information_schema.columns"
                        " WHERE table_schema = :schema AND column_name = 'data'"
                        " AND table_name IN ('events', 'snapshots')"
                    ),
                    {"schema": self.schema},
                ).all()
            )
            column_type = types.get("events")
            if column_type not in ("bytea", "jsonb"):
                msg = f"{where}: events.data is {column_type or 'missing'}, not bytea or jsonb"
                raise ForeignStoreError(msg)
        return column_type, version

    def _head(self, conn: sa.Connection) -> int:
        sql = f"SELECT stream_version FROM {self._t['streams']} WHERE stream_id = {ALL_STREAM_ID}"
        return int(conn.execute(sa.text(sql)).scalar() or 0)

    def close(self) -> None:
        """Release the engine if this source made it (an engine passed in stays open)."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"CommandedSource({url!r}, schema={self.schema!r})"
