"""Read models checked against the log: the contract a domain's checks fit, and the one
consistent read they need.

A domain package lists its checks (`checks()` in `webapp.bootstrap.DomainPackage`);
`eventscope db check` runs them after the store's own checks:

    class AccountBalances:
        name = "account_summary"

        def run(self, projections: Projections, *, full: bool) -> ReadModelReport:
            read = read_live(projections, "account_summary", load_rows_fn)
            ...  # replay each account's events, compare, list the divergences

Reading never builds a read model: one that has no tables yet is reported as not built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import sqlalchemy as sa

from webapp.projections import schema
from webapp.projections.generations import registered_generation
from webapp.projections.projection import Tables
from webapp.store.integrity import Problem

if TYPE_CHECKING:
    from webapp.projections.service import Projections

T = TypeVar("T")


@dataclass
class ReadModelReport:
    """What one check compared: `checked` of `total` items, and each divergence."""

    name: str
    noun: str
    checked: int = 0
    total: int = 0
    problems: list[Problem] = field(default_factory=list)
    built: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems


class ReadModelCheck(Protocol):
    """One read model compared with a replay of the events it was built from."""

    name: str

    def run(self, projections: Projections, *, full: bool) -> ReadModelReport:
        """Check a sample of the read model's rows, or all of them with `full`."""
        ...


@dataclass(frozen=True)
class LiveRead(Generic[T]):
    checkpoint: int
    """The log position the live generation has processed (its rows reflect at least it)."""
    rows: T


def read_live(
    projections: Projections, name: str, fn: Callable[[sa.Connection, Tables], T]
) -> LiveRead[T] | None:
    """`fn(conn, tables)` over projection `name`'s live generation and its checkpoint,
    read in one snapshot; None when the projection has no tables yet."""
    engine = projections.engine
    options: dict[str, object] = {"eventscope_readonly": True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as conn:
        if not sa.inspect(conn).has_table(schema.registry.name):
            return None
        generation = registered_generation(conn, name)
        if generation is None:
            return None
        checkpoint = conn.execute(
            sa.select(schema.checkpoints.c.position).where(
                schema.checkpoints.c.name == name, schema.checkpoints.c.generation == generation
            )
        ).scalar()
        tables = projections.table_set(name).tables(generation)
        rows = fn(conn, tables)
        conn.rollback()
    return LiveRead(int(checkpoint or 0), rows)
