"""`eventscope backup`: a consistent copy of a running SQLite deployment, keys kept apart."""

from __future__ import annotations

import base64
import os
import secrets
import stat
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from webapp.bootstrap import build_runtime
from webapp.cli import cli
from webapp.config import Settings
from webapp.store import NewEvent, open_store
from webapp.store.backup import BackupError, back_up_sqlite, event_summary


@pytest.fixture
def deployment(tmp_path: Path) -> dict:
    """A SQLite deployment with one registered user, and two backup folders."""
    folder = tmp_path / "live"
    folder.mkdir()
    settings = Settings(
        db_url=f"sqlite:///{folder / 'eventscope.db'}",
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


def test_a_postgresql_store_is_pointed_to_pg_dump(postgresql_url):
    result = CliRunner().invoke(cli, ["--db", postgresql_url, "backup", "copy.db"])

    assert result.exit_code == 1
    assert "pg_dump" in result.output


def test_a_backup_taken_while_events_are_appended_is_one_consistent_snapshot(tmp_path):
    live = tmp_path / "eventscope.db"
    store = open_store(f"sqlite:///{live}", migrate=True)
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
