"""`eventscope token create` and `eventscope login-link`: credentials from the command line."""

from __future__ import annotations

import gc
import re
import sys

import pytest
from click.testing import CliRunner

from webapp.bootstrap import build_runtime
from webapp.cli import cli
from webapp.config import Settings
from webapp.web import create_app


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_token_create_prints_only_a_working_token(sqlite_url):
    result = run("--db", sqlite_url, "token", "create", "robot", "--role", "support")

    assert result.exit_code == 0
    token = result.output.strip()
    assert "\n" not in token
    assert re.fullmatch(r"es_[A-Za-z0-9_-]{40,}", token)
    runtime = build_runtime(Settings(db_url=sqlite_url), migrate=False)
    try:
        client = create_app({"TESTING": True}, runtime=runtime).test_client()
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/streams", headers=headers).status_code == 200
        assert client.post("/api/projections/x/rebuild", headers=headers).status_code == 403
    finally:
        runtime.close()


def test_token_create_refuses_an_unknown_role(sqlite_url):
    result = CliRunner().invoke(
        cli, ["--db", sqlite_url, "token", "create", "robot", "--role", "root"]
    )

    assert result.exit_code != 0
    assert "root" in result.output


def test_login_link_prints_a_one_time_url_that_logs_in(sqlite_url):
    run("--db", sqlite_url, "token", "create", "ada", "--role", "viewer")

    result = run("--db", sqlite_url, "login-link", "ada", "--base-url", "http://example.test:9000/")

    assert result.exit_code == 0
    url = result.output.strip()
    assert url.startswith("http://example.test:9000/login/link/")
    runtime = build_runtime(Settings(db_url=sqlite_url), migrate=False)
    try:
        client = create_app({"TESTING": True}, runtime=runtime).test_client()
        path = url.removeprefix("http://example.test:9000")
        assert client.get(path).status_code == 302
        assert "ada" in client.get("/").get_data(as_text=True)
        assert client.get(path).status_code == 403
    finally:
        runtime.close()


def test_login_link_for_an_unknown_account_fails_clearly(sqlite_url):
    result = CliRunner().invoke(cli, ["--db", sqlite_url, "login-link", "nobody"])

    assert result.exit_code != 0
    assert "no account named 'nobody'" in result.output


def test_serve_builds_the_app_inside_each_gunicorn_worker(sqlite_url):
    from webapp.web.server import EventscopeServer

    settings = Settings(db_url=sqlite_url, secret_key="s" * 40)
    build_runtime(settings).close()  # `serve` migrates in the master before forking
    server = EventscopeServer(settings, {"bind": "127.0.0.1:0", "workers": 3}, run_worker=False)

    app = server.load()
    try:
        assert server.cfg.workers == 3
        assert app.test_client().get("/api/health").get_json() == {"status": "ok"}
    finally:
        app.extensions["eventscope"].close()


def test_each_gunicorn_worker_freezes_its_start_up_heap_once_its_app_is_built():
    from webapp.web.server import SWITCH_INTERVAL, gunicorn_options, ready_worker

    options = gunicorn_options("127.0.0.1", 8000, 2)
    frozen_before = gc.get_freeze_count()
    switch_before = sys.getswitchinterval()
    held_from_start = ["built before the worker serves"]  # a list: the collector tracks it
    assert any(obj is held_from_start for obj in gc.get_objects())  # scanned by collections
    try:
        options["post_worker_init"](None)
        frozen_after = gc.get_freeze_count()
        switch_after = sys.getswitchinterval()
        still_scanned = any(obj is held_from_start for obj in gc.get_objects())
    finally:
        gc.unfreeze()  # the rest of the suite runs with the collector as usual
        sys.setswitchinterval(switch_before)

    assert options["post_worker_init"] is ready_worker
    assert switch_before == 0.005  # Python's default, kept outside gunicorn's workers
    assert switch_after == pytest.approx(SWITCH_INTERVAL)
    assert options["worker_class"] == "gthread" and options["threads"] == 4
    assert frozen_after > frozen_before
    assert not still_scanned  # out of every generation the collector goes through


