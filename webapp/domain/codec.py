"""The payload codec: the one place events pass on their way into and out of the store.

The repository calls `encode` on every event just before it is appended and
`decode` on every event just after it is read. The privacy layer supplies a codec
that encrypts personal fields and, for a forgotten subject, replaces their values
with a marker; the domain tolerates any value there.

    class Upper:
        def encode(self, stream_id, event):
            data = {**event.data, "name": event.data["name"].upper()}
            return dataclasses.replace(event, data=data)
        def decode(self, event):
            return event
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from webapp.store.types import NewEvent, RecordedEvent


@runtime_checkable
class PayloadCodec(Protocol):
    def encode(self, stream_id: str, event: NewEvent) -> NewEvent:
        """Return the event as it should be stored (e.g. personal fields encrypted)."""
        ...

    def decode(self, event: RecordedEvent) -> RecordedEvent:
        """Return the event as the domain should see it (e.g. personal fields decrypted)."""
        ...


class IdentityCodec:
    """Stores and reads events unchanged."""

    def encode(self, stream_id: str, event: NewEvent) -> NewEvent:
        return event

    def decode(self, event: RecordedEvent) -> RecordedEvent:
        return event
