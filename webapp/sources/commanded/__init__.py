"""Commanded's EventStore (Elixir, PostgreSQL) read through the source port.

    from webapp.sources.commanded import CommandedSource
    source = CommandedSource("postgresql+psycopg://reader@db/bank", schema="public")

`source.py` maps its tables onto the port, `payloads.py` decodes its data and metadata
cells, `etf.py` reads Erlang's External Term Format (the default serializer's).
"""

from __future__ import annotations

from webapp.sources.commanded.etf import UndecodableTerm
from webapp.sources.commanded.source import CommandedSource, LogPage
from webapp.sources.errors import ForeignStoreError

__all__ = ["CommandedSource", "ForeignStoreError", "LogPage", "UndecodableTerm"]
