"""Read models the dashboard shows by name, whatever domain defines them.

A domain declares, for each read model a person may look into, how to find one row by
its key and how to page through rows; the dashboard asks `ReadModels` by name and
never imports the domain:

    ReadModelLookup("accounts", "account_summary", get=get_account_summary)
    read_models.get("accounts", "A-1")          # the row, or None
    read_models.page("users", after="u-9", limit=50)
    read_models.get("accounts", "A-1", position=1234)   # as it stood at position 1234

A lookup that also names its `key` (the row field `page(after=...)` pages by, in key order)
and its `columns` can be reported: every row as of a moment, batch by batch
(`webapp.queries.reports`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from webapp.projections.projection import Tables
from webapp.projections.service import Projections

Row = dict[str, Any]
T = TypeVar("T")


class UnknownReadModel(KeyError):
    """No read model of that name is declared here."""


@dataclass(frozen=True)
class ReadModelLookup:
    """How to read one projection's rows: `get(conn, tables, key)` and, if it can list,
    `page(conn, tables, after=key_or_None, limit=n)` in key order; `key` names the row field
    that order is by and `columns` the fields of a row, in the order a report writes them."""

    name: str
    projection: str
    get: Callable[[sa.Connection, Tables, str], Row | None]
    page: Callable[..., list[Row]] | None = None
    key: str | None = None
    columns: tuple[str, ...] = ()

    @property
    def reportable(self) -> bool:
        """Whether every row can be read in key order, batch by batch, into named columns."""
        return self.page is not None and self.key is not None and bool(self.columns)


class ReadModels:
    """The declared lookups over the live generation of each projection."""

    def __init__(self, projections: Projections, lookups: Iterable[ReadModelLookup]) -> None:
        self.projections = projections
        self._lookups = {lookup.name: lookup for lookup in lookups}

    def names(self) -> list[str]:
        return list(self._lookups)

    def __contains__(self, name: object) -> bool:
        return name in self._lookups

    def lookup(self, name: str) -> ReadModelLookup:
        try:
            return self._lookups[name]
        except KeyError:
            msg = f"no read model {name!r} is declared here"
            raise UnknownReadModel(msg) from None

    def get(self, name: str, key: str, *, position: int | None = None) -> Row | None:
        """The row of read model `name` with this key, or None; with `position`, as it stood
        at that global position (rebuilt from the log: `Projections.query_as_of`)."""
        lookup = self.lookup(name)
        return self._read(lookup, position, lambda c, t: lookup.get(c, t, str(key)))

    def page(
        self,
        name: str,
        *,
        after: str | None = None,
        limit: int = 100,
        position: int | None = None,
        **where: str,
    ) -> list[Row]:
        """Rows of read model `name` in key order, after the key `after`; `where` narrows them
        by a column the lookup's `page` accepts (e.g. `owner_id="u023"`); with `position`, as
        they stood at that global position."""
        lookup = self.lookup(name)
        if lookup.page is None:
            msg = f"read model {name!r} cannot be listed"
            raise UnknownReadModel(msg)
        page = lookup.page
        return self._read(
            lookup, position, lambda c, t: page(c, t, after=after, limit=limit, **where)
        )

    def _read(
        self,
        lookup: ReadModelLookup,
        position: int | None,
        fn: Callable[[sa.Connection, Tables], T],
    ) -> T:
        if position is None:
            return self.projections.query(lookup.projection, fn)
        return self.projections.query_as_of(lookup.projection, position, fn)
