"""How values reach a page or a JSON reply: JSON for event and read-model values, and text
that wraps where an id has natural breaks."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response
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

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON reply, as Flask's own (compact; indented in debug mode)."""
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        if orjson is not None and not pretty:
            body = fast_json(self._prepare_response_obj(args, kwargs))
            if body is not None:
                return self._app.response_class(body, mimetype=self.mimetype)
        return super().response(*args, **kwargs)


FAST_OPTIONS = 0
if orjson is not None:
    # what the standard library would hand to `default` goes to `json_default` here too
    FAST_OPTIONS = (
        orjson.OPT_APPEND_NEWLINE
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
    )


def iso_time(at: datetime) -> str:
    """`at.isoformat()`. A UTC time (every time the store records) is written by orjson,
    which gives the same text several times quicker than `isoformat` does for an aware
    time; it would differ only for offsets with seconds, which UTC never has."""
    if at.tzinfo is UTC and orjson is not None:
        return orjson.dumps(at)[1:-1].decode()
    return at.isoformat()


def fast_json(value: Any) -> bytes | None:
    """`value` as compact JSON by orjson, or None when only the standard library can encode
    it (integers beyond 64 bits, keys that are not strings, subclasses of str or int, text
    that is not valid Unicode): the caller then encodes it as before."""
    if orjson is None:
        return None
    try:
        return orjson.dumps(value, default=json_default, option=FAST_OPTIONS)
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
