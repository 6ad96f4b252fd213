"""Ids as people paste them: the short ids the dashboard shows work in its filters.

Pages show the first 8 characters of correlation, causation and event ids. Pasted into
a filter, any text of at least MIN_ID_PREFIX characters matches every id that starts
with it (so a full id matches itself); shorter text is matched exactly when it could be
an id a caller chose (`corr-42`) and refused when it looks like a cut uuid (`3f2a9c`),
which would match too much to be useful.

    correlation_filter("3f2a9c1b")  # {"correlation_prefix": "3f2a9c1b"}
    correlation_filter("corr-42")   # {"correlation_id": "corr-42"}
"""

from __future__ import annotations

import re

from webapp.store.filters import MIN_ID_PREFIX

__all__ = ["MIN_ID_PREFIX", "IdTooShort", "clean_id", "correlation_filter"]

_CUT_UUID = re.compile(r"[0-9A-Fa-f-]+")
_ELLIPSIS = ("…", "...")


class IdTooShort(ValueError):
    """Text too short to find an id by its beginning."""


def clean_id(text: str) -> str:
    """`text` without the surrounding space and the trailing ellipsis of a copied short id."""
    cleaned = text.strip()
    for mark in _ELLIPSIS:
        cleaned = cleaned.removesuffix(mark)
    return cleaned.strip()


def correlation_filter(text: str) -> dict[str, str]:
    """The log filter for a correlation id as typed or pasted: `correlation_prefix` for
    MIN_ID_PREFIX characters or more, else `correlation_id` (exact); {} for nothing.
    Raises IdTooShort for a short run of hex digits (the beginning of a uuid)."""
    cleaned = clean_id(text)
    if not cleaned:
        return {}
    if len(cleaned) >= MIN_ID_PREFIX:
        return {"correlation_prefix": cleaned}
    if _CUT_UUID.fullmatch(cleaned):
        msg = (
            f"{cleaned!r} is too short to find a correlation id by: paste at least"
            f" {MIN_ID_PREFIX} characters (the short id the pages show), or the whole id."
        )
        raise IdTooShort(msg)
    return {"correlation_id": cleaned}
