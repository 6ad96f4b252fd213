"""An aggregate's state at a version, as a viewer may see it: the one path every page and the
API use.

The state is rebuilt by the domain's history (newest current snapshot at or below the
version before, then the events up to it) through privacy's reader for the viewer's role:
masked for viewers; in clear for support and admin, with one access-log entry per
subject shown; a placeholder once a subject is forgotten.

    found = state_at(parts, "account-7", 12, viewer)
    found.state, found.changes, found.snapshot_at, found.replayed
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.domain import PayloadCodec, Repository
from webapp.domain.diff import diff_states
from webapp.domain.history import replay_from
from webapp.queries.context import Parts, Viewer
from webapp.queries.personal import privacy_flags
from webapp.queries.streams import TimelineRow
from webapp.sources import RecordedEvent
from webapp.store import NewEvent
from webapp.store.business_time import occurred_time


class _PersonalOnly:
    """privacy's reader for the viewer, asked only about events that hold personal fields:
    the others need no decoding, so a long replay folds them the lean way."""

    def __init__(self, reader: PayloadCodec, needs_decode: Callable[[Mapping[str, Any]], bool]):
        self._reader = reader
        self.needs_decode = needs_decode

    def encode(self, stream_id: str, event: NewEvent) -> NewEvent:
        return self._reader.encode(stream_id, event)

    def decode(self, event: RecordedEvent) -> RecordedEvent:
        return self._reader.decode(event) if self.needs_decode(event.data) else event


class MissingVersion(LookupError):
    """The stream has no event at the version asked for."""


@dataclass(frozen=True)
class VersionState:
    """The aggregate after one event: its state, what the event changed, how it was loaded."""

    stream_id: str
    version: int
    aggregate_type: str
    state: dict[str, Any]
    changes: list[dict[str, Any]]
    """{path, kind, before, after} for each field event `version` changed."""
    snapshot_at: int | None
    """The snapshot the state before the event was loaded from (None: a replay)."""
    replayed: int
    """Events applied on top of that snapshot, this one included."""
    duration_ms: float
    row: TimelineRow
    """The event itself, as read today and as stored."""
    flags: dict[str, str]
    """Field -> "forgotten" | "masked" | "unreadable" for each placeholder in the state."""


def state_at(parts: Parts, stream_id: str, version: int, viewer: Viewer) -> VersionState | None:
    """The aggregate of `stream_id` after event `version`, decoded for `viewer`, and what that
    event changed. None for a stream no aggregate owns (its events have no state); raises
    MissingVersion when the stream has no such event."""
    if version < 1:
        msg = f"Stream versions start at 1, not {version}."
        raise MissingVersion(msg)
    router = parts.router
    if router is None:
        return None
    aggregate_cls = router.aggregate_for_stream(stream_id)
    if aggregate_cls is None:
        return None
    privacy = parts.privacy
    reader = privacy.reader(
        role=viewer.role,
        actor=viewer.actor,
        where=f"state of {stream_id} at {version}",
        reveals=viewer.reveals,
    )
    codec = _PersonalOnly(reader, privacy.codec.needs_decode)
    repository = Repository(parts.source, codec=codec, upcasters=router.repository.upcasters)
    replay = replay_from(repository, aggregate_cls, stream_id, version, limit=1)
    if not replay.steps:
        msg = f"Stream {stream_id!r} has no version {version}."
        raise MissingVersion(msg)
    step = replay.steps[0]
    load = replay.start.load
    return VersionState(
        stream_id=stream_id,
        version=version,
        aggregate_type=aggregate_cls.aggregate_type,
        state=step.state,
        changes=step.changes,
        snapshot_at=load.snapshot_version,
        replayed=load.events_replayed + 1,
        duration_ms=load.duration_ms,
        row=TimelineRow(step.event, step.original, privacy_flags(step.event.data)),
        flags=dict(privacy_flags(step.state)),
    )


HAPPENED, RECORDED = "happened", "recorded"
"""The clocks a date is read by: when an event happened (the domain's `occurred_at`, else
when it was recorded) and when the store recorded it."""
AS_OF_SCAN = 500
"""Events read per round trip while looking for the version as of a date."""


def event_time(event: RecordedEvent, clock: str) -> datetime:
    """When `event` happened (business time, else recorded) or was recorded."""
    if clock == HAPPENED:
        happened = occurred_time(event.metadata)
        if happened is not None:
            return happened
    return event.recorded_at


def version_as_of(parts: Parts, stream_id: str, moment: datetime, clock: str) -> int:
    """The last version of the stream whose event happened (or was recorded) at or before
    `moment` (0: none had). Business times need not rise with the version, so every event
    of the stream is looked at."""
    found, after = 0, 1
    while True:
        events = parts.source.read_stream(stream_id, after, limit=AS_OF_SCAN)
        for event in events:
            if event_time(event, clock) <= moment:
                found = event.stream_version
        if len(events) < AS_OF_SCAN:
            return found
        after = events[-1].stream_version + 1


@dataclass(frozen=True)
class Comparison:
    """The aggregate at two versions of one stream and the fields that differ."""

    earlier: VersionState
    later: VersionState
    changes: list[dict[str, Any]]
    """{path, kind, before, after}: from the state at `earlier` to the state at `later`."""


def compare_versions(
    parts: Parts, stream_id: str, a: int, b: int, viewer: Viewer
) -> Comparison | None:
    """The state at versions `a` and `b` (in either order) and the field differences from the
    older to the newer, decoded for `viewer`. None for a stream no aggregate owns; raises
    MissingVersion for a version the stream does not have."""
    low, high = sorted((a, b))
    earlier = state_at(parts, stream_id, low, viewer)
    later = state_at(parts, stream_id, high, viewer)
    if earlier is None or later is None:
        return None
    changes = [change.to_dict() for change in diff_states(earlier.state, later.state)]
    return Comparison(earlier, later, changes)
