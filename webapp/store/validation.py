"""What the store accepts: ids, expected versions, limits; batches checked and encoded."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from webapp.store.business_time import OCCURRED_AT, occurred_time
from webapp.store.json_codec import dumps, has_nul
from webapp.store.types import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    ExpectedVersion,
    InvalidAppend,
    NewEvent,
    _ExpectedVersionForm,
)

MAX_STREAM_ID_LENGTH = 512
MAX_TYPE_LENGTH = 255

EventRow = tuple[uuid.UUID, str, int, str, str, str | None, str | None, datetime | None]
"""An event ready to insert: (event_id, type, schema_version, data, metadata,
correlation_id, actor, occurred_at), its data and metadata as JSON text; occurred_at is
the metadata's business time in UTC (None: the backend stores the recorded time)."""

_UUID = uuid.UUID
_PLAIN_SEQUENCES = (list, tuple)


def check_expected_version(expected: object) -> None:
    """Refuse an expected version that is none of ANY, NO_STREAM, STREAM_EXISTS or an int >= 0."""
    if isinstance(expected, _ExpectedVersionForm):
        if expected in (ANY, NO_STREAM, STREAM_EXISTS):
            return
    elif type(expected) is int and expected >= 0:
        return
    msg = f"unknown expected version {expected!r}: use ANY, NO_STREAM, STREAM_EXISTS or an int >= 0"
    raise InvalidAppend(msg)


def version_matches(expected: ExpectedVersion, current: int) -> bool:
    """Whether a stream at version `current` (0: no stream) meets `expected`."""
    if expected is ANY:
        return True
    if expected is NO_STREAM:
        return current == 0
    if expected is STREAM_EXISTS:
        return current > 0
    return current == expected


def check_stream_id(stream_id: object) -> None:
    """A stream id: a non-empty string of at most 512 characters, no NUL, not `$all`."""
    if not isinstance(stream_id, str) or not stream_id:
        msg = f"stream id must be a non-empty string, not {stream_id!r}"
        raise InvalidAppend(msg)
    if len(stream_id) > MAX_STREAM_ID_LENGTH or "\x00" in stream_id or stream_id == "$all":
        msg = f"invalid stream id {stream_id[:80]!r}"
        raise InvalidAppend(msg)


def check_limit(limit: int) -> int:
    """`limit` if it is an int >= 0 (ValueError otherwise)."""
    if type(limit) is not int or limit < 0:
        msg = f"limit must be an int >= 0, not {limit!r}"
        raise ValueError(msg)
    return limit


def encode_events(events: Sequence[NewEvent], max_payload_bytes: int) -> list[EventRow]:
    """Check a batch and serialise it: one `EventRow` per event, InvalidAppend for bad input."""
    if type(events) not in _PLAIN_SEQUENCES and (
        isinstance(events, NewEvent) or not isinstance(events, Sequence | Iterable)
    ):
        msg = "events must be a sequence of NewEvent"
        raise InvalidAppend(msg)
    limit = max_payload_bytes
    rows: list[EventRow] = []
    seen: set[int] = set()
    for event in events:
        if type(event) is not NewEvent:
            msg = f"not a NewEvent: {event!r}"
            raise InvalidAppend(msg)
        event_type = event.type
        if (
            not isinstance(event_type, str)
            or not event_type
            or len(event_type) > MAX_TYPE_LENGTH
            or "\x00" in event_type
        ):
            msg = f"invalid event type {event_type!r}"
            raise InvalidAppend(msg)
        event_id = event.event_id
        if not isinstance(event_id, _UUID) or event_id.int in seen:
            msg = f"event id must be a UUID unique in the batch: {event_id!r}"
            raise InvalidAppend(msg)
        seen.add(event_id.int)
        if type(event.schema_version) is not int or not 1 <= event.schema_version < 2**31:
            msg = f"schema version must be a positive int, not {event.schema_version!r}"
            raise InvalidAppend(msg)
        metadata = event.metadata
        if not isinstance(event.data, dict) or not isinstance(metadata, dict):
            msg = f"{event_type}: data and metadata must be JSON objects (dicts)"
            raise InvalidAppend(msg)
        try:
            data = dumps(event.data)
            meta = dumps(metadata)
        except (TypeError, ValueError, RecursionError) as error:
            msg = f"{event_type}: data is not JSON-serialisable: {error}"
            raise InvalidAppend(msg) from None
        size = len(data) + len(meta)  # ASCII-only JSON: characters == bytes
        if size > limit:
            msg = f"{event_type}: payload of {size} bytes exceeds the limit of {limit}"
            raise InvalidAppend(msg)
        if has_nul(data) or has_nul(meta):
            msg = f"{event_type}: strings with NUL characters cannot be stored"
            raise InvalidAppend(msg)
        correlation_id = metadata.get("correlation_id")
        actor = metadata.get("actor")
        rows.append(
            (
                event.event_id,
                event_type,
                event.schema_version,
                data,
                meta,
                None if correlation_id is None else str(correlation_id),
                None if actor is None else str(actor),
                occurred_time(metadata) if OCCURRED_AT in metadata else None,
            )
        )
    return rows


def encode_snapshot_data(data: Any) -> str:
    """A snapshot's data as JSON text, InvalidAppend if it cannot be stored."""
    try:
        text = dumps(data)
    except (TypeError, ValueError, RecursionError) as error:
        msg = f"snapshot data is not JSON-serialisable: {error}"
        raise InvalidAppend(msg) from None
    if has_nul(text):
        msg = "snapshot strings with NUL characters cannot be stored"
        raise InvalidAppend(msg)
    return text
