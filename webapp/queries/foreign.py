"""What the dashboard can say of a stream and of the event types when no aggregate code is known.

A foreign source (another tool's store) has events but no appliers, so there is no state at
a version to rebuild. What the data does say honestly: the value each top-level field was
last set to, by which event; and the catalog of event types as a sample of the log shows it.

    found = fields_as_last_set(source, "account-7", 12)
    found.fields["balance"].value, found.fields["balance"].set_at
    catalog = infer_catalog(source, sample_size=2_000)
    stream_kind(source, "account-7")            # "account"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from webapp.sources import EventSource, RecordedEvent, Snapshot

PAGE_SIZE: Final = 500
"""Events asked for per read of a stream or of the log (read at each call)."""

FULL_COUNT_LIMIT: Final = 50_000
"""Without an index on the type, `count_by_type` (a scan) only on a log this small."""

JSON_TYPES: Final = ("integer", "number", "string", "boolean", "array", "object", "null")
"""The JSON value types a field can be seen with, in the order they are listed."""


class MissingVersion(LookupError):
    """The stream has no event at the version asked for."""


# --- what a payload is


def is_marker(data: Any) -> bool:
    """`data` is a source's stand-in for a payload it could not read, not the payload.

    The `eventsourcing` decoder writes `{"undecodable": reason}` or
    `{"encrypted": True, "bytes": n}`; the Commanded cells `{"undecodable": reason,
    "hex": ..., "length": n}`."""
    if not isinstance(data, dict):
        return False
    keys = set(data)
    if "undecodable" in keys and keys <= {"undecodable", "hex", "length"}:
        return True
    return keys == {"encrypted", "bytes"} and data["encrypted"] is True


def json_type(value: Any) -> str:
    """The JSON type of a decoded value (`null`, `boolean`, `integer`, `number`, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return "string"  # str, and anything else a JSON encoder would write as text


# --- the aggregate type of a stream


def _id_prefix(stream_id: str) -> str | None:
    prefix, dash, _ = stream_id.partition("-")
    return prefix if dash and prefix else None


def aggregate_type(event: RecordedEvent) -> str | None:
    """The aggregate type `event` belongs to, as far as the data says.

    An `eventsourcing` event carries its topic (`module:Account.Deposited`): the class
    segment before the event's name (`Account`), None when the topic names no class. Other
    events: the stream id's prefix before the first "-" (`account-7` -> `account`), None
    without a "-"."""
    topic = event.metadata.get("topic")
    if isinstance(topic, str) and ":" in topic:
        qualname = topic.rsplit(":", 1)[1]
        owner, dot, _ = qualname.rpartition(".")
        return owner.rsplit(".", 1)[-1] if dot and owner else None
    return _id_prefix(event.stream_id)


def stream_kind(source: EventSource, stream_id: str) -> str | None:
    """The aggregate type `stream_id` holds: that of its first event, else its id's prefix;
    None for a stream without events."""
    first = source.read_stream(stream_id, 1, limit=1)
    if not first:
        return None
    return aggregate_type(first[0]) or _id_prefix(stream_id)


# --- fields as last set


@dataclass(frozen=True, slots=True)
class SetField:
    """A top-level field's value and the stream version that set it."""

    value: Any
    set_at: int
    from_snapshot: bool = False
    """Set by the snapshot (`set_at` is then the snapshot's version), no later event."""


@dataclass(frozen=True, slots=True)
class FieldsAsLastSet:
    """Each top-level field of a stream's payloads with the value the last event gave it, up to
    `version`: the stand-in for a state when no aggregate code folds the events."""

    stream_id: str
    version: int
    fields: dict[str, SetField]
    snapshot: Snapshot | None
    """The nearest readable snapshot at or before `version` (None: folded from events)."""
    events_after: list[RecordedEvent]
    """The events read after the snapshot (or from the start) up to `version`, oldest first."""
    truncated: bool
    """More events lay before `version` than `max_events`: only the newest were folded, and
    the snapshot (too far back to bridge) seeded nothing."""
    skipped: list[int] = field(default_factory=list)
    """Versions whose payload could not be read (undecodable, encrypted): not folded."""
    unreadable_snapshot: int | None = None
    """The version of a snapshot at or before `version` that could not be read (not used)."""

    def as_json(self) -> dict[str, Any]:
        """The JSON API's state shape, with `set_at` beside it."""
        snapshot = self.snapshot
        return {
            "stream_id": self.stream_id,
            "version": self.version,
            "state": {name: found.value for name, found in self.fields.items()},
            "kind": "fields_as_last_set",
            "snapshot": None
            if snapshot is None
            else {"version": snapshot.version, "data": snapshot.data},
            "set_at": {name: found.set_at for name, found in self.fields.items()},
        }


def _read_versions(
    source: EventSource, stream_id: str, first: int, last: int
) -> list[RecordedEvent]:
    """The events of `stream_id` from version `first` to `last`, read in pages."""
    found: list[RecordedEvent] = []
    start = first
    while start <= last:
        page = source.read_stream(stream_id, start, limit=min(PAGE_SIZE, last - start + 1))
        found.extend(event for event in page if event.stream_version <= last)
        if not page or page[-1].stream_version >= last:
            break
        start = page[-1].stream_version + 1
    return found


def fields_as_last_set(
    source: EventSource, stream_id: str, version: int | None = None, *, max_events: int = 10_000
) -> FieldsAsLastSet | None:
    """The fields of `stream_id`'s payloads as last set at `version` (None: the current one).

    Seeded from the nearest snapshot at or below `version` (its top-level keys), then each
    later event's top-level keys replace the values before. Reads at most `max_events`
    events. None when the stream does not exist; raises MissingVersion for a version it
    does not have."""
    info = source.stream_info(stream_id)
    if info is None:
        return None
    wanted = info.version if version is None else version
    if wanted < 1 or wanted > info.version:
        msg = f"Stream {stream_id!r} has versions 1 to {info.version}, not {wanted}."
        raise MissingVersion(msg)
    snapshot = (
        source.read_snapshot(stream_id, max_version=wanted)
        if source.capabilities.has_snapshots
        else None
    )
    unreadable = None
    if snapshot is not None and is_marker(snapshot.data):
        unreadable, snapshot = snapshot.version, None
    start = 1 if snapshot is None else snapshot.version + 1
    truncated = wanted - start + 1 > max(max_events, 0)
    if truncated:
        start = wanted - max(max_events, 0) + 1
    fields: dict[str, SetField] = {}
    if snapshot is not None and not truncated:
        fields = {
            name: SetField(value, snapshot.version, from_snapshot=True)
            for name, value in snapshot.data.items()
        }
    events = _read_versions(source, stream_id, start, wanted)
    skipped: list[int] = []
    for event in events:
        if is_marker(event.data):
            skipped.append(event.stream_version)
        elif isinstance(event.data, dict):
            for name, value in event.data.items():
                fields[name] = SetField(value, event.stream_version)
    return FieldsAsLastSet(
        stream_id=stream_id,
        version=wanted,
        fields=fields,
        snapshot=snapshot,
        events_after=events,
        truncated=truncated,
        skipped=skipped,
        unreadable_snapshot=unreadable,
    )


# --- the catalog inferred from the data


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when an event was seen in the log."""

    position: int
    recorded_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "recorded_at": self.recorded_at.isoformat()}


@dataclass(frozen=True, slots=True)
class InferredType:
    """One event type as the sample shows it."""

    name: str
    count: int | None
    """Events of the type in the whole log (None: not counted, too costly or refused)."""
    in_sample: int
    first_seen_in_sample: Sighting
    """The oldest of the type in the sample (not the first in the log)."""
    last_seen: Sighting
    fields: dict[str, list[str]]
    """Field -> the JSON types seen, from the newest `per_type_examples` readable payloads."""
    schema_versions: list[int]
    aggregate_types: list[str]
    example: RecordedEvent
    """The newest event of the type."""
    unreadable_in_sample: int = 0
    """Sampled events of the type whose payload could not be read."""

    def as_json(self) -> dict[str, Any]:
        example = self.example
        return {
            "name": self.name,
            "count": self.count,
            "in_sample": self.in_sample,
            "first_seen_in_sample": self.first_seen_in_sample.as_json(),
            "last_seen": self.last_seen.as_json(),
            "fields": self.fields,
            "schema_versions": self.schema_versions,
            "aggregate_types": self.aggregate_types,
            "unreadable_in_sample": self.unreadable_in_sample,
            "example": {
                "position": example.position,
                "stream_id": example.stream_id,
                "stream_version": example.stream_version,
                "type": example.type,
                "schema_version": example.schema_version,
                "data": example.data,
                "metadata": example.metadata,
                "recorded_at": example.recorded_at.isoformat(),
            },
        }


@dataclass(frozen=True, slots=True)
class InferredCatalog:
    """The event types of a source as the newest `sampled` of its `total` events show them."""

    types: list[InferredType]
    """By name."""
    sampled: int
    total: int
    counted: bool
    """`count` of each type is the whole log's (False: only the sample was read)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "sampled": self.sampled,
            "total": self.total,
            "counted": self.counted,
            "types": [found.as_json() for found in self.types],
        }


