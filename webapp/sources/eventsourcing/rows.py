"""Stored rows as values: RecordedEvent and Snapshot, with derived ids, type names and times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from webapp.sources.eventsourcing.payloads import PayloadDecoder
from webapp.store.types import RecordedEvent, Snapshot

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""The time shown for an event whose payload (and so its timestamp) cannot be decoded."""

EVENT_ID_NAMESPACE: Final = uuid.UUID("6b1f8a52-3c0e-5d6f-9a41-7e2b0c9d4f13")
"""Event ids are uuid5(namespace, "<originator_id>/<originator_version>"): the library
stores none, so the adapter derives a stable one."""

HOUSEKEEPING: Final = ("timestamp", "class_version", "originator_topic")
"""Keys of a stored state that are the library's bookkeeping, not the event's data."""

EVENT_COLUMNS: Final = "rowid, originator_id, originator_version, topic, state"
"""The columns of an events row, in the order `RowMapper.event` takes them."""

SNAPSHOT_COLUMNS: Final = "originator_id, originator_version, topic, state"
"""The columns of a snapshots row, in the order `RowMapper.snapshot` takes them."""


def derived_event_id(originator_id: str, version: int) -> uuid.UUID:
    """The derived, stable id of the event at `version` of `originator_id`."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{originator_id}/{version}")


def type_name(topic: str) -> str:
    """The last segment of a topic (`bank.domain:Account.Opened` -> `Opened`)."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def parse_time(value: Any) -> datetime | None:
    """A stored ISO timestamp as an aware datetime (naive ones are UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc(moment: datetime) -> datetime:
    """`moment`, read as UTC when it is naive."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RowMapper:
    """Decodes the `state` of events and snapshots rows and builds the values shown."""

    def __init__(self, decoder: PayloadDecoder) -> None:
        self._decoder = decoder

    def event(self, row: tuple[Any, ...]) -> RecordedEvent:
        """An events row (`EVENT_COLUMNS`); an undecodable state shows its marker at `EPOCH`."""
        position, originator_id, version, topic, blob = row
        decoded = self._decoder.decode(blob)
        metadata: dict[str, Any] = {"topic": topic}
        if decoded.state is None:
            data, schema, recorded = dict(decoded.marker or {}), 1, None
        else:
            state = decoded.state
            data = {key: value for key, value in state.items() if key not in HOUSEKEEPING}
            schema = state.get("class_version", 1)
            schema = schema if isinstance(schema, int) else 1
            recorded = parse_time(state.get("timestamp"))
            if "originator_topic" in state:
                metadata["originator_topic"] = state["originator_topic"]
        if recorded is None:
            metadata["time_unknown"] = True
        return RecordedEvent(
            position=int(position),
            stream_id=str(originator_id),
            stream_version=int(version),
            event_id=derived_event_id(str(originator_id), int(version)),
            type=type_name(str(topic)),
            schema_version=schema,
            data=data,
            metadata=metadata,
            recorded_at=recorded or EPOCH,
        )

    def recorded_at(self, blob: Any) -> datetime:
        """The timestamp in a stored event state, or `EPOCH` when it cannot be read."""
        decoded = self._decoder.decode(blob)
        found = None if decoded.state is None else parse_time(decoded.state.get("timestamp"))
        return found or EPOCH

    def snapshot(self, row: tuple[Any, ...]) -> Snapshot:
        """A snapshots row (`SNAPSHOT_COLUMNS`); an undecodable state shows its marker."""
        originator_id, version, topic, blob = row
        decoded = self._decoder.decode(blob)
        if decoded.state is None:
            return Snapshot(
                str(originator_id),
                int(version),
                1,
                type_name(str(topic)),
                dict(decoded.marker or {}),
            )
        state = decoded.state
        inner = state.get("state")
        data = dict(inner) if isinstance(inner, dict) else {}
        shape = data.get("class_version", 1)
        return Snapshot(
            stream_id=str(originator_id),
            version=int(version),
            snapshot_version=shape if isinstance(shape, int) else 1,
            type=type_name(str(state.get("topic") or topic)),
            data=data,
            taken_at=parse_time(state.get("timestamp")),
        )


def in_time_range(event: RecordedEvent, since: datetime | None, until: datetime | None) -> bool:
    """Whether the event's decoded time lies in [since, until) (an unknown time never does)."""
    if event.metadata.get("time_unknown"):
        return False
    if since is not None and event.recorded_at < utc(since):
        return False
    return until is None or event.recorded_at < utc(until)
