"""Request logs hold no query strings: what `eventscope demo` (werkzeug) and `eventscope serve`
(gunicorn) write keeps method, path and status, never a value sent after `?`."""

from __future__ import annotations

import re
import socket
from urllib.parse import quote, urlsplit

import pytest

from tests.web.served import call, served_by_gunicorn, served_by_werkzeug
from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.web import create_app
from webapp.web.accounts import AccountBook
from webapp.web.request_log import without_query

ADDRESS = "ada@example.org"


def read_log(path) -> str:
    """The log's text without the terminal colours werkzeug adds to some lines."""
    return re.sub(r"\x1b\[[0-9;]*m", "", path.read_text())


def requests_carrying_the_address(base: str, token: str) -> dict[str, int]:
    """A lookup done right (POST), and the same address sent in URLs and a Referer."""
    lookup = call(
        f"{base}/api/subjects/lookup", method="POST", body={"email": ADDRESS}, token=token
    )
    in_the_url = call(f"{base}/api/subjects?email={quote(ADDRESS)}", token=token)
    page_in_the_url = call(f"{base}/subjects/?q={quote(ADDRESS)}", token=token)
    referred = call(
        f"{base}/api/health", headers={"Referer": f"{base}/subjects/?q={quote(ADDRESS)}"}
    )
    return {
        "lookup": lookup[0],
        "in the url": in_the_url[0],
        "page in the url": page_in_the_url[0],
        "referred": referred[0],
    }


def malformed_request_line(base: str) -> None:
    """A request line werkzeug cannot parse (it logs the line it refuses)."""
    where = urlsplit(base)
    with socket.create_connection((where.hostname, where.port), timeout=10) as raw:
        raw.sendall(f"GET /api/subjects?email={ADDRESS} HTTP/1.1 junk\r\n\r\n".encode())
        raw.recv(4096)


def test_without_query_cuts_every_query_string_and_keeps_the_rest():
    line = '"GET /subjects/?q=ada@example.org HTTP/1.1" 400 - "http://h/x?a=1&b=2" "curl/8"'

    assert without_query(line) == '"GET /subjects/ HTTP/1.1" 400 - "http://h/x" "curl/8"'
    assert without_query("is the id right? yes") == "is the id right? yes"


def test_the_demo_server_logs_requests_without_their_query_strings(runtime, tokens, tmp_path):
    log_file = tmp_path / "demo.log"
    with served_by_werkzeug(create_app(runtime=runtime), log_file) as base:
        statuses = requests_carrying_the_address(base, tokens["support"])
        malformed_request_line(base)

    log = read_log(log_file)
    assert statuses == {"lookup": 200, "in the url": 400, "page in the url": 400, "referred": 200}
    assert '"POST /api/subjects/lookup HTTP/1.1" 200' in log
    assert '"GET /api/subjects HTTP/1.1" 400' in log
    assert "Bad request" in log
    assert ADDRESS not in log
    assert "email=" not in log


@pytest.mark.slow
def test_gunicorn_logs_requests_without_their_query_strings(sqlite_url, tmp_path):
    settings = Settings(db_url=sqlite_url)
    runtime = build_runtime(settings)
    try:
        book = AccountBook(runtime.database)
        book.ensure("sam", "support")
        token = book.create_token("sam")
    finally:
        runtime.close()
    log_file = tmp_path / "serve.log"

    with served_by_gunicorn(sqlite_url, log_file) as base:
        statuses = requests_carrying_the_address(base, token)

    log = read_log(log_file)
    assert statuses == {"lookup": 200, "in the url": 400, "page in the url": 400, "referred": 200}
    assert '"POST /api/subjects/lookup HTTP/1.1" 200' in log
    assert '"GET /api/subjects HTTP/1.1" 400' in log
    assert '"GET /subjects/ HTTP/1.1" 400' in log
    stamped = r'\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "POST /api/subjects/lookup '
    assert re.search(stamped, log), log
    assert ADDRESS not in log
    assert "q=" not in log
