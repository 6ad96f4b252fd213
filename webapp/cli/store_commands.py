"""`eventscope db ...` (schema migrations of every layer) and `eventscope backup`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from webapp.config import Settings, sqlite_path


def register(cli: click.Group) -> None:
    @cli.group("db")
    def db() -> None:
        """Manage the database schema."""

    @db.command("upgrade")
    @click.option("--to", "heads", default="heads", show_default=True, help="Target revision(s).")
    @click.pass_obj
    def upgrade(settings: Settings, heads: str) -> None:
        """Run the Alembic migrations of every layer up to their heads."""
        from webapp.migrate import upgrade as run_upgrade

        with _progress_shown("eventscope.migrate"):
            current = run_upgrade(settings.db_url, heads)
        click.echo(f"database at {', '.join(current) or 'no revision'}")

    @db.command("reindex")
    @click.pass_obj
    def reindex(settings: Settings) -> None:
        """Rebuild the index tables (event types, correlation ids, actors, times, event ids,
        the streams table) from the log, with progress. Readers stay right meanwhile."""
        from webapp.store import open_store

        def shown(mark: int, head: int) -> None:
            click.echo(f"indexed up to position {mark:,} of {head:,}", err=True)

        with open_store(settings.db_url) as store:
            mark = store.rebuild_index(progress=shown)
            streams = store.count_streams()
        click.echo(f"index rebuilt up to position {mark:,} ({streams:,} streams)")

    @db.command("current")
    @click.pass_obj
    def current(settings: Settings) -> None:
        """Print the revisions the database is at."""
        from webapp.migrate import current_heads

        click.echo(", ".join(current_heads(settings.db_url)) or "no revision")

    @db.command("check")
    @click.option("--full", is_flag=True, help="Check every row of the read models, not a sample.")
    @click.pass_obj
    def check(settings: Settings, full: bool) -> None:
        """Check what the store promises against its tables: stream versions 1..N, events
        in streams, snapshots behind their streams, JSON payloads; then the read models
        against a replay of the log (a sample of rows, all with --full). Exit 1 on a
        problem."""
        from webapp.bootstrap import check_read_models
        from webapp.store import open_store
        from webapp.store.integrity import MAX_PROBLEMS, NoEventStore, check_store, counted

        path = sqlite_path(settings.db_url)
        if path is not None and not path.is_file():
            msg = f"no event store here: there is no database file at {path}"
            raise click.ClickException(msg)
        store = open_store(settings.db_url)
        try:
            report = check_store(store)
            read_models = check_read_models(store, full=full)
        except NoEventStore as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            store.close()
        divergences = 0
        for checked in read_models:
            if not checked.built:
                continue
            for problem in checked.problems:
                click.echo(f"{checked.name}: {problem.where}: {problem.what}")
            divergences += len(checked.problems)
            sample = "" if checked.checked == checked.total else " (a sample; --full checks all)"
            verdict = (
                f": {counted(len(checked.problems), 'divergence')}" if checked.problems else ""
            )
            click.echo(
                f"Read model {checked.name}: checked {checked.checked:,} of "
                f"{counted(checked.total, checked.noun)} against the log{sample}{verdict}."
            )
        counts = ", ".join(
            counted(number, noun)
            for number, noun in [
                (report.streams, "stream"),
                (report.events, "event"),
                (report.snapshots, "snapshot"),
            ]
        )
        if report.ok and not divergences:
            click.echo(f"Checked {counts}: no problem found.")
            return
        for problem in report.problems:
            click.echo(f"{problem.where}: {problem.what}")
        click.echo(
            f"Checked {counts}: {len(report.problems) + divergences} problem(s) "
            f"(at most {MAX_PROBLEMS} of each kind are listed).",
            err=True,
        )
        raise SystemExit(1)

    @cli.command("backup")
    @click.argument("destination", type=click.Path(path_type=Path))
    @click.option(
        "--keys-to",
        type=click.Path(path_type=Path, file_okay=False),
        help="Also copy the key store, into this folder (not the store copy's folder).",
    )
    @click.pass_obj
    def backup(settings: Settings, destination: Path, keys_to: Path | None) -> None:
        """Copy the store to DESTINATION (a new file, or a folder) while it runs.

        SQLite: one consistent snapshot of the database file. PostgreSQL: pg_dump of the
        store's schema (custom format; restore with pg_restore). Either copy is readable
        by its owner only, and its personal data stays encrypted: reading it needs the key
        store and the master key, which are kept apart. --keys-to copies the key store too
        (on PostgreSQL sharing the store's database: the key tables' rows, which the store
        copy leaves out); the master key is never copied.
        """
        from webapp.privacy.database import default_keystore_url
        from webapp.store.backup import BackupError

        keystore_url = settings.keystore_url or default_keystore_url(settings.db_url)
        shared = keystore_url == settings.db_url  # PostgreSQL keeps keys beside the events
        target = _backup_file(destination, settings.db_url)
        if keys_to is not None:
            if not keys_to.is_dir():
                msg = f"--keys-to: the folder {keys_to} does not exist"
                raise click.ClickException(msg)
            if keys_to.resolve() == target.absolute().parent.resolve():
                msg = (
                    "--keys-to must be another folder than the store copy's: a key store "
                    "kept beside the events it unlocks undoes a forget's protection"
                )
                raise click.ClickException(msg)
        try:
            click.echo(_copy_store(settings.db_url, target, leave_out_keys=shared))
            if keys_to is not None:
                keys_target = _backup_file(keys_to, keystore_url, suffix="keys")
                click.echo(_copy_keys(keystore_url, keys_target, shared=shared))
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
        if keys_to is None:
            click.echo(
                "Key store: not copied (--keys-to FOLDER copies it). Without it and the "
                "master key, the personal data in this copy cannot be read."
            )
        click.echo("The master key is never copied: keep its own backup.")


@contextmanager
def _progress_shown(logger_name: str) -> Iterator[None]:
    """Show what `logger_name` logs at INFO on stderr for the block (a migration's progress)."""
    logger = logging.getLogger(logger_name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _backup_file(destination: Path, url: str, *, suffix: str = "") -> Path:
    """The file a backup of `url` goes to: `destination`, or a new name inside that folder."""
    from webapp.store.backup import backup_target, postgres_source

    path = sqlite_path(url)
    if path is None:
        source = postgres_source(url)
        name = "-".join(part for part in (source.database, source.schema, suffix) if part)
        path = Path(f"{name}.dump")
    return backup_target(destination, path)


def _copy_store(url: str, target: Path, *, leave_out_keys: bool) -> str:
    from webapp.privacy.tables import KEY_STORE_ROWS
    from webapp.store.backup import back_up_postgresql, back_up_sqlite, event_summary

    path = sqlite_path(url)
    if path is not None:
        copy = back_up_sqlite(path, target)
        count, head = event_summary(copy.path)
        return (
            f"Store: {count:,} events (head position {head:,}) copied to {copy.path} "
            f"({copy.size:,} bytes)."
        )
    left_out = KEY_STORE_ROWS if leave_out_keys else ()
    copy = back_up_postgresql(url, target, without_rows_of=left_out)
    note = ", without the key store's rows" if left_out else ""
    return (
        f"Store: dumped with pg_dump to {copy.path} ({copy.size:,} bytes{note}); "
        "restore it with pg_restore."
    )


def _copy_keys(url: str, target: Path, *, shared: bool) -> str:
    from webapp.privacy.tables import KEY_STORE_ROWS
    from webapp.store.backup import back_up_postgresql, back_up_sqlite

    path = sqlite_path(url)
    if path is not None:
        copy = back_up_sqlite(path, target)
        return f"Key store: copied to {copy.path} ({copy.size:,} bytes)."
    copy = back_up_postgresql(url, target, only_rows_of=KEY_STORE_ROWS if shared else None)
    how = "pg_restore --data-only, after the store" if shared else "pg_restore"
    return f"Key store: dumped to {copy.path} ({copy.size:,} bytes); restore it with {how}."
