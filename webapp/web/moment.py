"""The dashboard's moment: every page as of one position of the log, chosen in the header.

`?position=P`, or `?as_of=ISO-8601[&clock=happened|recorded]`, on any page names it. The
templates' `url_for` adds it to every link to a dashboard page while it is set, GET forms
carry it in hidden fields (`moment_fields()`), and `base.html` shows a banner on every
page: the moment shown and a link back to now, or, on a page that can show only the
present (`MOMENT_PAGES` lists those that can show the past), that it does so.

    moment = past_moment()        # None: the page shows now
    if moment is not None:
        figures = overview_at(get_runtime(), viewer, moment.position)

A date names the last event at or before it on the clock (a date alone: the end of that
day, UTC, as the stream page reads it; the dashboard's default clock is "happened" where
the store keeps it). A date at or after the newest event is now: the page shows live
values. A position is shown as of itself, the head's too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, current_app, g, request, url_for
from markupsafe import Markup

from webapp.queries.as_of import BadMoment, moment, moment_time
from webapp.queries.state import HAPPENED, RECORDED
from webapp.web.context import get_runtime, runs_domain
from webapp.web.filters import default_clock, parse_time
from webapp.web.numbers import BadNumber, whole_number

MOMENT_ARGS = ("position", "as_of", "clock")
MOMENT_PAGES = frozenset(
    {
        "overview.index",
        "streams.index",
        "streams.show",
        "projections.users",
        "projections.accounts",
        "projections.transfers",
    }
)
"""The pages that show the past when a moment is set; every other page shows only now."""
UNCARRIED_BLUEPRINTS = ("api", "api_accounts", "api_projections", "auth")
"""Links to these never carry the moment (the JSON API, signing in and out)."""
CLOCK_NAMES = {HAPPENED: "happened clock", RECORDED: "recorded clock"}


@dataclass(frozen=True)
class Moment:
    """The moment a request names: the global position shown and how it was asked for."""

    position: int
    head: int
    args: dict[str, str] = field(default_factory=dict)
    """The query arguments that name it, as given (kept on links)."""
    clock: str = RECORDED
    as_of: datetime | None = None
    """The date asked for (None: a position was given)."""
    time: datetime | None = None
    """When the last event at or before `position` was recorded or happened (on `clock`)."""

    @property
    def is_past(self) -> bool:
        """False for a date at or after the newest event: the page shows now. A position
        is always shown as of itself (the head's too: exact, where a live read model may
        still be catching up)."""
        return self.as_of is None or self.position < self.head


@dataclass(frozen=True)
class _Refused:
    message: str


def _resolve() -> Moment | _Refused | None:
    """The request's moment, read once per request (None: no moment was asked for)."""
    if "eventscope_moment" in g:
        return g.eventscope_moment
    try:
        found: Moment | _Refused | None = _read_moment()
    except _RefusedError as refused:
        found = _Refused(refused.message)
    g.eventscope_moment = found
    return found


class _RefusedError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _read_moment() -> Moment | None:
    args = request.args
    position_text = args.get("position", "").strip()
    as_of_text = args.get("as_of", "").strip()
    clock_text = args.get("clock", "").strip()
    if not position_text and not as_of_text:
        if clock_text and request.endpoint in MOMENT_PAGES and request.endpoint != "streams.show":
            raise _RefusedError("'clock' goes with 'as_of' (the date the page is shown as of).")
        return None  # elsewhere `clock` alone is the page's own (e.g. the timeline's filter)
    if not runs_domain():
        raise _RefusedError(
            "Pages as of a moment need eventscope's own store; this is a read-only view of "
            "another tool's store."
        )
    position = as_of = None
    clock = default_clock() if as_of_text else RECORDED
    if position_text:
        try:
            position = whole_number(position_text, "'position'")
        except BadNumber as bad:
            raise _RefusedError(str(bad)) from None
    if as_of_text:
        if clock_text:
            if clock_text not in CLOCK_NAMES:
                raise _RefusedError(
                    f"The clock is {HAPPENED!r} or {RECORDED!r}, not {clock_text[:40]!r}."
                )
            clock = clock_text
        as_of = _parse_date(as_of_text)
    runtime = get_runtime()
    try:
        found = moment(runtime, position=position, as_of=as_of, clock=clock)
    except BadMoment as bad:
        raise _RefusedError(f"{str(bad)[:1].upper()}{str(bad)[1:]}.") from None
    assert found is not None
    head = runtime.source.head_position()
    given = {k: args[k].strip() for k in MOMENT_ARGS if args.get(k, "").strip()}
    shown_clock = clock if as_of is not None else RECORDED
    return Moment(
        position=found,
        head=head,
        args=given,
        clock=shown_clock,
        as_of=as_of,
        time=moment_time(runtime, found, shown_clock),
    )


