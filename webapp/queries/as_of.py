"""Which moment of the log a read model is asked about, and its rows as they stood then.

    position = moment(parts, position=None, as_of=datetime(...), clock="recorded")
    row = account_summary_at(parts, "A-1", position)

A moment is a global position P: the read model after every event up to and including P.
Position 0 is the moment before the first event (every read model is empty then). A date
names the last event at or before it on the chosen clock: when the store recorded events
(`recorded`), or when they happened (`happened`: the `occurred_at` the domain gave, else
the recorded time); a date before the first event is position 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from webapp.queries.context import Parts
from webapp.queries.state import HAPPENED, RECORDED, event_time
from webapp.sources import StreamInfo

CLOCKS = (RECORDED, HAPPENED)


class BadMoment(ValueError):
    """A position or date no read model can be asked about (the message says why)."""


def moment(
    parts: Parts,
    *,
    position: int | None = None,
    as_of: datetime | None = None,
    clock: str = RECORDED,
) -> int | None:
    """The global position named by `position` or by `as_of` on `clock` (None: neither was
    given, read the live model). Raises BadMoment for both at once, a negative position, a
    position beyond the head, or a clock the store does not keep."""
    if position is not None and as_of is not None:
        msg = "give either 'position' or 'as_of', not both"
        raise BadMoment(msg)
    if clock not in CLOCKS:
        msg = f"'clock' is {RECORDED!r} (the default) or {HAPPENED!r}, not {clock[:40]!r}"
        raise BadMoment(msg)
    if position is not None:
        if position < 0:
            msg = f"'position' must be 0 or more, not {position}"
            raise BadMoment(msg)
        head = parts.source.head_position()
        if position > head:
            msg = f"position {position} is beyond the head of the log ({head})"
            raise BadMoment(msg)
        return position
    if as_of is not None:
        return position_at(parts, as_of, clock)
    return None


def position_at(parts: Parts, instant: datetime, clock: str = RECORDED) -> int:
    """The position of the last event at or before `instant` on `clock` (0: none)."""
    if clock == HAPPENED and not parts.source.capabilities.has_business_time:
        msg = "this store keeps only when events were recorded: use clock=recorded"
        raise BadMoment(msg)
    try:
        just_after = instant + timedelta(microseconds=1)  # `until` bounds are exclusive
    except OverflowError:  # the last instant a date can name: every event is before it
        return parts.source.head_position()
    lookup = getattr(parts.source, "last_position_before", None)
    if lookup is not None:  # eventscope's own store: the clock blocks, not a scan
        return int(lookup(just_after, clock))
    window = {"occurred_until": just_after} if clock == HAPPENED else {"until": just_after}
    found = parts.source.read_all_backward(None, limit=1, **window)  # type: ignore[arg-type]
    return found[0].position if found else 0


def account_summary_at(parts: Parts, account_number: str, position: int) -> dict[str, Any] | None:
    """The account-summary row as it stood at `position`, rebuilt from the log, or None if
    the account did not exist then."""
    row = parts.read_models.get("accounts", account_number, position=position)
    return None if row is None else dict(row)


def moment_time(parts: Parts, position: int, clock: str = RECORDED) -> datetime | None:
    """When the last event at or before `position` was recorded (or happened, on `clock`);
    None at position 0 (before the log)."""
    if position <= 0:
        return None
    found = parts.source.read_all_backward(position + 1, limit=1)
    return event_time(found[0], clock) if found else None


def streams_at(
    parts: Parts, position: int, prefix: str = "", *, after: str | None = None, limit: int = 100
) -> tuple[list[StreamInfo], bool]:
    """One page of the streams that existed at `position` (an event at or before it), in
    stream-id order after `after`, each with its version and last recorded time then; and
    whether more follow. Needs eventscope's own store (another tool's has no such read)."""
    rows = parts.source.list_streams_at(position, prefix, after=after, limit=limit + 1)  # type: ignore[attr-defined]
    return rows[:limit], len(rows) > limit


def version_at(parts: Parts, stream_id: str, position: int) -> int:
    """The stream's version as the log stood at `position` (0: it had no event yet)."""
    if position <= 0:
        return 0
    found = parts.source.list_streams_at(position, stream_id, limit=1)  # type: ignore[attr-defined]
    return found[0].version if found and found[0].stream_id == stream_id else 0
