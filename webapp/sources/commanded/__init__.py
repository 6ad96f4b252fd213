"""Commanded's EventStore (Elixir, PostgreSQL) read through the source port: its ETF decoder."""

from __future__ import annotations
