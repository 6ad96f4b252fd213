"""Stores written by the Python `eventsourcing` library, read through the source port.

from webapp.sources.eventsourcing import EventsourcingSQLiteSource
source = EventsourcingSQLiteSource("bank.db", cipher_key=None, compressor=None)
source.read_all_backward(None, limit=10)       # the ten newest events

from webapp.sources.eventsourcing import EventsourcingPostgresSource
source = EventsourcingPostgresSource("postgresql://reader@db/bank", app="bank")
"""

from __future__ import annotations

from webapp.sources.errors import ForeignStoreError
from webapp.sources.eventsourcing.payloads import PayloadDecoder
from webapp.sources.eventsourcing.postgres import EventsourcingPostgresSource
from webapp.sources.eventsourcing.sqlite import EventsourcingSQLiteSource

__all__ = [
    "EventsourcingPostgresSource",
    "EventsourcingSQLiteSource",
    "ForeignStoreError",
    "PayloadDecoder",
]
