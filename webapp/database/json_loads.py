"""Reading stored JSON quickly and exactly: orjson where it gives the standard library's
answer, the standard library where it might not.

orjson parses several times faster, but reads an integer beyond 64 bits as a float
(silently: 123456789012345678901234567890 becomes 1.2345678901234568e+29) and refuses
what the standard library accepts (lone surrogates, NaN). So a text holding a run of 19
or more ASCII digits (a JSON number is written in ASCII digits only), or one orjson
refuses, is read by `json.loads`; every answer is then the one `json.loads` gives.
Without orjson (it is optional) every text goes to `json.loads`.

The digit runs are found by mapping every byte to "0" (a digit) or " " and looking for
19 zeros: two C loops over the bytes. A regular expression answers the same but costs
several times what parsing the text does. A page of texts is checked in one go
(`load_json_texts`): joined by NUL, which is no digit, so no run spans two texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the `fast` extra is not installed
    orjson = None  # type: ignore[assignment]

_stdlib_loads = json.loads
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19


def has_long_digit_run(data: str | bytes) -> bool:
    """Whether `data` holds 19 or more ASCII digits in a row."""
    raw = data.encode("utf-8", "surrogatepass") if type(data) is str else bytes(data)
    return _LONG_RUN in raw.translate(_DIGITS_ONLY)


def load_json(data: str | bytes | memoryview) -> Any:
    """`json.loads(data)`, by orjson when that reads it alike."""
    if type(data) is memoryview:  # as a driver may hand it over; json.loads takes no views
        data = bytes(data)
    if orjson is None:
        return _stdlib_loads(data)
    if has_long_digit_run(data):
        return _stdlib_loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _stdlib_loads(data)


def load_json_texts(texts: Sequence[str]) -> list[Any]:
    """`[load_json(text) for text in texts]` for a page of texts read together: one check
    for long digit runs over the whole page, then orjson on each text at C speed."""
    if orjson is not None:
        try:
            clean = not has_long_digit_run("\x00".join(texts))
        except TypeError:  # not all text (bytes, views): each is checked on its own
            clean = False
        if clean:
            try:
                return list(map(orjson.loads, texts))
            except orjson.JSONDecodeError:  # one of them needs the standard library
                pass
    return [load_json(text) for text in texts]
