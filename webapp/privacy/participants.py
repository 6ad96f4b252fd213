"""What other layers plug into the privacy service so a forget and an export reach them.

A projection (or anything else) holding a subject's personal data is passed to the
privacy service as a participant when the composition root builds it::

    class CustomerListParticipant:
        name = "customer_list"
        tables = ["rm_customer_list_v1"]      # vacuumed on PostgreSQL after a forget

        def forget_subject(self, subject_id: str) -> None:
            ...  # delete or blank the subject's rows (idempotent)

        def export_subject(self, subject_id: str) -> list[dict]:
            ...  # the subject's rows, personal fields decrypted

    Privacy(vault, store=store, participants=[CustomerListParticipant()])
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ForgetParticipant(Protocol):
    name: str

    def forget_subject(self, subject_id: str) -> None:
        """Remove or blank every row holding the subject's personal data (idempotent)."""
        ...

    def export_subject(self, subject_id: str) -> list[dict[str, Any]]:
        """Every row held on the subject, as JSON-ready dicts with personal fields in clear."""
        ...


@runtime_checkable
class AggregateEvictor(Protocol):
    """Drops live aggregates from memory (the domain's AggregateRegistry fits)."""

    def evict(self, stream_id: str) -> bool: ...
