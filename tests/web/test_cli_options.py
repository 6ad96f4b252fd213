"""The command line's shared options and its errors: `--db URL` before or after any command
name (the command's own wins), and every configuration error one line with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from webapp.cli import cli
from webapp.config import sqlite_path
from webapp.store import open_store


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under `group`, as the words that name it."""
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


ALL_COMMANDS = sorted(_commands(cli))


def _events_in(url: str) -> int:
    store = open_store(url)
    try:
        return store.head_position()
    finally:
        store.close()


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of its own, with no EVENTSCOPE_DB to fall back on."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("EVENTSCOPE_DB", raising=False)
    monkeypatch.delenv("EVENTSCOPE_MASTER_KEY", raising=False)
    return folder


def _one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize("words", ALL_COMMANDS, ids=" ".join)
def test_every_command_takes_db_after_its_name(words: tuple[str, ...], sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, [*words, "--db", sqlite_url, "--help"])

    assert result.exit_code == 0, result.output
    assert "--db URL" in result.output


def test_seed_with_db_after_the_command_uses_that_store(elsewhere: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"

    result = CliRunner().invoke(cli, ["seed", "--db", url])

    assert result.exit_code == 0, result.output
    assert _events_in(url) > 0
    assert list(elsewhere.iterdir()) == []  # no eventscope.db in the working directory


def test_the_commands_own_db_wins_over_the_one_before_it(elsewhere: Path, tmp_path: Path) -> None:
    before, after = (f"sqlite:///{tmp_path / name}" for name in ("before.db", "after.db"))

    result = CliRunner().invoke(cli, ["--db", before, "db", "upgrade", "--db", after])

    assert result.exit_code == 0, result.output
    after_path, before_path = sqlite_path(after), sqlite_path(before)
    assert after_path is not None and after_path.is_file()
    assert before_path is not None and not before_path.exists()


def test_db_on_a_group_reaches_its_commands(elsewhere: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'grouped.db'}"

    result = CliRunner().invoke(cli, ["db", "--db", url, "upgrade"])

    assert result.exit_code == 0, result.output
    path = sqlite_path(url)
    assert path is not None and path.is_file()


def test_an_unusable_db_after_the_command_is_a_usage_error(elsewhere: Path) -> None:
    result = CliRunner().invoke(cli, ["seed", "--db", "nonsense://x"])

    assert result.exit_code == 2
    assert "is not a store URL" in result.output or "unsupported store URL" in result.output


@pytest.mark.parametrize(
    "command",
    [["seed"], ["export", "u-1"], ["lookup", "a@example.org"], ["keys", "rotate"]],
    ids=["seed", "export", "lookup", "keys-rotate"],
)
def test_a_malformed_master_key_is_one_line_and_exit_status_2(
    tmp_path: Path, command: list[str]
) -> None:
    environment = {
        **os.environ,
        "EVENTSCOPE_MASTER_KEY": "x",
        "EVENTSCOPE_DB": f"sqlite:///{tmp_path / 'eventscope.db'}",
    }

    finished = subprocess.run(
        [sys.executable, "-m", "webapp", *command],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 2
    assert finished.stdout == ""
    line = _one_line_error(finished.stderr)
    assert "master key from EVENTSCOPE_MASTER_KEY is not valid base64" in line


def test_a_master_key_file_that_cannot_be_read_is_one_line_and_exit_status_2(
    elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_file = tmp_path / "master.key"
    not_a_file.mkdir()
    monkeypatch.setenv("EVENTSCOPE_MASTER_KEY_FILE", str(not_a_file))

    result = CliRunner().invoke(cli, ["seed", "--db", f"sqlite:///{tmp_path / 'e.db'}"])

    assert result.exit_code == 2
    assert f"master key file {not_a_file} cannot be read" in _one_line_error(result.output)


def test_a_malformed_key_store_url_is_one_line_and_exit_status_2(
    elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTSCOPE_KEYSTORE_DB", "nonsense")

    result = CliRunner().invoke(cli, ["seed", "--db", f"sqlite:///{tmp_path / 'e.db'}"])

    assert result.exit_code == 2
    assert "EVENTSCOPE_KEYSTORE_DB" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("variable", "value"),
    [("EVENTSCOPE_TRUSTED_PROXIES", "one"), ("EVENTSCOPE_PAGE_CACHE_MB", "plenty")],
)
def test_a_malformed_serving_setting_stops_serve_before_it_starts(
    elsewhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    result = CliRunner().invoke(
        cli, ["serve", "--db", f"sqlite:///{tmp_path / 'e.db'}", "--port", "0"]
    )

    assert result.exit_code == 2
    assert f"{variable} must be a whole number" in _one_line_error(result.output)


def test_a_secret_key_file_too_short_is_one_line_and_exit_status_2(
    elsewhere: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret.key").write_text("short\n")

    result = CliRunner().invoke(
        cli, ["serve", "--db", f"sqlite:///{tmp_path / 'e.db'}", "--port", "0"]
    )

    assert result.exit_code == 2
    assert "secret key file" in _one_line_error(result.output)
