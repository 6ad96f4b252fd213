"""The read side: what the dashboard's pages and the JSON API read, over the source port.

Each module answers one area's questions from the running parts (`Parts`, which the
composition root's Runtime has) for one viewer, so that personal data is decoded
and the access log written by one rule everywhere:

    from webapp.queries import Viewer, state, streams
    viewer = Viewer(actor="ada", role="support")
    found = state.state_at(runtime, "user-u-1", 1, viewer)
    rows, more = streams.find_streams(runtime, "account-", sort="id", limit=25)

Modules: streams, state, log, causation, subjects, catalog, snapshots, overview,
projections, aggregates, audit, personal. The value types and errors the web needs
are re-exported here, so that it never imports the store.
"""

from __future__ import annotations

from webapp.queries.context import Parts, Viewer
from webapp.sources import (
    InvalidAppend,
    RecordedEvent,
    Snapshot,
    StreamInfo,
    WrongExpectedVersion,
)
from webapp.store import check_data_field_name
from webapp.store.business_time import occurred_time

__all__ = [
    "InvalidAppend",
    "Parts",
    "RecordedEvent",
    "Snapshot",
    "StreamInfo",
    "Viewer",
    "WrongExpectedVersion",
    "check_data_field_name",
    "occurred_time",
]
