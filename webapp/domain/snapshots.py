"""Serialising aggregate state to JSON for snapshots and for display."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Any

_PLAIN = (str, int, float, bool, type(None))


def encode_value(value: Any) -> Any:
    """Encoder for values JSON lacks: dates, decimals, UUIDs, enums, sets, dataclasses."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, bytes):
        return value.hex()
    to_json = getattr(value, "to_json", None) or getattr(value, "__json__", None)
    if callable(to_json):
        return to_json()
    return str(value)  # e.g. a privacy marker in a personal field: show it, never fail


def json_safe(value: Any) -> Any:
    """`value` as plain JSON data (dicts, lists, str, numbers, bool, None)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        if all(isinstance(v, _PLAIN) for v in value.values()) and all(
            isinstance(k, str) for k in value
        ):
            return dict(value)
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return json_safe(encode_value(value))


def approx_size(state: dict[str, Any]) -> int:
    """Approximate memory of a state: the length of its JSON form, in bytes."""
    return len(json.dumps(state, default=encode_value, separators=(",", ":")))
