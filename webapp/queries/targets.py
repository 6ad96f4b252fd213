"""Whether the thing a review note is pinned to exists: an event type, a stream or an event."""

from __future__ import annotations

from webapp.domain import event_class
from webapp.queries.context import Parts, runs_domain


def target_exists(parts: Parts, kind: str, target: str) -> bool:
    """True if the stream, the event at that position, or the event type is known: a type
    counts when the domain declares it or the log holds an event of it."""
    source = parts.source
    if kind == "stream":
        return source.stream_info(target) is not None
    if kind == "event":
        return source.get_event(int(target)) is not None
    if event_class(target) is not None:
        return True
    if not runs_domain(parts):  # no index by type: one count over the whole store
        return source.count_by_type([target]).get(target, 0) > 0
    return bool(source.read_all_backward(None, limit=1, types=[target]))
