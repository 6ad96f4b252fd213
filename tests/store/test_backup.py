"""`eventscope backup`: a consistent copy of a running deployment (SQLite or PostgreSQL),
with the key store kept apart."""

from __future__ import annotations

import base64
import os
import re
import secrets
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from webapp.bootstrap import build_runtime, open_migrated_store
from webapp.cli import cli
from webapp.config import Settings
from webapp.store import NewEvent, open_store
from webapp.store import backup as backup_module
from webapp.store.backup import (
    BackupError,
    archived_tables,
    back_up_postgresql,
    back_up_sqlite,
    event_summary,
    postgres_source,
)


def deployed(db_url: str, tmp_path: Path) -> dict:
    """A deployment at `db_url` with one registered user, and two backup folders."""
    settings = Settings(
        db_url=db_url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        secret_key="s" * 40,
    )
    runtime = build_runtime(settings)
    runtime.router.dispatch_json(
        "RegisterUser", {"user_id": "u-7", "name": "Ada Lovelace", "email": "ada@example.org"}
    )
    runtime.close()
    for name in ("copies", "keys"):
        (tmp_path / name).mkdir()
    return {"settings": settings, "copies": tmp_path / "copies", "keys": tmp_path / "keys"}


@pytest.fixture
def deployment(tmp_path: Path) -> dict:
    """A SQLite deployment (the key store in a file beside the store)."""
    folder = tmp_path / "live"
    folder.mkdir()
    return deployed(f"sqlite:///{folder / 'eventscope.db'}", tmp_path)


def backup(settings: Settings, *args: str):
    """The command as an operator runs it: it needs no master key."""
    return CliRunner().invoke(cli, ["--db", settings.db_url, "backup", *args])


def test_a_backup_with_its_key_store_restores_to_a_deployment_that_reads_personal_data(
    deployment,
):
    settings, copies, keys = deployment["settings"], deployment["copies"], deployment["keys"]

    result = backup(settings, str(copies), "--keys-to", str(keys))

    assert result.exit_code == 0, result.output
    [store_copy] = copies.iterdir()
    [key_copy] = keys.iterdir()
    assert "events (head position" in result.output and str(store_copy) in result.output
    assert "The master key is never copied" in result.output
    for copy in (store_copy, key_copy):
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    restored = build_runtime(
        Settings(
            db_url=f"sqlite:///{store_copy}",
            keystore_url=f"sqlite:///{key_copy}",
            master_key=settings.master_key,
            secret_key="s" * 40,
        )
    )
    try:
        export = restored.privacy.export("u-7", actor="test", role="support")
    finally:
        restored.close()
    emails = [event["data"].get("email") for event in export["events"]]
    assert "ada@example.org" in emails


def test_a_backup_without_the_key_store_holds_no_readable_personal_data(deployment):
    settings, copies = deployment["settings"], deployment["copies"]

    result = backup(settings, str(copies / "only-events.db"))

    assert result.exit_code == 0, result.output
    assert "Key store: not copied" in result.output
    data = (copies / "only-events.db").read_bytes()
    assert b"ada@example.org" not in data and b"Ada Lovelace" not in data
    assert not list(deployment["keys"].iterdir())


def test_the_key_store_may_not_go_into_the_store_copys_folder(deployment):
    settings, copies = deployment["settings"], deployment["copies"]

    result = backup(settings, str(copies), "--keys-to", str(copies))

    assert result.exit_code == 1
    assert "--keys-to must be another folder" in result.output
    assert not list(copies.iterdir())


def test_a_backup_never_overwrites_a_file(deployment):
    settings, copies = deployment["settings"], deployment["copies"]
    existing = copies / "taken.db"
    existing.write_bytes(b"an older backup")

    result = backup(settings, str(existing))

    assert result.exit_code == 1
    assert "already exists" in result.output
    assert existing.read_bytes() == b"an older backup"


@pytest.fixture
def pg_deployment(postgresql_url: str, tmp_path: Path) -> dict:
    """A PostgreSQL deployment (the key store's tables in the store's schema)."""
    return deployed(postgresql_url, tmp_path)


def restore(url: str, archive: Path, *, rows_only: bool = False) -> None:
    """What an operator runs: pg_restore into the database the store lives in."""
    source = postgres_source(url)
    command = ["pg_restore", f"--dbname={source.database}", "--no-owner", str(archive)]
    if rows_only:
        command.insert(1, "--data-only")
    subprocess.run(command, env={**os.environ, **source.environment}, check=True)


