"""The upcasting the units see events through, cheap for events already current."""

from __future__ import annotations

from webapp.domain import UpcasterChain
from webapp.store.types import RecordedEvent


class FastUpcaster:
    """Upcasts only events older than their type's current schema (one dict lookup otherwise)."""

    def __init__(self, chain: UpcasterChain) -> None:
        self.chain = chain
        self._current: dict[str, int | None] = {}

    def __call__(self, event: RecordedEvent) -> RecordedEvent:
        try:
            current = self._current[event.type]
        except KeyError:
            current = self._current[event.type] = self.chain.current_version(event.type)
        if current is None or event.schema_version >= current:
            return event
        return self.chain.upcast(event)
