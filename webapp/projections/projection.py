"""The projection contract: a named read model fed by batches of events.

    class AccountSummary(Projection):
        name = "account_summary"
        handles = frozenset({"BankAccountOpened", "MoneyDeposited"})

        def define_tables(self, metadata, generation):
            return {"accounts": sa.Table(f"rm_account_summary_v{generation}", metadata, ...)}

        def handle_batch(self, conn, tables, events):
            ...  # SQLAlchemy Core writes, in the engine's transaction

The engine runs `handle_batch` and the checkpoint update in one transaction, so
a crash can neither skip nor double-apply an event. Readers go through
`Projections.query(name, fn)`, which always hands `fn` the live generation's tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import sqlalchemy as sa

from webapp.store.types import RecordedEvent

Tables = Mapping[str, sa.Table]


@dataclass(frozen=True)
class FailurePolicy:
    """What to do when a handler raises for one event.

    - "retry": try the event again with exponential backoff, `max_attempts` times in
      all, then stop (nothing is skipped without a record).
    - "skip": after the retries, record the event and the error in `projection_errors`
      and move on.
    - "stop": stop the projection at that event; its status shows the event and error.
    - "park" (projections only): after the retries, put the event and the error in the
      projection's dead letters (`projection_dead_letters`) and move on; an operator then
      retries or skips each parked event.
    """

    action: Literal["retry", "skip", "stop", "park"] = "retry"
    max_attempts: int = 3
    backoff_seconds: float = 0.05
    max_backoff_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.action not in ("retry", "skip", "stop", "park"):
            msg = f"unknown failure action {self.action!r}"
            raise ValueError(msg)
        if self.max_attempts < 1:
            msg = "max_attempts must be at least 1"
            raise ValueError(msg)

    def delay(self, attempt: int) -> float:
        return min(self.backoff_seconds * (2 ** (attempt - 1)), self.max_backoff_seconds)


class Projection(ABC):
    """A named read model built from the global log."""

    name: ClassVar[str]
    handles: ClassVar[frozenset[str] | None]
    """The event types the projection reads (None: every type)."""
    on_error: ClassVar[FailurePolicy] = FailurePolicy()
    needs_decoding: ClassVar[bool] = False
    """True when handlers need personal fields decrypted through the payload codec."""
    holds_personal_data: ClassVar[bool] = False
    refers_to_subjects: ClassVar[bool] = False
    """True when rows are about a data subject without holding personal fields (an
    owner's accounts): a subject access export includes them, a forget leaves them."""
    version: ClassVar[int] = 1
    """Bump when the handlers change what they build: a worker then rebuilds the model
    in the background (the old generation serves reads until the new one switches in)."""

    @abstractmethod
    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        """The read-model tables of `generation`, keyed by a logical name."""

    @abstractmethod
    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        """Apply events (ascending positions, only the handled types) to the tables."""

    # Personal data hooks, for projections that hold any (privacy calls these).
    def forget_subject(self, conn: sa.Connection, tables: Tables, subject_id: str) -> int:
        return 0

    def export_subject(
        self, conn: sa.Connection, tables: Tables, subject_id: str
    ) -> list[dict[str, Any]]:
        return []

    def subject_positions(self, conn: sa.Connection, tables: Tables, subject_id: str) -> list[int]:
        """The position of one event in each stream about the subject that holds none of
        their personal fields (an account they own): a subject access export includes
        those streams' events."""
        return []


def table_name(projection: str, generation: int, suffix: str = "") -> str:
    """The versioned name of a read-model table: rm_<projection>[_<suffix>]_v<generation>."""
    middle = f"{projection}_{suffix}" if suffix else projection
    return f"rm_{middle}_v{generation}"
