"""A domain of one's own: a package shaped like the demo runs without it.

The composition root takes any `DomainPackage`; these specifications give it a small
library domain (books lent and returned) and check that commands, read models, the
dashboard's lookups and the seeder are the library's, and that no demo route is wired.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from webapp.bootstrap import Runtime, build_runtime
from webapp.config import Settings
from webapp.domain import (
    Aggregate,
    CommandRouter,
    DomainError,
    Router,
    applies,
    command,
    event,
    handles,
)
from webapp.projections import FailurePolicy, Projection, table_name, upsert
from webapp.projections.lookups import ReadModelLookup
from webapp.projections.projection import Tables


@command("LendBook")
@dataclass(frozen=True)
class LendBook:
    isbn: str
    reader: str


@command("ReturnBook")
@dataclass(frozen=True)
class ReturnBook:
    isbn: str


@event("BookLent", version=1)
@dataclass(frozen=True)
class BookLent:
    isbn: str
    reader: str


@event("BookReturned", version=1)
@dataclass(frozen=True)
class BookReturned:
    isbn: str


class Book(Aggregate):
    def __init__(self) -> None:
        self.isbn: str | None = None
        self.lent_to: str | None = None

    @handles(LendBook, emits=[BookLent])
    def lend(self, cmd: LendBook) -> BookLent:
        if self.lent_to is not None:
            raise DomainError("book_out", f"{cmd.isbn} is lent to {self.lent_to}")
        return BookLent(cmd.isbn, cmd.reader)

    @handles(ReturnBook, emits=[BookReturned])
    def give_back(self, cmd: ReturnBook) -> BookReturned:
        if self.lent_to is None:
            raise DomainError("book_in", f"{cmd.isbn} is on the shelf")
        return BookReturned(cmd.isbn)

    @applies(BookLent)
    def _lent(self, ev: BookLent) -> None:
        self.isbn, self.lent_to = ev.isbn, ev.reader

    @applies(BookReturned)
    def _returned(self, ev: BookReturned) -> None:
        self.lent_to = None


library = Router("library")
library.route([LendBook, ReturnBook], to=Book, identity="isbn", prefix="book-")


class BooksOut(Projection):
    """Which reader holds each lent book."""

    name = "books_out"
    handles = frozenset({"BookLent", "BookReturned"})
    on_error = FailurePolicy("stop")

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "books": sa.Table(
                table_name(self.name, generation, "books"),
                metadata,
                sa.Column("isbn", sa.String(40), primary_key=True),
                sa.Column("reader", sa.String(100), nullable=True),
            )
        }

    def handle_batch(self, conn: sa.Connection, tables: Tables, events: Sequence[Any]) -> None:
        for recorded in events:
            reader = recorded.data.get("reader") if recorded.type == "BookLent" else None
            upsert(
                conn, tables["books"], [{"isbn": recorded.data["isbn"], "reader": reader}], ["isbn"]
            )


def book_row(conn: sa.Connection, tables: Tables, isbn: str) -> dict | None:
    row = conn.execute(sa.select(tables["books"]).where(tables["books"].c.isbn == isbn)).first()
    return None if row is None else {"isbn": row.isbn, "reader": row.reader}


class ShelfSeeder:
    def __init__(self, router: CommandRouter) -> None:
        self.router = router

    def planned_commands(self) -> int:
        return 1

    def load(self, progress: Any = None) -> Any:
        self.router.dispatch(LendBook("978-0", "ada"))
        return SimpleNamespace(summary=lambda: "1 book lent")

    def synthetic(self, count: int, *, events_per_stream: int = 200, progress: Any = None) -> int:
        return 0


LIBRARY = SimpleNamespace(
    routers=lambda: [library],
    projections=lambda: [BooksOut()],
    process_managers=lambda settings: [],
    read_models=lambda: [ReadModelLookup("books", "books_out", book_row)],
    seeder=ShelfSeeder,
)


@pytest.fixture
def library_runtime(sqlite_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(db_url=sqlite_url), domain=LIBRARY)
    yield runtime
    runtime.close()


def test_the_runtime_dispatches_the_domains_own_commands_and_no_demo_ones(library_runtime):
    result = library_runtime.router.dispatch_json("LendBook", {"isbn": "978-1", "reader": "bo"})

    assert result.stream_id == "book-978-1"
    assert [e.type for e in result.events] == ["BookLent"]
    assert "DepositMoney" not in library_runtime.router.command_names()
    with pytest.raises(DomainError):
        library_runtime.router.dispatch_json("LendBook", {"isbn": "978-1", "reader": "cy"})


def test_the_domains_read_models_run_beside_the_built_in_ones(library_runtime):
    library_runtime.router.dispatch_json("LendBook", {"isbn": "978-2", "reader": "bo"})
    for name in library_runtime.projections.names():
        library_runtime.projections.runner(name).run_until_caught_up()

    assert "books_out" in library_runtime.projections.names()
    assert "account_summary" not in library_runtime.projections.names()
    assert library_runtime.read_models.names() == ["books"]
    assert library_runtime.read_models.get("books", "978-2") == {"isbn": "978-2", "reader": "bo"}


def test_the_seeder_is_the_domains_own(library_runtime):
    library_runtime.load_seed_if_empty(echo=lambda line: None)

    assert [e.type for e in library_runtime.store.read_stream("book-978-0")] == ["BookLent"]
