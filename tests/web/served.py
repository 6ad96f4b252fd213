"""The dashboard served for real, with its request logs written to files: by the werkzeug
server of `eventscope demo` in a thread, or by `eventscope serve` (gunicorn) in a child
process. Plus a small HTTP client that returns the status instead of raising."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from webapp.web.request_log import make_dashboard_server


def call(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """`(status, parsed JSON body or None)` of one request; 4xx and 5xx are returned too."""
    sent = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as refused:
        status, raw = refused.code, refused.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


@contextmanager
def served_by_werkzeug(app: Any, log_file: Path) -> Iterator[str]:
    """Serve `app` as `eventscope demo` does, its werkzeug request log going to `log_file`;
    yields the base URL."""
    handler = logging.FileHandler(log_file)
    werkzeug_log = logging.getLogger("werkzeug")
    werkzeug_log.addHandler(handler)
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.INFO)
    server = make_dashboard_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, name="demo-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        werkzeug_log.removeHandler(handler)
        werkzeug_log.setLevel(level)
        handler.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served_by_gunicorn(db_url: str, log_file: Path) -> Iterator[str]:
    """Run `eventscope --db DB_URL serve` (one worker, no projections worker), its stdout
    (gunicorn's access log) and stderr (its error log) going to `log_file`; yields the base
    URL once the app answers."""
    port = free_port()
    command = [sys.executable, "-m", "webapp", "--db", db_url, "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-worker"]
    base = f"http://127.0.0.1:{port}"
    with log_file.open("ab") as log:
        child = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if call(f"{base}/api/health")[0] == 200:
                    break
            except OSError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                msg = f"eventscope serve did not start:\n{log_file.read_text()}"
                raise RuntimeError(msg)
            time.sleep(0.2)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=30)
