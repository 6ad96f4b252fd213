"""Errors of the event sources: a database that is not the store an adapter reads."""

from __future__ import annotations


class ForeignStoreError(Exception):
    """The database is not a store this adapter reads (missing tables, an unknown schema
    version, another database engine); the message says which, in one line."""
