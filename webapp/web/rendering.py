"""How values reach a page or a JSON reply: JSON for event and read-model values, and text
that wraps where an id has natural breaks."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup


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
    sort_keys = False
    default = staticmethod(json_default)  # type: ignore[assignment]


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
