"""The PostgreSQL database of an `eventsourcing` store: its engine and read-only transactions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from webapp.database import create_store_engine
from webapp.sources.errors import ForeignStoreError

URL_OPTIONS: Final = ("app", "schema")
"""Query parameters of a store URL that are this reader's options, not the driver's."""

_PLACEHOLDER = re.compile(r'"(?:[^"]|"")*"|\?')


def store_url(url: str | URL) -> tuple[URL, dict[str, str]]:
    """`url` as a psycopg URL, and the options (`app`, `schema`) taken out of its query.

    Accepts `postgresql://`, `postgresql+psycopg://` and `eventsourcing+postgresql://`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        msg = f"{str(url)[:200]!r} is not a PostgreSQL URL"
        raise ForeignStoreError(msg) from None
    drivername = parsed.drivername.removeprefix("eventsourcing+")
    if drivername.split("+", 1)[0] != "postgresql":
        msg = f"the eventsourcing PostgreSQL source reads PostgreSQL, not {drivername}"
        raise ForeignStoreError(msg)
    if drivername == "postgresql":
        drivername = "postgresql+psycopg"
    options = {}
    for name in URL_OPTIONS:
        value = parsed.query.get(name)
        if value is not None:
            options[name] = value if isinstance(value, str) else value[-1]
    parsed = parsed.set(drivername=drivername).difference_update_query(URL_OPTIONS)
    return parsed, options


def numbered(sql: str, params: Sequence[Any]) -> tuple[sa.TextClause, dict[str, Any]]:
    """`sql` with `?` placeholders (outside quoted names) as SQLAlchemy binds `:p0`, `:p1`..."""
    count = 0

    def bind(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() != "?":
            return match.group()
        count += 1
        return f":p{count - 1}"

    text = _PLACEHOLDER.sub(bind, sql)
    if count != len(params):
        msg = f"{count} placeholders for {len(params)} parameters"
        raise ValueError(msg)
    return sa.text(text), {f"p{index}": value for index, value in enumerate(params)}


class Session:
    """One read-only transaction: the queries of one read run in it, `?` placeholders."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row `sql` returns."""
        clause, binds = numbered(sql, params)
        return [tuple(row) for row in self.conn.execute(clause, binds)]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None when there is none."""
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def batches(
        self, sql: str, params: Sequence[Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of `sql` in batches of `size`, from a server-side cursor."""
        clause, binds = numbered(sql, params)
        result = self.conn.execution_options(stream_results=True, max_row_buffer=size).execute(
            clause, binds
        )
        try:
            while batch := result.fetchmany(size):
                yield [tuple(row) for row in batch]
        finally:
            result.close()


class ReadOnlyDatabase:
    """An engine whose every transaction is `READ ONLY` with a statement timeout."""

    def __init__(self, url_or_engine: str | URL | sa.Engine, *, statement_timeout_ms: int) -> None:
        self.options: dict[str, str] = {}
        if isinstance(url_or_engine, sa.Engine):
            self.engine, self._owns_engine = url_or_engine, False
        else:
            url, self.options = store_url(url_or_engine)
            self.engine, self._owns_engine = create_store_engine(url), True
        if self.engine.dialect.name != "postgresql":
            self.close()
            name = self.engine.dialect.name
            msg = f"the eventsourcing PostgreSQL source reads PostgreSQL, not {name}"
            raise ForeignStoreError(msg)
        self.statement_timeout_ms = max(1, int(statement_timeout_ms))

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A `READ ONLY` transaction with the statement timeout set: where every read runs."""
        with self.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(
                "SET TRANSACTION READ ONLY; "
                f"SET LOCAL statement_timeout = {self.statement_timeout_ms}"
            )
            yield Session(conn)

    def quote(self, name: str) -> str:
        """An identifier quoted for PostgreSQL."""
        return self.engine.dialect.identifier_preparer.quote_identifier(name)

    def display(self) -> str:
        """The engine's URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the engine if it was made here (an engine passed in stays open)."""
        if self._owns_engine:
            self.engine.dispose()
