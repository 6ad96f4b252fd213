"""Data subjects: finding them, where their personal data lives, and that data shown in clear.

Locating a subject reads no values: it lists streams, versions, snapshots and how many
read-model rows hold them. Showing the values goes through privacy and writes the
access log.

    location = locate_subject(parts, "u-42")
    location.streams[0].versions, location.read_models, location.status.forgotten
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webapp.domain import event_class, personal_data_of
from webapp.privacy import AccessEntry, SubjectStatus, crypto, subject_status
from webapp.queries.context import Parts, Viewer
from webapp.queries.personal import record_view, reveal
from webapp.sources import RecordedEvent, Snapshot, StreamInfo

SCAN_LIMIT = 500
"""At most this many events of one stream are scanned for a subject's fields."""
READ_PAGE = 200
RELATED_LIMIT = 50


@dataclass
class StreamPlace:
    info: StreamInfo
    versions: list[int] = field(default_factory=list)
    """Versions of events that carry the subject's personal fields."""
    earlier_versions: list[int] = field(default_factory=list)
    """Versions whose fields were sealed under a key forgotten before a re-registration."""
    fields: set[str] = field(default_factory=set)
    scanned_all: bool = True
    snapshots: list[Snapshot] = field(default_factory=list)
    personal: bool = True
    """False for a related stream (e.g. an account they own) that holds none of their fields."""


@dataclass
class Location:
    subject_id: str
    status: SubjectStatus
    streams: list[StreamPlace]
    related: list[StreamPlace]
    read_models: dict[str, int]
    """Projection name -> rows holding the subject."""
    user_row: dict[str, Any] | None = None

    @property
    def event_count(self) -> int:
        return sum(len(place.versions) for place in self.streams)

    @property
    def earlier_event_count(self) -> int:
        return sum(len(place.earlier_versions) for place in self.streams)

    @property
    def snapshot_count(self) -> int:
        return sum(len(place.snapshots) for place in self.streams)

    @property
    def fields(self) -> set[str]:
        """The names of the personal fields their events carry (what a reveal may single out)."""
        return {name for place in self.streams for name in place.fields}


def subject_fields(event: RecordedEvent, subject_id: str) -> set[str]:
    """The fields of `event` that are `subject_id`'s personal data (by the event's declaration)."""
    cls = event_class(event.type)
    if cls is None:
        return set()
    return {
        name
        for name, owner_field in personal_data_of(cls).items()
        if name in event.data and str(event.data.get(owner_field)) == subject_id
    }


def sealed_under_epoch(event: RecordedEvent, fields: set[str], epoch: int) -> bool:
    """Whether any of the event's `fields` was sealed under the subject's key of `epoch`
    (a field stored in plain text counts as readable)."""
    for name in fields:
        value = event.data.get(name)
        if not crypto.is_envelope(value) or crypto.envelope_epoch(value) == epoch:
            return True
    return False


def scan_stream(
    parts: Parts, info: StreamInfo, subject_id: str, epoch: int | None = None
) -> StreamPlace:
    """Which events of one stream carry the subject's fields (at most SCAN_LIMIT events).

    With the `epoch` of a re-registered subject's key, events sealed under an earlier,
    forgotten key are listed apart: their fields are unreadable."""
    source = parts.source
    place = StreamPlace(info=info)
    version = 1
    scanned = 0
    while scanned < SCAN_LIMIT:
        batch = source.read_stream(info.stream_id, version, limit=READ_PAGE)
        for event in batch:
            found = subject_fields(event, subject_id)
            if not found:
                continue
            if epoch is None or sealed_under_epoch(event, found, epoch):
                place.versions.append(event.stream_version)
                place.fields |= found
            else:
                place.earlier_versions.append(event.stream_version)
        scanned += len(batch)
        if len(batch) < READ_PAGE:
            break
        version = batch[-1].stream_version + 1
    place.scanned_all = scanned < SCAN_LIMIT or version > info.version
    place.snapshots = source.list_snapshots(info.stream_id)
    return place


def candidate_streams(parts: Parts, subject_id: str) -> list[str]:
    """Streams that may hold the subject's data: privacy's record of them, plus the stream
    each aggregate type would give this id (the record is deleted on forget)."""
    found = list(parts.privacy.keys.streams_of(subject_id))
    found += [f"{route.prefix}{subject_id}" for route in parts.router.routes()]
    return list(dict.fromkeys(found))


def related_streams(parts: Parts, subject_id: str) -> list[str]:
    """Streams about the subject without their personal fields (accounts they own)."""
    try:
        return parts.projections.related_streams(subject_id)[:RELATED_LIMIT]
    except Exception:  # noqa: BLE001 - a read model not built yet must not break the page
        return []


def read_model_rows(parts: Parts, subject_id: str) -> tuple[dict[str, int], dict[str, Any] | None]:
    """How many rows each read model holds on the subject, and their user-directory row.

    Only counts and the forgotten flag leave this function, never values."""
    exported = parts.projections.export_subject(subject_id)
    counts = {name: len(rows) for name, rows in exported.items()}
    read_models = parts.read_models
    row = read_models.get("users", subject_id) if "users" in read_models else None
    user = None
    if row is not None:
        user = {"user_id": row["user_id"], "forgotten": bool(row["forgotten"])}
    return counts, user


