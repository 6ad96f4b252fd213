"""Filters read the same way on every page and in the API: times and payload fields.

Anything malformed is a 400 whose message says what to write.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, request

from webapp.queries import check_data_field_name
from webapp.queries.as_of import BadMoment, moment
from webapp.queries.state import HAPPENED, RECORDED
from webapp.web.context import get_runtime
from webapp.web.numbers import BadNumber, whole_number


def parse_time(name: str, text: str) -> datetime | None:
    """An ISO 8601 date or date-time (as from <input type=datetime-local>); naive means UTC.
    Anything else is a 400 that says what to write."""
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        abort(
            400,
            description=f"The {name!r} filter {text[:40]!r} is not a date or time; "
            "use ISO 8601, e.g. 2024-03-01 or 2024-03-01T09:30.",
        )
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before the year 1 in UTC
        abort(400, description=f"The {name!r} filter {text[:40]!r} is out of range.")


def datetime_local(value: datetime | None) -> str:
    """A parsed time as an <input type=datetime-local> shows it: UTC, to the second ("" for
    None). A link's `2024-03-01` or `...+02:00` would otherwise leave the field empty."""
    if value is None:
        return ""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def parse_time_range(since_text: str, until_text: str) -> tuple[datetime | None, datetime | None]:
    """`since` and `until` read by `parse_time`; an empty range is a 400 too."""
    since, until = parse_time("since", since_text), parse_time("until", until_text)
    if since and until and since >= until:
        abort(400, description="The time range is empty: 'since' must be before 'until'.")
    return since, until


def parse_data_filter(text: str) -> tuple[str, str] | None:
    """`field=value`: the payload's top-level field, compared as text (None when empty)."""
    text = text.strip()
    if not text:
        return None
    name, equals, value = text.partition("=")
    name = name.strip()
    try:
        check_data_field_name(name)
    except ValueError:
        equals = ""
    if not equals:
        abort(
            400,
            description=f"The payload filter {text[:40]!r} is not field=value, e.g. "
            "account_number=10023 (a top-level field: letters, digits and '_').",
        )
    return name, value.strip()


def default_clock() -> str:
    """The clock a time filter reads unless told: when events happened (HAPPENED) where the
    store keeps that, else when they were recorded (RECORDED)."""
    return HAPPENED if get_runtime().source.capabilities.has_business_time else RECORDED


def parse_clock(text: str) -> str:
    """`happened` or `recorded` ("" for the default); a 400 for any other, or for
    `happened` over a store that keeps only when events were recorded."""
    text = text.strip()
    if not text:
        return default_clock()
    if text not in (HAPPENED, RECORDED):
        abort(400, description=f"The clock is {HAPPENED!r} or {RECORDED!r}, not {text[:40]!r}.")
    if text == HAPPENED and default_clock() != HAPPENED:
        abort(
            400, description="This store keeps only when events were recorded: use clock=recorded."
        )
    return text


def parse_moment() -> int | None:
    """The moment a read model is asked about, from the request's `position` (a global
    position, 0 = before the first event, at most the head) or `as_of` (ISO 8601, naive =
    UTC: the last event at or before it, on `clock`: `recorded`, the default, or
    `happened`); None for neither (the live read model). Both at once, a `clock` without
    `as_of`, or anything unreadable is a 400 that says why."""
    position_text = request.args.get("position", "").strip()
    as_of_text = request.args.get("as_of", "").strip()
    clock = request.args.get("clock", "").strip()
    if clock and not as_of_text:
        abort(400, description="'clock' goes with 'as_of'.")
    try:
        position = whole_number(position_text, "'position'") if position_text else None
    except BadNumber as bad:
        abort(400, description=str(bad))
    as_of = parse_time("as_of", as_of_text)
    try:
        return moment(get_runtime(), position=position, as_of=as_of, clock=clock or RECORDED)
    except BadMoment as bad:
        abort(400, description=f"{bad}.")
