"""`eventscope demo`: a new user's first command seeds, serves and hands out a login link."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from http.cookiejar import CookieJar

import pytest


@pytest.mark.slow
def test_demo_seeds_a_new_store_serves_the_dashboard_and_prints_a_working_login_link(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTSCOPE_")}
    db = tmp_path / "eventscope.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp", "--db", f"sqlite:///{db}", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("One-time login link"):
                break
        output = "".join(lines)
        assert "Loaded" in output, output
        assert f"Master key: generated at {tmp_path / 'master.key'}" in output, output
        link = lines[-1].split(": ", 1)[1].strip()
        base = link.split("/login/", 1)[0]

        with urllib.request.urlopen(f"{base}/api/health", timeout=10) as reply:
            assert json.loads(reply.read()) == {"status": "ok"}
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with browser.open(link, timeout=10) as page:
            body = page.read().decode()
        assert "Overview" in body and "admin" in body
        assert (tmp_path / "master.key").stat().st_mode & 0o077 == 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_demo_on_a_port_in_use_says_so_before_touching_the_store(tmp_path):
    import socket

    from click.testing import CliRunner

    from webapp.cli import cli

    db = tmp_path / "eventscope.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--db", f"sqlite:///{db}", "demo", "--port", str(port)])

    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use by another program" in result.output
    assert not db.exists()
