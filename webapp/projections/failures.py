"""A handler's failure as words fit to store and show: exception type and a summary,
never the values of the event it failed on.

Error records (`projection_errors`, `projection_status.last_error`) are shown to every
role and outlive a forget, so what goes in them is built here:

    describe_failure(exc, event.data)
    # 'IntegrityError (UniqueViolation): duplicate key value violates unique constraint ...'

- A database error keeps its type, the driver's exception type and the first line of the
  driver's message ("value too long for type character varying(100)"); the statement,
  its parameters and the driver's DETAIL lines (which quote values) are left out.
- Any other error keeps its type and the first line of its message.
- Every text value of the payloads given (decoded personal data included) that still
  appears is replaced by `[value]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

MAX_SUMMARY = 500
REDACTED = "[value]"
SHORTEST_REDACTED = 2
"""Values shorter than this are left alone (a one-letter value would blank the text)."""


def describe_failure(error: BaseException, *payloads: Mapping[str, Any] | None) -> str:
    """`Type: summary` of `error`, holding none of the payloads' text values."""
    kind = type(error).__name__
    if isinstance(error, sa.exc.StatementError) and error.orig is not None:
        kind = f"{kind} ({type(error.orig).__name__})"
        message = _first_line(str(error.orig))
    elif isinstance(error, sa.exc.StatementError):
        message = ""
    else:
        message = _first_line(str(error))
    for value in sorted(_texts(payloads), key=len, reverse=True):
        message = message.replace(value, REDACTED)
    return f"{kind}: {message}" if message else kind


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:MAX_SUMMARY]


def _texts(payloads: tuple[Mapping[str, Any] | None, ...]) -> set[str]:
    found: set[str] = set()
    for payload in payloads:
        if payload:
            found.update(v for v in _walk(payload) if len(v) >= SHORTEST_REDACTED)
    return found


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item)
    elif value is not None and not isinstance(value, bool | int | float):
        yield str(value)
