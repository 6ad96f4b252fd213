"""A payload on one line: its top-level fields in order, each value short enough to read at a
glance, and whether fields were left for the full payload. Text is cut only at a space (the
line never ends mid-word); a value with no space early enough shows as an ellipsis alone.
Placeholders for personal data pass through whole: pages show them as their mark. In a row
that names its stream, a field naming that same stream is left out (`row_summary`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from webapp.queries.personal import placeholder_kind
from webapp.web.related import declared_references
from webapp.web.rendering import compact_json

VALUE_CHARS = 28
"""The longest value a summary shows as it is (about a third of a timeline row)."""
LINE_CHARS = 120
"""Characters of `field value` text after which the summary stops adding fields."""
WHOLE_FIELD_CHARS = 30
"""A `name value` up to this long stays together on the line (a longer one may break
between its name and its value)."""
ELLIPSIS = "…"


@dataclass(frozen=True)
class SummaryField:
    name: str
    value: Any
    elided: bool = False
    """True when the value was too long to show and had no space to cut at: show `…`."""

    @property
    def width(self) -> int:
        """About how many characters `name value` takes on the line."""
        shown = 1 if self.elided else len(compact_json(self.value))
        return len(self.name) + 1 + shown

    @property
    def breakable(self) -> bool:
        """Long enough that the line may break between the name and the value."""
        return self.width > WHOLE_FIELD_CHARS


@dataclass(frozen=True)
class PayloadSummary:
    fields: tuple[SummaryField, ...]
    more: bool
    """Fields were left out: the full payload has more than the line shows."""


def clip_words(text: str, limit: int = VALUE_CHARS) -> str | None:
    """`text` whole when it fits in `limit` characters, else cut at its last space before the
    limit with an ellipsis; None when no space comes early enough to cut at a word."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rfind(" ")
    if cut <= 0:
        return None
    return head[:cut].rstrip() + ELLIPSIS


def _short(name: str, value: Any) -> SummaryField:
    if placeholder_kind(value) is not None:
        return SummaryField(name, value)
    if isinstance(value, str):
        clipped = clip_words(value)
        return SummaryField(name, clipped, elided=clipped is None)
    if len(compact_json(value)) > VALUE_CHARS:
        return SummaryField(name, None, elided=True)
    return SummaryField(name, value)


def payload_summary(
    data: Any, budget: int = LINE_CHARS, *, skip: Collection[str] = ()
) -> PayloadSummary:
    """The fields of `data` that fit one line of about `budget` characters (at least one),
    leaving out those named in `skip`. A payload that is not an object shows as one nameless
    value."""
    if not isinstance(data, Mapping):
        return PayloadSummary((_short("", data),), more=False)
    fields: list[SummaryField] = []
    used = 0
    for name, value in data.items():
        if name in skip:
            continue
        item = _short(str(name), value)
        used += item.width + 2
        if fields and used > budget:
            return PayloadSummary(tuple(fields), more=True)
        fields.append(item)
    return PayloadSummary(tuple(fields), more=False)


def row_summary(data: Any, here: str | None = None) -> PayloadSummary:
    """The summary of an event of stream `here` for its row, which names that stream already:
    a field whose value names the same stream (an account's `account_number`) is left out,
    unless it is all the payload holds."""
    skip: set[str] = set()
    if here and isinstance(data, Mapping):
        declared = declared_references()
        skip = {str(n) for n, value in data.items() if declared.stream_of(str(n), value) == here}
        if len(skip) == len(data):
            skip = set()
    return payload_summary(data, skip=skip)
