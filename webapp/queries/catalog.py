"""The event catalog: every event type and command, who reads each type, how many are stored,
and the newest example of each.

    catalog = domain_catalog(parts)
    counts = event_counts(parts, [e["name"] for e in catalog["events"]])
    examples = latest_examples(parts, ["MoneyDeposited"], counts, viewer)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webapp.domain import build_catalog
from webapp.queries.context import Parts, Viewer
from webapp.queries.personal import reveal
from webapp.sources import RecordedEvent

COUNTS_PROJECTION = "event_type_counts"
FALLBACK_COUNT_LIMIT = 50_000
"""Without the counting projection, COUNT per type only on a store this small (stays fast)."""


def domain_catalog(parts: Parts) -> dict[str, Any]:
    """The domain's events and commands (with emitters), plus the route table."""
    return build_catalog(parts.router)


def hand_sent_commands(catalog: dict[str, Any]) -> set[str]:
    """The commands a person sends (the console offers them); the rest are process-manager steps."""
    return {c["name"] for c in catalog["commands"] if not c.get("internal")}


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    kind: str  # "projection" | "process_manager"
    every_type: bool = False


def consumers(parts: Parts) -> list[tuple[Consumer, frozenset[str] | None]]:
    """Each projection and process manager with the event types it reads (None: every type)."""
    projections = parts.projections
    found: list[tuple[Consumer, frozenset[str] | None]] = []
    for name in projections.names():
        handles = projections.get(name).handles
        found.append((Consumer(name, "projection", handles is None), handles))
    for name in projections.process_names():
        types = frozenset(projections.get_process(name).interested_types)
        found.append((Consumer(name, "process_manager"), types))
    return found


def consumers_by_type(parts: Parts, catalog: dict[str, Any]) -> dict[str, list[Consumer]]:
    """Event type -> the projections and process managers that read it."""
    out: dict[str, list[Consumer]] = {e["name"]: [] for e in catalog["events"]}
    for consumer, types in consumers(parts):
        for name in out:
            if types is None or name in types:
                out[name].append(consumer)
    return out


@dataclass
class Counts:
    """Events per type and how current the figures are."""

    by_type: dict[str, int] = field(default_factory=dict)
    last_positions: dict[str, int] = field(default_factory=dict)
    source: str = "none"  # "projection" | "count" | "none"
    position: int = 0
    head: int = 0

    @property
    def behind(self) -> int:
        return max(self.head - self.position, 0)


def event_counts(parts: Parts, type_names: list[str]) -> Counts:
    """Counts from the event-type-counts projection (one small table), never a scan of the log.

    The projection reads every event, so the newest position it counted is how far
    the figures reach; the head shows how far behind they are. Without it, a small
    store is counted type by type.
    """
    source = parts.source
    counts = Counts(head=source.head_position())
    projections = parts.projections
    if COUNTS_PROJECTION in projections.names():
        rows = projections.event_type_counts()
        if rows or counts.head == 0:
            counts.by_type = {r["event_type"]: int(r["count"]) for r in rows}
            counts.last_positions = {r["event_type"]: int(r["last_position"]) for r in rows}
            counts.position = max((int(r["last_position"]) for r in rows), default=0)
            counts.source = "projection"
            return counts
    if counts.head <= FALLBACK_COUNT_LIMIT:
        counts.by_type = source.count_by_type(type_names)
        counts.source, counts.position = "count", counts.head
    return counts


def latest_examples(
    parts: Parts, type_names: list[str], counts: Counts | None, viewer: Viewer
) -> dict[str, RecordedEvent]:
    """The newest stored event of each type as an example, its personal fields always masked
    (an example is no reason to show anyone's data). Over another tool's store, where no field
    is known to be personal, the payload is shown as stored and the showing logged.

    With the counting projection's figures each example is one primary-key read at the
    type's `last_position` (types it never saw are skipped); without them, one read on
    the (type, position) index per type.
    """
    source = parts.source
    found: list[RecordedEvent] = []
    if counts is not None and counts.source == "projection":
        for name in type_names:
            position = counts.last_positions.get(name)
            event = source.get_event(position) if position else None
            if event is not None:
                found.append(event)
    else:
        for name in type_names:
            found.extend(source.read_all_backward(None, limit=1, types=[name]))
    revealed = reveal(parts, found, viewer.masked(), where="event catalog examples")
    return {event.type: event for event in revealed}
