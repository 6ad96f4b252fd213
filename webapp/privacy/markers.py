"""Values that stand in for personal data that cannot or may not be shown.

They are `str` subclasses so that aggregates, projections, templates and JSON
encoders handle them as ordinary text ("[forgotten]", "•••"), while code that
cares can tell them apart with `is_forgotten`, `is_unreadable` and `is_masked`.
"""

from __future__ import annotations

from typing import Any

FORGOTTEN_TEXT = "[forgotten]"
MASKED_TEXT = "•••"
UNREADABLE_TEXT = "[unreadable]"
WITHHELD_TEXT = "[withheld]"
DELETED_ACCOUNT_NAME = "Deleted Account"
"""What the demo shows instead of a forgotten user's name."""


class Forgotten(str):
    """The value of a personal field whose subject has been forgotten."""

    __slots__ = ()

    def __new__(cls) -> Forgotten:
        return super().__new__(cls, FORGOTTEN_TEXT)

    def __repr__(self) -> str:
        return "FORGOTTEN"


class Masked(str):
    """A personal field not shown to this reader; `subject` (when known) is whose data it is,
    so a page can offer the reveal that would show it."""

    __slots__ = ("subject",)

    def __new__(cls, subject: str | None = None) -> Masked:
        value = super().__new__(cls, MASKED_TEXT)
        value.subject = subject
        return value

    def __repr__(self) -> str:
        return "MASKED" if self.subject is None else f"Masked({self.subject!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Masked, (self.subject,))


class Withheld(str):
    """Another subject's personal field inside an export (not theirs to receive)."""

    __slots__ = ()

    def __new__(cls) -> Withheld:
        return super().__new__(cls, WITHHELD_TEXT)

    def __repr__(self) -> str:
        return "WITHHELD"


class Unreadable(str):
    """A personal field that could not be decrypted; `reason` says why."""

    __slots__ = ("reason",)

    def __new__(cls, reason: str) -> Unreadable:
        value = super().__new__(cls, UNREADABLE_TEXT)
        value.reason = reason
        return value

    def __repr__(self) -> str:
        return f"Unreadable({self.reason!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Unreadable, (self.reason,))


FORGOTTEN = Forgotten()
MASKED = Masked()
WITHHELD = Withheld()


def is_forgotten(value: object) -> bool:
    return isinstance(value, Forgotten)


def is_unreadable(value: object) -> bool:
    return isinstance(value, Unreadable)


def is_masked(value: object) -> bool:
    return isinstance(value, Masked)


def is_placeholder(value: object) -> bool:
    """True for any stand-in value (forgotten, masked, withheld or unreadable)."""
    return isinstance(value, _PLACEHOLDERS)


_PLACEHOLDERS = (Forgotten, Masked, Withheld, Unreadable)
"""A tuple: `isinstance` checks one several times quicker than the `A | B` union."""


def display_name(value: object) -> str:
    """A user's name as the demo shows it: "Deleted Account" once they are forgotten."""
    if is_forgotten(value):
        return DELETED_ACCOUNT_NAME
    return str(value)
