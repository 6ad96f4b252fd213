"""SQL plumbing every layer with tables shares: engines, read-only connections, store URLs.

The event store, the key store, the projections and the web layer's own tables all open
their engines here, so each behaves alike on SQLite (WAL, busy timeout, `BEGIN IMMEDIATE`)
and PostgreSQL (pooled, UTC sessions).
"""

from __future__ import annotations

from webapp.database.engine import (
    NestedWriteTransaction,
    create_store_engine,
    is_store_unavailable,
    parse_store_url,
    reading,
    unavailable_reason,
    write_if_free,
)

__all__ = [
    "NestedWriteTransaction",
    "create_store_engine",
    "is_store_unavailable",
    "parse_store_url",
    "reading",
    "unavailable_reason",
    "write_if_free",
]