def _sample(source: EventSource, size: int) -> list[RecordedEvent]:
    """The newest `size` events of the log, newest first, read in pages."""
    found: list[RecordedEvent] = []
    before: int | None = None
    while len(found) < size:
        page = source.read_all_backward(before, limit=min(PAGE_SIZE, size - len(found)))
        if not page:
            break
        found.extend(page)
        before = page[-1].position
    return found[:size]


def _counts(source: EventSource, names: list[str], total: int) -> dict[str, int] | None:
    if not names or not (source.capabilities.cheap_type_filter or total <= FULL_COUNT_LIMIT):
        return None
    try:
        return source.count_by_type(names)
    except Exception:  # noqa: BLE001 - a refused or timed-out count leaves the counts out
        return None


def _field_types(payloads: list[dict[str, Any]]) -> dict[str, list[str]]:
    seen: dict[str, set[str]] = {}
    for data in payloads:
        for name, value in data.items():
            seen.setdefault(name, set()).add(json_type(value))
    return {name: [t for t in JSON_TYPES if t in kinds] for name, kinds in seen.items()}


def infer_catalog(
    source: EventSource, *, sample_size: int = 2_000, per_type_examples: int = 20
) -> InferredCatalog:
    """The event types seen in the newest `sample_size` events of the log, with their fields'
    JSON types (from the newest `per_type_examples` readable payloads of each), schema
    versions, aggregate types, newest example, and the whole log's count of each where
    the source can count it cheaply (`cheap_type_filter`, or a log of at most
    `FULL_COUNT_LIMIT` events)."""
    total = source.count_events()
    sample = _sample(source, max(sample_size, 0))
    by_type: dict[str, list[RecordedEvent]] = {}
    for event in sample:  # newest first
        by_type.setdefault(event.type, []).append(event)
    names = sorted(by_type)
    counts = _counts(source, names, total)
    types = []
    for name in names:
        events = by_type[name]
        readable = [e.data for e in events if isinstance(e.data, dict) and not is_marker(e.data)]
        newest, oldest = events[0], events[-1]
        types.append(
            InferredType(
                name=name,
                count=None if counts is None else counts.get(name),
                in_sample=len(events),
                first_seen_in_sample=Sighting(oldest.position, oldest.recorded_at),
                last_seen=Sighting(newest.position, newest.recorded_at),
                fields=_field_types(readable[: max(per_type_examples, 0)]),
                schema_versions=sorted({e.schema_version for e in events}),
                aggregate_types=sorted({k for e in events if (k := aggregate_type(e))}),
                example=newest,
                unreadable_in_sample=sum(1 for e in events if is_marker(e.data)),
            )
        )
    return InferredCatalog(
        types=types, sampled=len(sample), total=total, counted=counts is not None
    )
