"""Commanded's EventStore (Elixir, PostgreSQL) read through the source port.

    from webapp.sources.commanded import CommandedSource
    source = CommandedSource("postgresql+psycopg://reader@db/bank", schema="public")

`source.py` is the source, made of the reads in `events.py`, `streams.py`,
`checkpoints.py` and `live.py` over the tables and transaction of `schema.py`;
`payloads.py` decodes data and metadata cells, `etf.py` reads Erlang's External Term
Format (the default serializer's).
"""

from __future__ import annotations

from webapp.sources.commanded.etf import UndecodableTerm
from webapp.sources.commanded.source import CommandedSource, LogPage
from webapp.sources.errors import ForeignStoreError

__all__ = ["CommandedSource", "ForeignStoreError", "LogPage", "UndecodableTerm"]
