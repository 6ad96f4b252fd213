"""Helpers shared by the bench scripts: fresh databases, timing, printing."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def sqlite_database(synchronous: str) -> Iterator[tuple[str, Path]]:
    """A fresh SQLite file: (store URL, file path)."""
    with tempfile.TemporaryDirectory(prefix="eventscope-bench-") as folder:
        path = Path(folder) / "bench.db"
        yield f"sqlite:///{path}?synchronous={synchronous}", path


@contextmanager
def postgresql_schema(base_url: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema: (store URL, schema name); dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}", schema
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def psycopg_connect(url: str, **kwargs: Any) -> Any:
    """A plain psycopg connection to a SQLAlchemy postgresql+psycopg URL."""
    import psycopg

    engine = sa.create_engine(url)
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    engine.dispose()
    return psycopg.connect(*cargs, **{**cparams, **kwargs})


def timed(run: Callable[[], int]) -> float:
    """Run `run` (which returns how many items it handled) and return items per second."""
    started = time.perf_counter()
    count = run()
    return count / (time.perf_counter() - started)


def report(title: str, rows: list[tuple[str, float]], baseline: str) -> None:
    base = dict(rows)[baseline]
    print(f"\n{title}")
    for name, rate in rows:
        print(f"  {name:<40} {rate:>10,.0f} events/s  {rate / base:5.2f}x {baseline}")
