"""How values reach a page or a JSON reply: JSON for event and read-model values, and text
that wraps where an id has natural breaks."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, current_app
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup

try:  # the `fast` extra
    import orjson
except ImportError:  # pragma: no cover - the standard library encodes instead
    orjson = None  # type: ignore[assignment]


def json_default(value: Any) -> Any:
    """JSON for the values events and read models hold (times as ISO 8601, ids as text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):  # a subclass (a privacy placeholder, Markup): its text, as
        return str.__str__(value)  # the standard library writes it, whatever __str__ says
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    msg = f"{type(value).__name__} is not JSON serialisable"
    raise TypeError(msg)


class EventscopeJSONProvider(DefaultJSONProvider):
    """Flask's JSON with eventscope's types; replies are encoded by orjson when it is
    installed (the `fast` extra), several times quicker on a page of events."""

    sort_keys = False
    default = staticmethod(json_default)  # type: ignore[assignment]

    def pretty(self) -> bool:
        """Whether replies are indented (debug mode, or `compact` set False)."""
        return (self.compact is None and self._app.debug) or self.compact is False

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON reply, as Flask's own (compact; indented in debug mode)."""
        return self.reply(self._prepare_response_obj(args, kwargs))

    def reply(self, value: Any, options: int | None = None) -> Response:
        """`value` as a JSON reply: by orjson with `options` (default FAST_OPTIONS), else
        (debug mode, or what only the standard library encodes) as Flask's own."""
        if not self.pretty():
            body = fast_json(value, options)
            if body is not None:
                return self._app.response_class(body, mimetype=self.mimetype)
        return super().response(value)


FAST_OPTIONS = 0
if orjson is not None:
    # what the standard library would hand to `default` goes to `json_default` here too
    FAST_OPTIONS = (
        orjson.OPT_APPEND_NEWLINE
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
    )


TIMES_AS_TEXT_OPTIONS = FAST_OPTIONS & ~orjson.OPT_PASSTHROUGH_DATETIME if orjson else 0
"""FAST_OPTIONS, with times written by orjson itself: for replies whose every time is UTC
(`utc_or_text`), where orjson writes exactly what `isoformat` would."""


def utc_or_text(at: datetime) -> datetime | str:
    """`at` as a reply encoded with TIMES_AS_TEXT_OPTIONS may carry it: a UTC time as it is
    (orjson writes it as `isoformat` does, in C), any other as its `isoformat()`."""
    return at if at.tzinfo is UTC and orjson is not None else at.isoformat()


def json_reply(value: Any) -> Response:
    """`jsonify(value)` for a reply whose times went through `utc_or_text`: compact JSON
    by orjson in one call, times included (`jsonify` where orjson cannot encode it, or in
    debug mode)."""
    return current_app.json.reply(value, TIMES_AS_TEXT_OPTIONS)  # type: ignore[attr-defined]


def fast_json(value: Any, options: int | None = None) -> bytes | None:
    """`value` as compact JSON by orjson (with `options`, default FAST_OPTIONS), or None when
    only the standard library can encode it (integers beyond 64 bits, keys that are not
    strings, subclasses of int, text that is not valid Unicode): the caller then
    encodes it as before."""
    if orjson is None:
        return None
    try:
        option = FAST_OPTIONS if options is None else options
        return orjson.dumps(value, default=json_default, option=option)
    except TypeError:
        return None


def pretty_json(value: Any) -> str:
    """Indented JSON as plain text; the template's autoescaping makes it safe to show."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=json_default)


def compact_json(value: Any) -> str:
    """One-line JSON as plain text (autoescaped by the template)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=json_default)


_BREAK_AFTER = re.compile(r"(?<=[:_.@-])")
_WBR = Markup("<wbr>")


def soft_breaks(value: Any) -> Markup:
    """`value` escaped, with a line-break opportunity after `: _ . @ -`, so an id such as
    `process:transfer_money` wraps between its parts in a narrow column, not mid-word."""
    return _WBR.join(_BREAK_AFTER.split(str(value)))  # join escapes each part
