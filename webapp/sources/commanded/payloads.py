"""What an EventStore `data` or `metadata` cell holds, as a dict a page can show.

The column is `jsonb` (the JsonbSerializer: read as it is) or `bytea`, whose bytes are
sniffed: 0x83 opens an Erlang term (the default TermSerializer), `{` or `[` JSON text
(a JSON serializer); anything else, or bytes that do not decode, is shown marked:

>>> decode_cell(b"\\x00\\x01", "bytea")
{'undecodable': 'neither an Erlang term nor JSON', 'hex': '0001'}

A value that is not a dict (a list, a number) is wrapped as `{"value": ...}`.
"""

from __future__ import annotations

import json
from typing import Any, Final

from webapp.sources.commanded.etf import VERSION, UndecodableTerm, decode

HEX_SHOWN: Final = 256
"""Bytes of an undecodable cell shown in hex (the start of it)."""


def decode_cell(value: Any, column_type: str) -> dict[str, Any]:
    """The dict a cell of `column_type` ("bytea" or "jsonb") holds; None is {}."""
    if value is None:
        return {}
    if column_type == "jsonb" or not isinstance(value, bytes | bytearray | memoryview):
        return _as_dict(value)
    raw = bytes(value)
    if raw[:1] == bytes([VERSION]):
        try:
            return _as_dict(decode(raw))
        except UndecodableTerm as exc:
            return _undecodable(str(exc), raw)
    if raw[:1] in (b"{", b"["):
        try:
            return _as_dict(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:
            return _undecodable(f"bad JSON: {exc}", raw)
    return _undecodable("neither an Erlang term nor JSON", raw)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


def _undecodable(reason: str, raw: bytes) -> dict[str, Any]:
    marked = {"undecodable": reason, "hex": raw[:HEX_SHOWN].hex()}
    if len(raw) > HEX_SHOWN:
        marked["length"] = len(raw)
    return marked