def test_password_sets_the_password_the_login_form_checks(sqlite_url):
    run("--db", sqlite_url, "token", "create", "ada", "--role", "viewer")

    result = CliRunner().invoke(
        cli, ["--db", sqlite_url, "password", "ada"], input="a long passphrase\n" * 2
    )
    too_short = CliRunner().invoke(cli, ["--db", sqlite_url, "password", "ada"], input="abc\n" * 2)

    assert result.exit_code == 0
    assert too_short.exit_code != 0
    assert "at least 8" in too_short.output
    runtime = build_runtime(Settings(db_url=sqlite_url), migrate=False)
    try:
        from webapp.web.accounts import AccountBook

        assert AccountBook(runtime.store.engine).check_password("ada", "a long passphrase")
    finally:
        runtime.close()


def test_projections_resume_asks_the_worker_to_skip_the_event(sqlite_url, runtime, stopped_process):
    position = stopped_process["position"]

    result = run(
        "--db", sqlite_url, "projections", "resume", "transfer_money",
        "--skip", str(position), "--actor", "ops:olga",
    )  # fmt: skip

    assert result.exit_code == 0
    assert f"transfer_money: asked the worker to skip event {position}" in result.output
    runner = stopped_process["runner"]
    assert runner.resume_if_requested()
    runner.run_until_caught_up()
    assert not runner.stopped
    assert "skipped by ops:olga" in runtime.projections.errors("transfer_money")[0]["error"]


def test_projections_resume_refuses_a_running_unit_and_an_unknown_name(sqlite_url, runtime):
    running = CliRunner().invoke(
        cli, ["--db", sqlite_url, "projections", "resume", "account_summary"]
    )
    unknown = CliRunner().invoke(cli, ["--db", sqlite_url, "projections", "resume", "nope"])

    assert running.exit_code == 1
    assert "not stopped: there is nothing to resume" in running.output
    assert unknown.exit_code == 2
    assert "unknown projection or process manager 'nope'" in unknown.output


def test_serve_on_a_port_in_use_fails_at_once_and_says_so(sqlite_url):
    """Not gunicorn's five seconds of retries and a page of errors."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["--db", sqlite_url, "serve", "--port", str(port), "--no-worker"]
        )

    assert result.exit_code == 1
    assert result.output == (
        f"Error: port {port} on 127.0.0.1 is in use by another program: "
        "stop it or choose another --port\n"
    )


def test_serve_on_an_address_this_machine_does_not_have_fails_clearly(sqlite_url):
    result = CliRunner().invoke(
        cli, ["--db", sqlite_url, "serve", "--host", "192.0.2.1", "--port", "8000", "--no-worker"]
    )

    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot listen on 192.0.2.1:8000: ")


def _listening_sockets(port: int) -> int:
    """How many sockets listen on `port` (IPv4), from the kernel's own table."""
    with open("/proc/net/tcp") as table:  # noqa: PTH123 - a kernel file, read once
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[1].endswith(f":{port:04X}") and row[3] == "0A")


def test_serve_gives_every_worker_a_listening_socket_and_still_refuses_a_second_server(
    sqlite_url, tmp_path
):
    """With one shared socket a burst of keep-alive clients could all land on one worker;
    with a socket per worker the kernel spreads them, and no other program joins in."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "webapp", "--db", sqlite_url, "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2", "--no-worker"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _listening_sockets(port) < 2 and time.monotonic() < deadline:
            assert server.poll() is None, "eventscope serve exited"
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as reply:
            assert reply.status == 200

        second = CliRunner().invoke(
            cli, ["--db", sqlite_url, "serve", "--port", str(port), "--no-worker"]
        )

        assert _listening_sockets(port) == 2
        assert second.exit_code == 1
        assert f"port {port} on 127.0.0.1 is in use" in second.output
    finally:
        server.terminate()
        server.wait(timeout=60)