def _parse_date(text: str) -> datetime:
    """ISO 8601 (naive: UTC); a date alone is the end of that day, as the stream page reads it."""
    try:
        instant = parse_time("as_of", text)
    except Exception as refused:  # parse_time aborts with a 400 that says what to write
        description = getattr(refused, "description", None) or "The date is not readable."
        raise _RefusedError(description) from None
    assert instant is not None
    if len(text) == 10:
        instant += timedelta(days=1) - timedelta(microseconds=1)
    return instant


def dashboard_moment() -> Moment | None:
    """The moment the request names (None: none, or one refused with a 400)."""
    found = _resolve()
    return found if isinstance(found, Moment) else None


def past_moment() -> Moment | None:
    """The moment to show when it is in the past (None: the page shows now)."""
    found = dashboard_moment()
    return found if found is not None and found.is_past else None


def past_position() -> int | None:
    """The global position a page shows (None: now)."""
    found = past_moment()
    return None if found is None else found.position


def shows_moment() -> bool:
    """True on a page that can show a past moment."""
    return request.endpoint in MOMENT_PAGES


OWN_MOMENT_ARGS = (*MOMENT_ARGS, "version")
"""A link naming one of these names its own moment (a stream's version is one too)."""


def _carries(endpoint: str, values: dict[str, Any]) -> bool:
    if endpoint in ("static", "favicon") or any(values.get(k) is not None for k in OWN_MOMENT_ARGS):
        return False
    blueprint = endpoint.rpartition(".")[0]
    if blueprint in UNCARRIED_BLUEPRINTS:
        return False
    try:
        rules = list(current_app.url_map.iter_rules(endpoint))
    except KeyError:
        return False
    return any("GET" in (rule.methods or ()) for rule in rules)


def moment_url_for(endpoint: str, **values: Any) -> str:
    """`url_for` for templates: a link to a dashboard page keeps the moment while one is set
    (`_moment=False` drops it; a link that names its own position, date, clock or version
    keeps its own)."""
    keep = values.pop("_moment", True)
    url = url_for(endpoint, **values)
    found = dashboard_moment() if keep else None
    if found is None or not _carries(endpoint, values):
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(found.args)}"


def moment_fields() -> Markup:
    """Hidden inputs carrying the moment in a GET form (whose action's query string is dropped)."""
    found = dashboard_moment()
    if found is None:
        return Markup("")
    return Markup("").join(
        Markup('<input type="hidden" name="{}" value="{}">').format(name, value)
        for name, value in found.args.items()
    )


def now_url() -> str:
    """This page without the moment: the "Back to now" link."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in MOMENT_ARGS]
    return request.path + (f"?{urlencode(kept)}" if kept else "")


def describe(found: Moment) -> str:
    """The moment in words: "position 1,234 (2026-11-30 23:59:59 UTC, recorded clock)"."""
    if found.position == 0:
        when = "before the first event"
    elif found.time is not None:
        when = f"{found.time.strftime('%Y-%m-%d %H:%M:%S')} UTC, {CLOCK_NAMES[found.clock]}"
    else:
        when = CLOCK_NAMES[found.clock]
    if found.as_of is not None and found.position:
        asked = found.as_of.strftime("%Y-%m-%d %H:%M:%S")
        when = f"the last event by {asked} UTC, {CLOCK_NAMES[found.clock]}"
    return f"position {found.position:,} ({when})"


def check_moment() -> None:
    """Before every dashboard page: a moment that cannot be read is a 400 that says why."""
    endpoint = request.endpoint or ""
    if request.method not in ("GET", "HEAD") or endpoint.rpartition(".")[0] in UNCARRIED_BLUEPRINTS:
        return
    if endpoint in ("static", "favicon"):
        return
    found = _resolve()
    if isinstance(found, _Refused):
        abort(400, description=found.message)


def init_app(app: Flask) -> None:
    app.before_request(check_moment)
    app.jinja_env.globals["url_for"] = moment_url_for
    app.jinja_env.globals["dashboard_moment"] = dashboard_moment
    app.jinja_env.globals["past_moment"] = past_moment
    app.jinja_env.globals["shows_moment"] = shows_moment
    app.jinja_env.globals["moment_fields"] = moment_fields
    app.jinja_env.globals["moment_now_url"] = now_url
    app.jinja_env.globals["describe_moment"] = describe
