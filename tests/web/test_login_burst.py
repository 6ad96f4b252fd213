"""A concurrent burst of logins for one name gets at most the throttle's limit of password
checks, from threads of one server and from the processes of a gunicorn deployment."""

from __future__ import annotations

import base64
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.web import create_app
from webapp.web.accounts import AccountBook
from webapp.web.login_throttle import ThrottlePolicy

NAME, PASSWORD = "sam", "correct horse battery"
LIMIT = ThrottlePolicy().name_failures  # 5 failed logins lock a name
BURST = 40
MASTER_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


def prepare_store(url: str) -> None:
    """Migrate the store at `url` and give it the account `sam` with a password."""
    settings = Settings(db_url=url, master_key=MASTER_KEY, secret_key=secrets.token_urlsafe(32))
    runtime = build_runtime(settings)
    try:
        book = AccountBook(runtime.database)
        book.ensure(NAME, "support")
        book.set_password(NAME, PASSWORD)
    finally:
        runtime.close()


class Browser:
    """One browser with its own session cookie and the CSRF token of its login form."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        page = self.http.get(f"{base}/login", timeout=30).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, page
        self.csrf = found.group(1)

    def log_in(self, password: str) -> int:
        reply = self.http.post(
            f"{self.base}/login",
            data={"name": NAME, "password": password, "csrf_token": self.csrf},
            allow_redirects=False,
            timeout=60,
        )
        return reply.status_code


def burst(base: str, passwords: list[str]) -> list[int]:
    """Every password sent at once (after a barrier), each by its own browser."""
    browsers = [Browser(base) for _ in passwords]
    start = threading.Barrier(len(passwords))

    def send(pair: tuple[Browser, str]) -> int:
        browser, password = pair
        start.wait()
        return browser.log_in(password)

    with ThreadPoolExecutor(len(passwords)) as pool:
        return list(pool.map(send, zip(browsers, passwords, strict=True)))


class CheckGate:
    """Holds every password check of the app's account book until opened, counting them:
    the burst is all in flight at once however fast the server answers."""

    def __init__(self, app: Any) -> None:
        self.book = app.extensions["eventscope_accounts"]
        self.real_check: Callable[[str, str], Any] = self.book.sign_in_with_password
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.checks = 0
        self.book.sign_in_with_password = self.check

    def check(self, name: str, password: str) -> Any:
        with self.lock:
            self.checks += 1
        self.opened.wait(timeout=30)
        return self.real_check(name, password)


@contextmanager
def served(url: str) -> Iterator[tuple[str, CheckGate]]:
    """The dashboard over `url`, served by werkzeug's threaded server on a free port."""
    settings = Settings(db_url=url, master_key=MASTER_KEY, secret_key=secrets.token_urlsafe(32))
    runtime = build_runtime(settings)
    app = create_app({"TESTING": False}, runtime=runtime)
    gate = CheckGate(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}", gate
    finally:
        gate.opened.set()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        runtime.close()


def wait_until(
    condition: Callable[[], bool], seconds: float = 30, why: Callable[[], str] = lambda: ""
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out {why()}"
        time.sleep(0.02)


def test_a_concurrent_burst_gets_at_most_the_limit_of_checks_and_the_right_password_inside_it_is_refused(  # noqa: E501
    db_url,
):
    prepare_store(db_url)
    with served(db_url) as (base, gate):
        wrong = [Browser(base) for _ in range(BURST - 1)]
        rightful = Browser(base)
        start = threading.Barrier(len(wrong))
        replies: list[int] = []

        def guess(browser: Browser) -> None:
            start.wait()
            replies.append(browser.log_in("wrong password!"))

        threads = [threading.Thread(target=guess, args=(b,)) for b in wrong]
        for thread in threads:
            thread.start()
        # every guess is either being checked (held at the gate) or already refused
        wait_until(lambda: gate.checks + len(replies) == len(wrong))
        checked_while_held = gate.checks

        right: list[int] = []
        sign_in = threading.Thread(target=lambda: right.append(rightful.log_in(PASSWORD)))
        sign_in.start()
        wait_until(lambda: bool(right) or gate.checks > checked_while_held)
        gate.opened.set()
        for thread in [*threads, sign_in]:
            thread.join(timeout=60)

    assert checked_while_held <= LIMIT
    assert right == [429]  # the right password came in over the limit: not even checked
    assert sorted(replies) == [401] * checked_while_held + [429] * (len(wrong) - checked_while_held)


def test_a_burst_over_the_limit_leaves_the_name_locked_for_the_right_password(db_url):
    prepare_store(db_url)
    with served(db_url) as (base, gate):
        gate.opened.set()
        replies = burst(base, ["wrong password!"] * BURST)
        after = Browser(base).log_in(PASSWORD)

    assert replies.count(401) <= LIMIT
    assert replies.count(401) + replies.count(429) == BURST
    assert gate.checks == replies.count(401)
    assert after == 429


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_under_gunicorn_with_two_workers_a_burst_gets_at_most_the_limit_of_checks(db_url, tmp_path):
    prepare_store(db_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTSCOPE_")}
    env["EVENTSCOPE_MASTER_KEY"] = MASTER_KEY
    command = [sys.executable, "-m", "webapp", "--db", db_url, "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*command, "--workers", "2", "--no-worker"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            try:
                return requests.get(f"{base}/api/health", timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_until(answers, seconds=60, why=lambda: (tmp_path / "serve.log").read_text())
        replies = burst(base, ["wrong password!"] * BURST)
        after = Browser(base).log_in(PASSWORD)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    assert replies.count(401) <= LIMIT, replies
    assert replies.count(401) + replies.count(429) == BURST, replies
    assert after == 429
