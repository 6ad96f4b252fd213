"""Commanded's EventStore (Elixir, PostgreSQL) behind the source port, read-only.

    source = CommandedSource("postgresql+psycopg://reader@db/bank", schema="public")
    source.read_all_backward(None, limit=10)       # the ten newest events of `$all`

How its rows become the port's values:

* a stream's id is its `stream_uuid`; the global position of an event is its
  `stream_version` in `$all` (the `streams` row with `stream_id` 0), whose own version is
  the head;
* read from `$all`, an event carries the stream it was written to and its version there
  (`original_stream_id`, `original_stream_version`); read from one stream, it carries
  that stream and its version in it, and an event linked in from another stream has
  `metadata["linked_from"] = {"stream_id": <original stream_uuid>, "stream_version": N}`;
* the type is `event_type` without a leading `Elixir.` (`MyApp.Deposited`); the full
  one stays in `metadata["event_type"]`; `correlation_id` and `causation_id` (uuid
  columns) are put into the metadata as text; `recorded_at` is `created_at`;
* `data` and `metadata` are decoded by the column type (`payloads.decode_cell`): jsonb
  as it is, bytea holding an Erlang term or JSON text decoded, anything else marked
  `{"undecodable": ...}` while the rest reads;
* soft-deleted streams are listed and read like the others; `deleted_streams(ids)` says
  which are deleted and when.

Every read runs in a `READ ONLY` transaction with a statement timeout. Filters that no
index of the schema serves (types, stream prefix, correlation id, time range, payload
field) never scan the whole log: `read_all_page` / `read_all_backward_page` look at
most `scan_budget` positions per call and say where they stopped; a caller that got
fewer than `limit` events and `exhausted` False goes on from `resume_after` (or
`resume_before`). `read_all` and `read_all_backward` return such a page's events.
"""

from __future__ import annotations

from webapp.sources.commanded.checkpoints import CheckpointReads
from webapp.sources.commanded.events import EventReads
from webapp.sources.commanded.live import LiveReads
from webapp.sources.commanded.schema import (
    ALL_STREAM_ID,
    CAPABILITIES,
    DEFAULT_SCAN_BUDGET,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    ELIXIR_PREFIX,
    POLL_SECONDS,
    SCHEMA_VERSIONS,
    TABLES,
    display_type,
)
from webapp.sources.commanded.streams import StreamReads
from webapp.sources.port import LogPage

__all__ = [
    "ALL_STREAM_ID",
    "CAPABILITIES",
    "DEFAULT_SCAN_BUDGET",
    "DEFAULT_STATEMENT_TIMEOUT_MS",
    "ELIXIR_PREFIX",
    "POLL_SECONDS",
    "SCHEMA_VERSIONS",
    "TABLES",
    "CommandedSource",
    "LogPage",
    "display_type",
]


class CommandedSource(EventReads, StreamReads, CheckpointReads, LiveReads):
    """An EventStore schema in PostgreSQL, read through the `EventSource` port, never written."""