def drop_schema(url: str) -> None:
    engine = sa.create_engine(url.split("?")[0], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{postgres_source(url).schema}" CASCADE')
    engine.dispose()


def subject_emails(settings: Settings) -> list[str | None]:
    runtime = build_runtime(settings)
    try:
        export = runtime.privacy.export("u-7", actor="test", role="support")
    finally:
        runtime.close()
    return [event["data"].get("email") for event in export["events"]]


def test_a_postgresql_backup_and_its_keys_restore_to_a_deployment_that_reads_personal_data(
    pg_deployment,
):
    settings, copies, keys = (
        pg_deployment["settings"],
        pg_deployment["copies"],
        pg_deployment["keys"],
    )

    result = backup(settings, str(copies), "--keys-to", str(keys))

    assert result.exit_code == 0, result.output
    [store_copy] = copies.iterdir()
    [key_copy] = keys.iterdir()
    schema = postgres_source(settings.db_url).schema
    database = sa.engine.make_url(settings.db_url).database
    assert re.fullmatch(rf"{database}-{schema}-\d{{8}}T\d{{6}}Z\.dump", store_copy.name)
    assert re.fullmatch(rf"{database}-{schema}-keys-\d{{8}}T\d{{6}}Z\.dump", key_copy.name)
    for copy in (store_copy, key_copy):
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    in_store, in_keys = archived_tables(store_copy), archived_tables(key_copy)
    assert in_store["events"] is True and in_store["streams"] is True
    assert in_store["privacy_subjects"] is False and in_store["privacy_meta"] is False
    assert set(in_keys) == {
        "privacy_meta",
        "privacy_subjects",
        "privacy_subject_streams",
        "privacy_subject_lookup",
    }
    assert "pg_restore --data-only" in result.output

    drop_schema(settings.db_url)
    restore(settings.db_url, store_copy)
    restore(settings.db_url, key_copy, rows_only=True)

    assert "ada@example.org" in subject_emails(settings)


def test_a_postgresql_backup_without_its_keys_cannot_read_personal_data(pg_deployment):
    settings, copies = pg_deployment["settings"], pg_deployment["copies"]

    result = backup(settings, str(copies / "only-events.dump"))

    assert result.exit_code == 0, result.output
    assert "without the key store's rows" in result.output
    assert "Key store: not copied" in result.output
    drop_schema(settings.db_url)
    restore(settings.db_url, copies / "only-events.dump")
    assert "ada@example.org" not in subject_emails(settings)


def test_a_postgresql_backup_never_overwrites_and_leaves_nothing_when_pg_dump_fails(
    pg_deployment,
):
    settings, copies = pg_deployment["settings"], pg_deployment["copies"]
    existing = copies / "taken.dump"
    existing.write_bytes(b"an older backup")
    url = sa.engine.make_url(settings.db_url)
    wrong_database = url.set(database="no_such_database").render_as_string(hide_password=False)

    taken = backup(settings, str(existing))
    failed = CliRunner().invoke(cli, ["--db", wrong_database, "backup", str(copies / "new.dump")])

    assert taken.exit_code == 1 and "already exists" in taken.output
    assert existing.read_bytes() == b"an older backup"
    assert failed.exit_code == 1 and "pg_dump of schema" in failed.output
    assert sorted(p.name for p in copies.iterdir()) == ["taken.dump"]


def test_without_pg_dump_the_backup_says_what_to_install(pg_deployment, monkeypatch):
    monkeypatch.setattr(backup_module.shutil, "which", lambda name: None)
    target = pg_deployment["copies"] / "copy.dump"

    with pytest.raises(BackupError, match="pg_dump is not installed"):
        back_up_postgresql(pg_deployment["settings"].db_url, target)

    assert not target.exists()


def test_a_postgresql_urls_schema_and_connection_go_to_pg_dump_without_the_password_in_argv():
    source = postgres_source(
        "postgresql+psycopg://app:s3cret@db.internal:6543/events"
        "?options=-csearch_path%3Dtenant_a&sslmode=require"
    )

    assert source.schema == "tenant_a"
    assert source.environment == {
        "PGHOST": "db.internal",
        "PGPORT": "6543",
        "PGUSER": "app",
        "PGPASSWORD": "s3cret",
        "PGDATABASE": "events",
        "PGSSLMODE": "require",
    }
    assert postgres_source("postgresql://localhost/events").schema == "public"


def test_a_backup_taken_while_events_are_appended_is_one_consistent_snapshot(tmp_path):
    live = tmp_path / "eventscope.db"
    store = open_migrated_store(f"sqlite:///{live}")
    stop = threading.Event()

    def keep_appending() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            batch = [NewEvent("MoneyDeposited", {"n": n, "i": i}) for i in range(3)]
            store.append(f"account-{n % 7}", batch)

    writer = threading.Thread(target=keep_appending)
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while store.head_position() < 300 and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        copy = back_up_sqlite(live, tmp_path / "copy.db")
    finally:
        stop.set()
        writer.join()
        store.close()

    count, head = event_summary(copy.path)
    copied = open_store(f"sqlite:///{copy.path}")
    try:
        positions = [e.position for e in copied.read_all(0, limit=100_000)]
        streams = {s.stream_id: s.version for s in copied.list_streams("account-", limit=10)}
        versions = {
            stream_id: [e.stream_version for e in copied.read_stream(stream_id, limit=100_000)]
            for stream_id in streams
        }
    finally:
        copied.close()
    assert count == head >= 300
    assert count % 3 == 0  # whole batches only
    assert positions == list(range(1, head + 1))
    for stream_id, version in streams.items():
        assert versions[stream_id] == list(range(1, version + 1))


def test_a_failed_backup_leaves_no_file_behind(tmp_path):
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not sqlite")
    target = tmp_path / "copy.db"

    with pytest.raises(BackupError):
        back_up_sqlite(not_a_database, target)

    assert not target.exists()
    assert os.listdir(tmp_path) == ["notes.txt"]
