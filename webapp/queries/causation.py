"""Causation chains: for one event, the command behind it and its whole correlation as a tree.

Commands own the events they produced; a command caused by an event (a process
manager's step) hangs under that event:

    chain = causation_chain(parts, 812, viewer, limit=500)
    chain.roots[0].children   # the first command's events, and what they caused
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webapp.queries.context import Parts, Viewer
from webapp.queries.personal import reveal
from webapp.sources import RecordedEvent


@dataclass
class ChainNode:
    """A command or an event in a causation tree."""

    kind: str  # "command" | "event" | "outside"
    key: str
    label: str
    event: RecordedEvent | None = None
    actor: str | None = None
    parent: str | None = None
    children: list[ChainNode] = field(default_factory=list)
    focus: bool = False
    first_position: int = 0


@dataclass(frozen=True)
class CausationChain:
    event: RecordedEvent
    """The event asked about, decoded for the viewer."""
    command: dict[str, Any]
    """Its metadata: the command that produced it, the actor, the ids."""
    cause: RecordedEvent | None
    """The event that caused that command, if any (e.g. a process manager's)."""
    roots: list[ChainNode]
    count: int
    truncated: bool
    """The correlation held more events than the chain shows."""


def command_key(event: RecordedEvent) -> str | None:
    """The id of the command that produced `event` (its command_id, else command+causation)."""
    md = event.metadata or {}
    if md.get("command_id"):
        return f"command:{md['command_id']}"
    if md.get("command"):
        return f"command:{md.get('command')}@{md.get('causation_id') or event.event_id}"
    return None


def build_chain(events: list[RecordedEvent], focus: RecordedEvent) -> list[ChainNode]:
    """The causation forest of `events` (one correlation): commands own the events they
    produced; a command caused by an event hangs under that event."""
    nodes: dict[str, ChainNode] = {}
    for event in events:
        md = event.metadata or {}
        ckey = command_key(event)
        if ckey is not None and ckey not in nodes:
            causation = str(md.get("causation_id") or "")
            own_id = str(md.get("command_id") or "")
            parent = f"event:{causation}" if causation and causation != own_id else None
            nodes[ckey] = ChainNode(
                kind="command",
                key=ckey,
                label=str(md.get("command") or "command"),
                actor=md.get("actor"),
                parent=parent,
                first_position=event.position,
            )
        ekey = f"event:{event.event_id}"
        parent = ckey
        if parent is None and md.get("causation_id"):
            parent = f"event:{md['causation_id']}"
        nodes[ekey] = ChainNode(
            kind="event",
            key=ekey,
            label=event.type,
            event=event,
            actor=md.get("actor"),
            parent=parent,
            focus=event.event_id == focus.event_id,
            first_position=event.position,
        )
    roots: list[ChainNode] = []
    attached: dict[str, str] = {}  # child key -> the parent it hangs under in the tree
    for node in sorted(nodes.values(), key=lambda n: (n.first_position, n.kind != "command")):
        above = nodes.get(node.parent) if node.parent else None
        if above is not None and not _hangs_under(above.key, node.key, attached):
            above.children.append(node)
            attached[node.key] = above.key
        else:
            roots.append(node)
    return roots


def _hangs_under(key: str, ancestor: str, attached: dict[str, str]) -> bool:
    """True if `key` is `ancestor` or already sits below it (guards against causation cycles)."""
    seen: set[str] = set()
    current: str | None = key
    while current is not None and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = attached.get(current)
    return False


def causing_event(parts: Parts, event: RecordedEvent) -> RecordedEvent | None:
    """The event that caused the command behind `event`, if any (e.g. a process manager's)."""
    md = event.metadata or {}
    causation = md.get("causation_id")
    if not causation or causation == md.get("command_id"):
        return None
    return parts.source.get_event_by_id(str(causation))


def causation_chain(
    parts: Parts, position: int, viewer: Viewer, *, limit: int
) -> CausationChain | None:
    """The chain of the event at `position` (None if there is none): at most `limit` events
    of its correlation, decoded for `viewer`."""
    source = parts.source
    event = source.get_event(position)
    if event is None:
        return None
    correlation = event.correlation_id
    related = [event]
    if correlation:
        related = source.read_correlated(str(correlation), limit=limit + 1)
    truncated = len(related) > limit
    related = related[:limit]
    if all(e.position != event.position for e in related):
        related = sorted([*related, event], key=lambda e: e.position)
    shown = reveal(parts, related, viewer, where=f"causation chain of event {position}")
    focus = next(e for e in shown if e.position == event.position)
    cause = causing_event(parts, event)
    if cause is not None:
        cause = reveal(parts, [cause], viewer, where=f"causation of event {position}")[0]
    return CausationChain(
        event=focus,
        command=focus.metadata or {},
        cause=cause,
        roots=build_chain(shown, focus),
        count=len(shown),
        truncated=truncated,
    )
