"""What other layers hand the privacy service so a forget and an export reach them.

The composition root passes them in when it builds `Privacy`; privacy never looks
them up. A read side holding a subject's personal data is a participant::

    class CustomerList:
        name = "customer_list"

        def forget_subject(self, subject_id: str) -> None:
            ...  # delete or blank the subject's rows (idempotent)

        def export_subject(self, subject_id: str) -> dict[str, list[dict]]:
            return {"customer_list": [...]}  # rows by read model, personal fields in clear

        def related_streams(self, subject_id: str) -> list[str]:
            return []  # streams about the subject that carry none of their fields

        def personal_tables(self) -> list[str]:
            return ["rm_customer_list_v1"]  # VACUUMed on PostgreSQL after a forget

        def settle(self, head: int, *, patience: float = 1.0) -> bool:
            return False  # nothing written in the background

    Privacy(vault, store=store, registry=registry, participants=[CustomerList()])
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ForgetParticipant(Protocol):
    """A part of the system that keeps rows about data subjects outside the event log."""

    name: str

    def forget_subject(self, subject_id: str) -> object:
        """Remove or blank every row holding the subject's personal data (idempotent)."""
        ...

    def export_subject(self, subject_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every row held on the subject, by read model, with personal fields in clear."""
        ...

    def related_streams(self, subject_id: str) -> list[str]:
        """Streams about the subject that hold none of their personal fields."""
        ...

    def personal_tables(self) -> list[str]:
        """Tables holding personal data, for the database to reclaim after a forget."""
        ...

    def settle(self, head: int, *, patience: float = 1.0) -> bool:
        """Wait (at most `patience` seconds, while it makes progress) until rows being
        written in the background reflect the log up to `head`; True if they moved."""
        ...


@runtime_checkable
class AggregateEvictor(Protocol):
    """Drops live aggregates from memory (the domain's AggregateRegistry fits)."""

    def peek(self, stream_id: str) -> Any: ...

    def evict(self, stream_id: str) -> bool: ...

    def live_subject_ids(self) -> set[str]: ...

    def evict_where(self, predicate: Any) -> int: ...
