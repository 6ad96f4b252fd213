"""Reading stored JSON quickly and exactly: orjson where it gives the standard library's
answer, the standard library where it might not.

orjson parses several times faster, but reads an integer beyond 64 bits as a float
(silently: 123456789012345678901234567890 becomes 1.2345678901234568e+29) and refuses
what the standard library accepts (lone surrogates, NaN). So a text holding a run of 19
or more digits, or one orjson refuses, is read by `json.loads`; every answer is then the
one `json.loads` gives. Without orjson (it is optional) every text goes to `json.loads`.
"""

from __future__ import annotations

import json
import re
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the `fast` extra is not installed
    orjson = None  # type: ignore[assignment]

_LONG_DIGITS = re.compile(r"\d{19,}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19,}")
_stdlib_loads = json.loads


def load_json(data: str | bytes) -> Any:
    """`json.loads(data)`, by orjson when that reads it alike."""
    if orjson is None:
        return _stdlib_loads(data)
    long_digits = _LONG_DIGITS if type(data) is str else _LONG_DIGITS_BYTES
    if long_digits.search(data) is not None:
        return _stdlib_loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _stdlib_loads(data)