def locate_subject(parts: Parts, subject_id: str) -> Location:
    """Where the subject's personal data lives: streams, events, snapshots, read models."""
    keys = parts.privacy.keys
    key = keys.subject(subject_id)
    status = subject_status(subject_id, key)
    source = parts.source
    recorded = set(keys.streams_of(subject_id))
    # a re-registered subject's events sealed under an earlier key are listed apart
    epoch = key.epoch if key is not None and not key.forgotten and key.epoch > 1 else None
    streams: list[StreamPlace] = []
    for stream_id in candidate_streams(parts, subject_id):
        info = source.stream_info(stream_id)
        if info is None:
            continue
        place = scan_stream(parts, info, subject_id, epoch)
        if place.versions or place.earlier_versions or stream_id in recorded:
            streams.append(place)
    known = {place.info.stream_id for place in streams}
    related = []
    for stream_id in related_streams(parts, subject_id):
        info = source.stream_info(stream_id)
        if info is not None and stream_id not in known:
            related.append(StreamPlace(info=info, personal=False))
    counts, user = read_model_rows(parts, subject_id)
    return Location(subject_id, status, streams, related, counts, user)


def subject_exists(parts: Parts, subject_id: str) -> bool:
    """Whether privacy knows the subject or some stream of theirs exists."""
    if parts.privacy.status(subject_id).state != "unknown":
        return True
    source = parts.source
    return any(source.stream_info(s) is not None for s in candidate_streams(parts, subject_id))


def subject_status_of(parts: Parts, subject_id: str) -> SubjectStatus:
    """Whether the subject is active, forgotten or unknown, and the facts of a forget."""
    return parts.privacy.status(subject_id)


def subjects_with_email(parts: Parts, email: str, viewer: Viewer) -> list[SubjectStatus]:
    """The subjects who used this e-mail address (blind index; support and admin; logged)."""
    return parts.privacy.subjects_with_email(email, actor=viewer.actor, role=viewer.role)


def find_subjects(parts: Parts, query: str, viewer: Viewer) -> tuple[list[SubjectStatus], str]:
    """Subjects matching `query`: an e-mail address through the blind index, else an id.
    Also says what was searched by ("e-mail" or "subject id")."""
    if "@" in query:
        return subjects_with_email(parts, query, viewer), "e-mail"
    found = [parts.privacy.status(query)] if subject_exists(parts, query) else []
    return found, "subject id"


@dataclass(frozen=True)
class RecentForget:
    """A forget from the access log, with the reason it was given."""

    entry: AccessEntry
    reason: str | None
    """The reason recorded with the forget (None once the subject was registered again)."""

    @property
    def again(self) -> bool:
        """A forget of someone already forgotten (it shredded nothing new)."""
        return "again" in self.entry.what


def recent_forgets(parts: Parts, limit: int) -> list[RecentForget]:
    """The newest forgets in the access log, each with the reason it was given."""
    entries = parts.privacy.access_log(action="forget", limit=limit).entries
    reasons: dict[str, str | None] = {}
    for entry in entries:
        if entry.subject_id not in reasons:
            reasons[entry.subject_id] = parts.privacy.status(entry.subject_id).forgotten_reason
    return [RecentForget(entry, reasons[entry.subject_id]) for entry in entries]


@dataclass(frozen=True)
class SubjectData:
    events: list[tuple[RecordedEvent, set[str]]]
    """Each event carrying the subject's fields, decoded for the viewer, with those fields."""
    rows: dict[str, list[dict[str, Any]]]
    """Read model -> the rows holding the subject (none once they are forgotten, none unless
    the viewer may see the subject's data in clear)."""
    hidden_rows: dict[str, int] = field(default_factory=dict)
    """Read model -> how many rows hold the subject, when their values are not shown."""


def subject_data(parts: Parts, location: Location, viewer: Viewer) -> SubjectData:
    """The subject's personal data for `viewer`: their events and read-model rows, in clear
    only as far as the viewer may see them (revealed on purpose in the dashboard)."""
    subject_id = location.subject_id
    source = parts.source
    events: list[RecordedEvent] = []
    for place in location.streams:
        for version in place.versions:
            events += source.read_stream(place.info.stream_id, version, limit=1)
    shown = reveal(parts, events, viewer, where=f"subject page of {subject_id}")
    rows: dict[str, list[dict[str, Any]]] = {}
    hidden: dict[str, int] = {}
    if not location.status.forgotten:
        rows = {k: v for k, v in parts.projections.export_subject(subject_id).items() if v}
        if rows and not viewer.may_see(subject_id):
            rows, hidden = {}, {k: len(v) for k, v in rows.items()}
        elif rows:
            record_view(parts, viewer, subject_id, "subject page: read-model rows")
    return SubjectData(
        [(event, subject_fields(event, subject_id)) for event in shown], rows, hidden
    )
