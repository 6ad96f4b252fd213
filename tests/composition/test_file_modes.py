"""Every file eventscope writes is readable by its owner only (0600), every folder it makes 0700.

Whatever the umask: these start from the common 022, under which a plain `open` or
SQLite's own file creation gives 0644.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from webapp.bootstrap import build_runtime
from webapp.cli import cli
from webapp.config import Settings
from webapp.web import create_app


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _modes(folder: Path) -> dict[str, str]:
    """Each file and folder under `folder` (relative path) with its permission bits in octal."""
    return {
        str(path.relative_to(folder)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in sorted(folder.rglob("*"))
    }


def _start_and_write(db_url: str) -> None:
    """What `eventscope demo` does before serving: build, open the app, append an event."""
    runtime = build_runtime(Settings(db_url=db_url))
    try:
        create_app({"TESTING": True}, runtime=runtime)
        runtime.router.dispatch_json(
            "RegisterUser", {"user_id": "u-1", "name": "Ada", "email": "ada@example.org"}
        )
    finally:
        runtime.close()


def test_a_fresh_deployment_writes_every_file_for_its_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "deployment"
    folder.mkdir()
    db_url = f"sqlite:///{folder / 'eventscope.db'}"

    runtime = build_runtime(Settings(db_url=db_url))
    try:
        create_app({"TESTING": True}, runtime=runtime)
        runtime.router.dispatch_json(
            "RegisterUser", {"user_id": "u-1", "name": "Ada", "email": "ada@example.org"}
        )
        modes = _modes(folder)  # while it runs: the write-ahead logs are there
    finally:
        runtime.close()

    assert {"eventscope.db", "keystore.db", "master.key", "secret.key"} <= set(modes)
    assert {"eventscope.db-wal", "eventscope.db-shm", "keystore.db-wal"} <= set(modes)
    assert modes == dict.fromkeys(modes, "0o600")
    assert _modes(folder) == dict.fromkeys(_modes(folder), "0o600")


def test_folders_eventscope_makes_are_for_its_owner_only(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'eventscope.db'}"
    settings = Settings(
        db_url=db_url,
        keystore_url=f"sqlite:///{tmp_path / 'keys' / 'nested' / 'keystore.db'}",
    )

    build_runtime(settings).close()

    modes = _modes(tmp_path)
    assert modes["keys"] == "0o700"
    assert modes["keys/nested"] == "0o700"
    assert modes["keys/nested/keystore.db"] == "0o600"


def test_the_secret_key_folder_of_a_postgresql_deployment_is_for_its_owner_only(
    tmp_path: Path,
) -> None:
    from webapp.web.security import load_secret_key

    load_secret_key(None, tmp_path / ".eventscope")

    assert _modes(tmp_path) == {".eventscope": "0o700", ".eventscope/secret.key": "0o600"}


def test_a_generated_master_key_folder_is_for_its_owner_only(tmp_path: Path) -> None:
    from webapp.privacy.master_key import write_key_file

    write_key_file(tmp_path / "secrets" / "master.key", bytes(32))

    assert _modes(tmp_path) == {"secrets": "0o700", "secrets/master.key": "0o600"}


def test_backups_of_store_and_key_store_are_for_their_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "deployment"
    folder.mkdir()
    db_url = f"sqlite:///{folder / 'eventscope.db'}"
    _start_and_write(db_url)
    (tmp_path / "backups").mkdir()
    (tmp_path / "keys").mkdir()

    result = CliRunner().invoke(
        cli,
        ["--db", db_url, "backup", str(tmp_path / "backups"), "--keys-to", str(tmp_path / "keys")],
    )

    assert result.exit_code == 0, result.output
    copies = {**_modes(tmp_path / "backups"), **_modes(tmp_path / "keys")}
    assert len(copies) == 2
    assert set(copies.values()) == {"0o600"}
    assert set(_modes(folder).values()) == {"0o600"}
