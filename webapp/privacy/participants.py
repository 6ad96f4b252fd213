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

from collections.abc import Callable
from contextlib import AbstractContextManager
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
        """Wait until rows being written in the background reflect the log up to `head`.

        A worker may have decoded a batch before the subject's key was shredded and still
        be writing it; privacy calls `forget_subject` again when this returns True (the
        rows moved meanwhile). Waits at most `patience` seconds, and gives up sooner when
        the rows stop moving (rows behind `head` that nobody moves are not in flight).
        """
        ...


class HoldsSubjects(Protocol):
    def subject_ids(self) -> set[str]:
        """The data subjects whose personal data this aggregate may hold in memory."""
        ...


class LiveEntry(Protocol):
    """An aggregate held in memory (the domain's LiveAggregate fits)."""

    @property
    def aggregate(self) -> HoldsSubjects: ...

    @property
    def lock(self) -> AbstractContextManager[Any]:
        """Held while a command runs on the aggregate."""
        ...


@runtime_checkable
class AggregateEvictor(Protocol):
    """Drops live aggregates from memory (the domain's AggregateRegistry fits)."""

    def peek(self, stream_id: str) -> LiveEntry | None:
        """The aggregate if it is in memory (never loads it)."""
        ...

    def evict(self, stream_id: str) -> bool:
        """Drop one aggregate from memory; True if it was there."""
        ...

    def live_subject_ids(self) -> set[str]:
        """Every subject whose personal data some live aggregate holds."""
        ...

    def evict_where(self, predicate: Callable[[LiveEntry], bool]) -> int:
        """Drop every live aggregate `predicate` chooses; how many."""
        ...


class NoLiveAggregates:
    """The evictor of a privacy service built without a domain: nothing is held in memory."""

    def peek(self, stream_id: str) -> LiveEntry | None:
        return None

    def evict(self, stream_id: str) -> bool:
        return False

    def live_subject_ids(self) -> set[str]:
        return set()

    def evict_where(self, predicate: Callable[[LiveEntry], bool]) -> int:
        return 0
