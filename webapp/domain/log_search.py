"""Searching the global log by a payload field, as the events read today.

The store compares a payload field with SQL, on the data as stored. An event kept
under an older schema may hold the value under another name or in another form (the
demo's `MoneyDeposited` schema 1 keeps a decimal `value` where schema 2 has `amount`
in cents). `LogSearch` asks the store for the stored matches plus the old-schema events
of upcast types, upcasts those here and keeps the ones whose field, as read today, has
the value. An event matches if either form does, so a search under an old field name
still finds what it found before.

Upcasting costs Python time per old event, so one call examines at most `scan_limit`
of them and then says where it stopped: callers page on from `scanned_to`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from webapp.domain.upcasting import UpcasterChain
from webapp.store.reader import EventReader, PagedLog
from webapp.store.types import RecordedEvent

CHUNK = 500
"""Events read from the store per round trip while a page fills."""
SCAN_LIMIT = 20_000
"""Old-schema events one call upcasts before it stops and reports where it got to."""


@dataclass(frozen=True)
class LogSlice:
    """Matching events in reading order, and how far the scan got."""

    events: list[RecordedEvent]
    exhausted: bool
    """True when the scan reached the end of the log in its direction."""
    scanned_to: int | None
    """The last position examined (None if none was): the cursor to go on from."""


def payload_text(value: Any, dialect: str) -> str | None:
    """A payload value written as text the way the store's SQL writes it (None: no text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        if dialect == "sqlite":
            return "1" if value else "0"
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    if dialect == "sqlite":
        return json.dumps(value, separators=(",", ":"))
    return json.dumps(value)


class LogSearch:
    """The global log, filtered; a payload filter also sees old events as upcast."""

    def __init__(
        self,
        reader: EventReader,
        upcasters: UpcasterChain | None,
        *,
        scan_limit: int | None = None,
        **filters: Any,
    ) -> None:
        self.reader = reader
        self.upcasters = upcasters
        self.scan_limit = scan_limit or SCAN_LIMIT
        self.filters = filters
        self.upcast_types = self._upcast_types()
        """{type: current schema}: the types whose old events this search upcasts."""

    @property
    def filtered(self) -> bool:
        """Whether any filter narrows the log (unfiltered, every event matches)."""
        return any(value is not None and value != [] for value in self.filters.values())

    def _upcast_types(self) -> dict[str, int]:
        if self.filters.get("data_equals") is None or self.upcasters is None:
            return {}
        wanted = self.filters.get("types")
        if isinstance(wanted, str):
            wanted = [wanted]
        lifted = self.upcasters.lifted_types()
        return {t: v for t, v in lifted.items() if wanted is None or t in wanted}

    def forward(self, after: int, limit: int) -> LogSlice:
        """Up to `limit` matches with position > `after`, oldest first."""
        return self._scan(after, limit, backward=False)

    def backward(self, before: int | None, limit: int) -> LogSlice:
        """Up to `limit` matches with position < `before` (None: the head), newest first."""
        return self._scan(before, limit, backward=True)

    def _read(self, cursor: int | None, limit: int, backward: bool) -> list[RecordedEvent]:
        extra = {"older_schemas": self.upcast_types} if self.upcast_types else {}
        if backward:
            return self.reader.read_all_backward(cursor, limit=limit, **self.filters, **extra)
        return self.reader.read_all(cursor or 0, limit=limit, **self.filters, **extra)

    def _scan(self, cursor: int | None, limit: int, backward: bool) -> LogSlice:
        if self._paged() and not self.upcast_types:
            return self._budgeted(cursor, limit, backward)
        if not self.upcast_types:
            found = self._read(cursor, limit, backward)
            last = found[-1].position if found else None
            return LogSlice(found, exhausted=len(found) < limit, scanned_to=last)
        matches: list[RecordedEvent] = []
        upcast_count = 0
        scanned_to: int | None = None
        while True:
            chunk = self._read(cursor, CHUNK, backward)
            for event in chunk:
                scanned_to = event.position
                if self._is_old(event):
                    upcast_count += 1
                    if not self._matches_old(event):
                        if upcast_count >= self.scan_limit:
                            return LogSlice(matches, exhausted=False, scanned_to=scanned_to)
                        continue
                matches.append(event)
                if len(matches) >= limit:
                    return LogSlice(matches, exhausted=False, scanned_to=scanned_to)
            if len(chunk) < CHUNK:
                return LogSlice(matches, exhausted=True, scanned_to=scanned_to)
            cursor = chunk[-1].position

    def _paged(self) -> bool:
        """A filtered read of a source that scans within a budget (other tools' stores)."""
        return any(v is not None for v in self.filters.values()) and isinstance(
            self.reader, PagedLog
        )

    def _budgeted(self, cursor: int | None, limit: int, backward: bool) -> LogSlice:
        """One budgeted read: a short page before the end says where the scan stopped."""
        reader: Any = self.reader
        if backward:
            page = reader.read_all_backward_page(cursor, limit=limit, **self.filters)
            return LogSlice(page.events, page.exhausted, page.resume_before)
        page = reader.read_all_page(cursor or 0, limit=limit, **self.filters)
        return LogSlice(page.events, page.exhausted, page.resume_after)

    def _is_old(self, event: RecordedEvent) -> bool:
        current = self.upcast_types.get(event.type)
        return current is not None and event.schema_version < current

    def _matches_old(self, event: RecordedEvent) -> bool:
        """An old-schema event the store returned for upcasting: does either form match?"""
        upcasters = self.upcasters
        if upcasters is None:
            return False
        name, value = self.filters["data_equals"]
        dialect = self.reader.dialect
        if payload_text(event.data.get(name), dialect) == value:
            return True
        try:
            read_today = upcasters.upcast(event)
        except Exception:  # noqa: BLE001 - see below
            # upcasters are written for decoded payloads, and a search never decrypts: one
            # that trips over a sealed personal field cannot give this event's form today
            return False
        return payload_text(read_today.data.get(name), dialect) == value
