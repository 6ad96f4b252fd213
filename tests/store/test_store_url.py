"""The store URL (`--db`, EVENTSCOPE_DB): a wrong one is a usage error, an unreachable one a
single line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from webapp.cli import cli
from webapp.database.engine import parse_store_url


@pytest.mark.parametrize(
    "url", ["sqlite:////tmp/x.db", "postgresql+psycopg://u@h/db", "postgresql://u:pw@h:5432/db"]
)
def test_sqlite_and_postgresql_urls_are_store_urls(url):
    assert parse_store_url(url).get_backend_name() in ("sqlite", "postgresql")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "'notaurl' is not a store URL"),
        ("mysql://u:secret@h/db", "unsupported store URL 'mysql://u:***@h/db'"),
    ],
)
def test_other_urls_are_refused_naming_the_forms_that_work(url, says):
    with pytest.raises(ValueError, match="use sqlite:///") as refused:
        parse_store_url(url)
    assert says in str(refused.value)
    assert "secret" not in str(refused.value)


def test_the_command_line_refuses_a_malformed_db_option_as_a_usage_error():
    result = CliRunner().invoke(cli, ["--db", "mysql://x/y", "seed"])
    assert result.exit_code == 2
    assert "Invalid value for '--db' / EVENTSCOPE_DB: unsupported store URL" in result.output


def eventscope(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "webapp", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_sqlite_file_in_a_missing_folder_is_one_line_naming_the_folder_and_exit_1(tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "x.db"
    result = eventscope("--db", f"sqlite:///{missing}", "seed")
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: the store could not be opened: the folder {missing.parent} does not exist\n"
    )
    assert not (tmp_path / "no").exists()


def test_a_sqlite_file_that_cannot_be_opened_is_one_line_and_exit_1(tmp_path):
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    result = eventscope("--db", f"sqlite:///{folder}", "seed")
    assert result.returncode == 1
    assert result.stderr == "Error: the store could not be opened: unable to open database file\n"


def test_an_unreachable_postgresql_is_one_line_and_exit_1():
    result = eventscope("--db", "postgresql+psycopg://nobody@127.0.0.1:1/x", "seed")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: the store could not be opened: connection failed")
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
