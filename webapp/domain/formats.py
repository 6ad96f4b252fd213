"""How a field reads: declared by the domain beside its personal data, shown by the pages.

    EUR = money("EUR")

    @event("MoneyDeposited", version=2)
    @dataclass(frozen=True)
    class MoneyDeposited:
        __formats__ = {"amount": EUR}
        account_number: str
        amount: int

    class BankAccount(Aggregate):
        __formats__ = {"balance": EUR, "status": enum("open", "closed")}
        __charted__ = ("balance",)

Events, commands and aggregates declare `__formats__` (field name, or dotted path into a
nested value, to a kind); an aggregate names in `__charted__` the numeric state fields a
stream's page draws over its versions. `kind.text(value)` is the value as a person reads
it, or None when the value does not fit the kind (text where cents were declared, a word
the enum does not list): a page then shows it as JSON, as it shows any undeclared field.
The stored values and the JSON API are never changed: formats are for reading only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

MINUS = "\u2212"
"""The minus sign a negative amount reads with (a screen reader says "minus")."""

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
"""Currencies written with a symbol; any other is written with its code ("CHF 12.50")."""


class Format(Protocol):
    """A kind of value: `kind` names it (money, date, enum, ...), `text` reads a value."""

    @property
    def kind(self) -> str: ...

    def text(self, value: Any) -> str | None: ...


def _is_number(value: Any) -> bool:
    """A finite int, float or Decimal (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return isinstance(value, int) or math.isfinite(value)


@dataclass(frozen=True)
class Money:
    """An amount in minor units (cents) of `currency`: 1020879 reads "€10,208.79"."""

    currency: str
    minor_digits: int = 2
    kind: str = "money"

    def text(self, value: Any, *, short: bool = False) -> str | None:
        """`value` minor units as money, None unless a whole number; `short` leaves out
        minor units that are zero ("€12,000" for an axis label)."""
        if not _is_number(value) or value != int(value):
            return None
        units = Decimal(int(value)).scaleb(-self.minor_digits)
        digits = 0 if short and units == units.to_integral_value() else self.minor_digits
        amount = f"{abs(units):,.{digits}f}"
        symbol = SYMBOLS.get(self.currency)
        written = f"{symbol}{amount}" if symbol else f"{self.currency} {amount}"
        return f"{MINUS}{written}" if units < 0 else written


@dataclass(frozen=True)
class Number:
    """A count or quantity: 1234 reads "1,234" (with `unit`, "1,234 items")."""

    unit: str = ""
    kind: str = "number"

    def text(self, value: Any) -> str | None:
        if not _is_number(value):
            return None
        number = f"{int(value):,}" if value == int(value) else f"{value:,.6g}"
        number = number.replace("-", MINUS, 1)
        return f"{number} {self.unit}" if self.unit else number


@dataclass(frozen=True)
class Words:
    """One word of a known set ("open", "closed"), shown as the word, not quoted."""

    words: frozenset[str]
    kind: str = "enum"

    def text(self, value: Any) -> str | None:
        if isinstance(value, str) and (value in self.words or not self.words):
            return value
        return None


@dataclass(frozen=True)
class Text:
    """Plain text, shown as written, not quoted."""

    kind: str = "text"

    def text(self, value: Any) -> str | None:
        return value if isinstance(value, str) else None


def _moment(value: Any) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Moment:
    """A date ("2024-03-01") or a date and time, read in UTC ("2024-03-01 09:30:00 UTC"),
    from ISO 8601 text; a time without a zone counts as UTC."""

    with_time: bool
    kind: str = "date"

    def text(self, value: Any) -> str | None:
        moment = _moment(value)
        if moment is None:
            return None
        if not isinstance(moment, datetime):
            return moment.isoformat()
        if not self.with_time:
            return moment.date().isoformat()
        zoned = moment.astimezone(UTC) if moment.tzinfo else moment
        return zoned.strftime("%Y-%m-%d %H:%M:%S UTC")


def money(currency: str, *, minor_digits: int = 2) -> Money:
    """Money held in minor units (cents) of `currency` (an ISO 4217 code)."""
    return Money(currency.upper(), minor_digits)


def enum(*words: str) -> Words:
    """One of `words` (none given: any single word)."""
    return Words(frozenset(words))


def number(unit: str = "") -> Number:
    """A count or quantity, with thousands separated ("1,234 items" with `unit="items"`)."""
    return Number(unit)


def text() -> Text:
    return Text()


def date_only() -> Moment:
    """A calendar date, from ISO 8601 text."""
    return Moment(with_time=False)


def date_time() -> Moment:
    """A moment, from ISO 8601 text, read in UTC."""
    return Moment(with_time=True, kind="datetime")


def short_text(kind: Format, value: Any) -> str | None:
    """`value` as `kind` reads on a chart's axis: money rounded to a minor unit and without
    minor units that are zero ("€12,000")."""
    if isinstance(kind, Money):
        return kind.text(round(value), short=True) if _is_number(value) else None
    return kind.text(value)


# --- declarations ---------------------------------------------------------------------


def formats_of(cls: type) -> dict[str, Format]:
    """What `cls` (an event, command or aggregate class) declares in `__formats__`."""
    declared = getattr(cls, "__formats__", None) or {}
    return dict(declared) if isinstance(declared, Mapping) else {}


def format_of(cls: type, path: str) -> Format | None:
    """The kind `cls` declares for field `path` (a name, or a dotted path into it)."""
    return formats_of(cls).get(path)


def charted_fields(cls: type) -> tuple[str, ...]:
    """The numeric state fields an aggregate class asks to be drawn over its versions."""
    return tuple(getattr(cls, "__charted__", ()) or ())


def check_formats(type_name: str, cls: type, field_names: set[str]) -> None:
    """Refuse a declaration that names no field of `cls` or holds no kind."""
    for path, kind in formats_of(cls).items():
        if str(path).split(".", 1)[0] not in field_names:
            msg = f"{type_name}: format of {path!r} names an unknown field"
            raise ValueError(msg)
        if not callable(getattr(kind, "text", None)):
            msg = f"{type_name}: format of {path!r} is not a kind (money(...), enum(...), ...)"
            raise ValueError(msg)
