"""The store's JSON codec on CPython's C encoder and scanner: compact dumps, quick loads."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from webapp.database.json_loads import load_json


def _not_json(value: object) -> object:
    msg = f"{type(value).__name__} is not JSON-serialisable"
    raise TypeError(msg)


def make_dumps() -> Callable[[Any], str]:
    """Compact, ASCII-only JSON without NaN, built once (json.dumps rebuilds its encoder
    on every call). Cycles end in RecursionError, which append reports as bad input."""
    try:
        from json.encoder import c_make_encoder, encode_basestring_ascii
    except ImportError:  # pragma: no cover - CPython always has the C encoder
        c_make_encoder = None
    if c_make_encoder is None:  # pragma: no cover
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    encode = c_make_encoder(
        None, _not_json, encode_basestring_ascii, None, ":", ",", False, False, False
    )
    join = "".join

    def dumps(value: Any) -> str:
        return join(encode(value, 0))

    return dumps


dumps = make_dumps()
_UUID = uuid.UUID
_new_object = object.__new__
_set_attribute = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def uuid_from_hex(text: str) -> uuid.UUID:
    """uuid.UUID(hex=text) for the store's own 32-digit hex, without __init__'s parsing."""
    value = _new_object(_UUID)
    _set_attribute(value, "int", int(text, 16))
    _set_attribute(value, "is_safe", _UNKNOWN_SAFETY)
    return value


def load_object(text: str) -> Any:
    """json.loads for the compact JSON objects the store writes ("{}" is the common metadata)."""
    if text == "{}":
        return {}
    return load_json(text)


_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def has_nul(text: str) -> bool:
    """Whether JSON text holds a NUL character (PostgreSQL's jsonb refuses those)."""
    return "\\u0000" in text and _NUL_ESCAPE.search(text) is not None
