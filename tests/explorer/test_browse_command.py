"""`eventscope browse SOURCE_URL`: serves the dashboard over another tool's store and prints a
one-time login link; a source it cannot read is one clear line, never a traceback."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.explorer.stores import schema_url
from tests.sources.commanded_store import CommandedStore
from tests.sources.eventsourcing_stores import Written
from webapp.cli import cli


def run_browse(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    own = f"sqlite:///{tmp_path / 'own.db'}"
    return CliRunner().invoke(cli, ["--db", own, "browse", *args], env=env)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x@y/z", "unknown source 'mysql'"),
        ("not a url", "unknown source"),
        ("eventsourcing+sqlite:///a.sqlite?schema=x", "takes the option(s) compressor, not schema"),
        ("eventsourcing+sqlite:///a.sqlite?compressor=lzma", "compressor must be one of zlib, bz2"),
        ("commanded+postgresql://u@h", "needs a database name"),
    ],
)
def test_a_source_url_it_cannot_read_is_one_clear_line(tmp_path, url, message):
    result = run_browse(tmp_path, url)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_file_and_a_file_that_is_not_such_a_store_are_refused(tmp_path):
    result = run_browse(tmp_path, f"eventsourcing+sqlite:///{tmp_path / 'missing.sqlite'}")
    assert result.exit_code == 1 and "cannot browse that source" in result.output
    assert not (tmp_path / "missing.sqlite").exists()
    other = tmp_path / "other.sqlite"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    result = run_browse(tmp_path, f"eventsourcing+sqlite:///{other}")
    assert result.exit_code == 1
    assert "cannot browse that source" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_database_without_commandeds_tables_is_refused(tmp_path, postgresql_url):
    schema = postgresql_url.rsplit("%3D", 1)[1]
    result = run_browse(tmp_path, schema_url(schema))
    assert result.exit_code == 1
    assert "cannot browse that source" in result.output and "streams" in result.output


def test_an_unsupported_schema_version_is_refused(tmp_path, postgresql_url):
    schema = postgresql_url.rsplit("%3D", 1)[1]
    engine = sa.create_engine(postgresql_url)
    try:
        CommandedStore(engine, schema, "jsonb").init()
        with engine.begin() as conn:
            conn.exec_driver_sql(f'UPDATE "{schema}".schema_migrations SET major_version = 9')
    finally:
        engine.dispose()
    result = run_browse(tmp_path, schema_url(schema))
    assert result.exit_code == 1
    assert "9." in result.output and "Traceback" not in result.output


def test_a_database_that_does_not_answer_is_one_line(tmp_path):
    result = run_browse(tmp_path, "commanded+postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1
    assert "could not be opened" in result.output
    assert len(result.output.strip().splitlines()) == 1


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_browse_serves_a_file_in_a_read_only_folder_and_leaves_it_untouched(
    tmp_path, eventsourcing_file: Written
):
    folder = tmp_path / "shelf"
    folder.mkdir()
    store = folder / "bank.sqlite"
    shutil.copy(eventsourcing_file.path, store)
    digest = sha256(store)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTSCOPE_")}
    own = tmp_path / "own"
    own.mkdir()
    command = [sys.executable, "-m", "webapp", "--db", f"sqlite:///{own / 'eventscope.db'}"]
    proc = subprocess.Popen(
        [*command, "browse", f"eventsourcing+sqlite:///{store}", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=own,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("One-time login link"):
                break
        output = "".join(lines)
        assert f"Browsing eventsourcing+sqlite://{store} (read-only)." in output, output
        link = lines[-1].split(": ", 1)[1].strip()
        base = link.split("/login/", 1)[0]
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with browser.open(link, timeout=10) as page:
            assert "Read-only view of" in page.read().decode()
        for path in ("/streams/", f"/streams/{eventsourcing_file.ann.hex}?version=2", "/catalog/"):
            with browser.open(f"{base}{path}", timeout=10) as page:
                assert page.status == 200
                assert eventsourcing_file.ann.hex in page.read().decode() or path == "/catalog/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        folder.chmod(stat.S_IRWXU)
    assert sha256(store) == digest
    assert sorted(p.name for p in folder.iterdir()) == ["bank.sqlite"]
