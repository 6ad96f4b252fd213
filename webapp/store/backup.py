"""Hot backups of the store (and the key store) while the service runs.

SQLite: copying a database file in WAL mode with `cp` can catch it between a commit
and a checkpoint: the copy may miss committed events or be corrupt. SQLite's online
backup API copies one consistent snapshot instead; writers are not blocked meanwhile
(WAL). The copy is checked with `PRAGMA quick_check`.

PostgreSQL: `pg_dump` of the store's schema (its `search_path`, else `public`) in
pg_dump's custom format, one consistent snapshot taken in a repeatable-read
transaction; the archive is checked by listing it with `pg_restore --list`. Tables
can be dumped without their rows, or only their rows: that is how the key store's
tables are kept out of a store backup and written to a file of their own. The
password travels in the child's environment, never on its command line.

Either way the copy is created readable by its owner only, never over an existing
file, and removed again if anything fails.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from webapp.database.engine import SQLITE_BUSY_TIMEOUT_MS


class BackupError(Exception):
    """The backup could not be made; nothing is left behind at the destination."""


@dataclass(frozen=True)
class BackupCopy:
    path: Path
    size: int
    """Bytes."""


def backup_target(destination: Path, source: Path, stamp: datetime | None = None) -> Path:
    """The file to write: `destination` itself, or inside a `destination` folder a name
    made of the source's name and the UTC time (`eventscope-20261126T130501Z.db`)."""
    if destination.is_dir():
        when = (stamp or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return destination / f"{source.stem}-{when}{source.suffix or '.db'}"
    return destination


def back_up_sqlite(source: Path, target: Path) -> BackupCopy:
    """Copy the SQLite database `source` to the new file `target` as one consistent snapshot."""
    if not source.is_file():
        msg = f"there is no database file at {source}"
        raise BackupError(msg)
    with _new_file(target):
        _copy(source, target)
    return BackupCopy(target, target.stat().st_size)


@contextmanager
def _new_file(target: Path) -> Iterator[None]:
    """Create `target` for its owner only (never over a file); remove it if the block fails."""
    if not target.parent.is_dir():
        msg = f"the folder {target.parent} does not exist"
        raise BackupError(msg)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        msg = f"{target} already exists; a backup never overwrites a file"
        raise BackupError(msg) from None
    os.close(descriptor)
    try:
        yield
    except BaseException:
        target.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class PostgresSource:
    """Where pg_dump finds a store: libpq environment variables and the schema."""

    environment: dict[str, str]
    schema: str

    @property
    def database(self) -> str:
        return self.environment.get("PGDATABASE", "")


_SEARCH_PATH = re.compile(r"search_path\s*=\s*\"?([^\s,\"]+)")
_LIBPQ_QUERY = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE"}


def postgres_source(url: str) -> PostgresSource:
    """The libpq settings and schema of a SQLAlchemy PostgreSQL URL (the schema is the first
    entry of a `search_path` given in `options`, else `public`)."""
    parsed = make_url(url)
    environment = {
        name: str(value)
        for name, value in (
            ("PGHOST", parsed.host),
            ("PGPORT", parsed.port),
            ("PGUSER", parsed.username),
            ("PGPASSWORD", parsed.password),
            ("PGDATABASE", parsed.database),
        )
        if value
    }
    for key, variable in _LIBPQ_QUERY.items():
        value = parsed.query.get(key)
        if value:
            environment[variable] = str(value if isinstance(value, str) else value[0])
    options = parsed.query.get("options") or ""
    options = options if isinstance(options, str) else " ".join(options)
    found = _SEARCH_PATH.search(options)
    return PostgresSource(environment, found.group(1) if found else "public")


def back_up_postgresql(
    url: str,
    target: Path,
    *,
    without_rows_of: Sequence[str] = (),
    only_rows_of: Sequence[str] | None = None,
) -> BackupCopy:
    """Dump the store's schema at `url` into the new file `target` (pg_dump's custom format).

    `without_rows_of`: tables dumped without their rows. `only_rows_of`: dump nothing but
    these tables' rows (restore with `pg_restore --data-only` after the schema dump)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        msg = "pg_dump is not installed (Debian: apt-get install postgresql-client)"
        raise BackupError(msg)
    source = postgres_source(url)
    schema = source.schema
    command = [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    if only_rows_of is not None:
        command += ["--data-only", *(f"--table={schema}.{table}" for table in only_rows_of)]
    else:
        command += [f"--schema={schema}"]
        command += [f"--exclude-table-data={schema}.{table}" for table in without_rows_of]
    with _new_file(target):
        _run(command, f"pg_dump of schema {schema} in database {source.database}", source)
        archived_tables(target)  # the check: pg_restore can read the whole archive
    return BackupCopy(target, target.stat().st_size)


def _run(command: list[str], what: str, source: PostgresSource | None = None) -> str:
    environment = {**os.environ, **(source.environment if source else {})}
    try:
        done = subprocess.run(  # noqa: S603 - a fixed program with arguments built here
            command, env=environment, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        msg = f"{what} could not start: {exc}"
        raise BackupError(msg) from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        msg = f"{what} failed: {reason}"
        raise BackupError(msg)
    return done.stdout


def archived_tables(archive: Path) -> dict[str, bool]:
    """The tables a pg_dump archive holds, each with whether its rows are in it."""
    listing = _run(["pg_restore", "--list", str(archive)], f"listing {archive} with pg_restore")
    tables: dict[str, bool] = {}
    for line in listing.splitlines():
        if line.startswith(";"):
            continue
        words = line.split()
        if "TABLE" in words and "DATA" not in words and len(words) >= 6:
            tables.setdefault(words[-2], False)
        if "TABLE" in words and "DATA" in words and len(words) >= 7:
            tables[words[-2]] = True
    return tables


def _copy(source: Path, target: Path) -> None:
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    src = sqlite3.connect(_read_only(source), uri=True, timeout=timeout)
    try:
        dst = sqlite3.connect(target, timeout=timeout)
        try:
            src.backup(dst)  # every page in one step: one read snapshot of the source
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            (verdict,) = dst.execute("PRAGMA quick_check").fetchone()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        msg = f"the copy of {source} failed: {exc}"
        raise BackupError(msg) from None
    finally:
        src.close()
    if verdict != "ok":
        msg = f"the copy of {source} does not pass SQLite's check: {verdict}"
        raise BackupError(msg)


def _read_only(database: Path) -> str:
    return f"{database.absolute().as_uri()}?mode=ro"


def event_summary(database: Path) -> tuple[int, int]:
    """How many events a store file holds, and its head position."""
    conn = sqlite3.connect(_read_only(database), uri=True)
    try:
        row = conn.execute("SELECT count(*), coalesce(max(position), 0) FROM events").fetchone()
    finally:
        conn.close()
    return row[0], row[1]
