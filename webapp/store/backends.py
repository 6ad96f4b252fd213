"""The store class of each database dialect, and `open_store`, which picks one."""

from __future__ import annotations

import sqlalchemy as sa

from webapp.database.engine import create_store_engine
from webapp.store.event_store import EventStore
from webapp.store.postgres import PostgresEventStore
from webapp.store.sqlite import SQLiteEventStore
from webapp.store.types import StoreError

BACKENDS: dict[str, type[EventStore]] = {
    "sqlite": SQLiteEventStore,
    "postgresql": PostgresEventStore,
}
"""The EventStore class serving each SQLAlchemy dialect name."""


def open_store(
    url: str | sa.Engine, *, max_payload_bytes: int = 1_000_000, index_in_background: bool = True
) -> EventStore:
    """Open the event store at `url` (sqlite:///file.db or postgresql+psycopg://...), or over
    an engine made by `webapp.database.create_store_engine`.

    The schema must exist: migrations run from the composition root
    (`webapp.bootstrap.open_migrated_store`, `eventscope db upgrade`).

    A store that appends keeps the index tables up from a thread of its own
    (webapp.store.indexer); `index_in_background=False` leaves that to other processes
    and to `catch_up_index` (reads are right either way).
    """
    engine = url if isinstance(url, sa.Engine) else create_store_engine(url)
    backend = BACKENDS.get(engine.dialect.name)
    if backend is None:
        msg = f"unsupported dialect {engine.dialect.name!r}"
        raise StoreError(msg)
    return backend(
        engine, max_payload_bytes=max_payload_bytes, index_in_background=index_in_background
    )
