"""Whole numbers from query strings and forms, checked before they reach the store."""

from __future__ import annotations

MAX_INTEGER = 2**63 - 1
"""The largest integer both stores hold (SQLite INTEGER, PostgreSQL bigint); the drivers
refuse anything larger with an error instead of a query."""


class BadNumber(ValueError):
    """A query or form value that is not a whole number in the range asked for; its text is
    a sentence for the person who sent it."""


def whole_number(text: str, what: str, *, low: int = 0, high: int = MAX_INTEGER) -> int:
    """`text` as an int from `low` to `high`: ASCII digits with an optional leading minus.

    Other Unicode digits (which `str.isdigit` accepts and `int` may not), signs, decimals and
    values beyond `high` raise BadNumber naming `what`.
    """
    stripped = text.strip()
    digits = stripped[1:] if stripped.startswith("-") else stripped
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise BadNumber(f"The {what} must be a whole number, not {stripped[:30]!r}.")
    value = int(stripped) if len(digits) <= 30 else (high + 1 if stripped[0] != "-" else low - 1)
    if low <= value <= high:
        return value
    if value < low and high == MAX_INTEGER:
        raise BadNumber(f"The {what} must be {low} or more, not {stripped[:30]}.")
    raise BadNumber(f"The {what} must be between {low} and {high}, not {stripped[:30]}.")
