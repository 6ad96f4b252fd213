"""Production serving: gunicorn workers, each building its own app and runtime after the fork.

`eventscope serve --workers N` runs N gunicorn sync-thread workers. Unless
`--no-worker` is given, each web worker also starts the in-process projections
worker (the projections layer makes sure only one process runs a projection at
a time); with `--no-worker`, run `eventscope worker` separately.
"""

from __future__ import annotations

import errno
import gc
import socket
import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.web.context import EXTENSION_KEY
from webapp.web.request_log import PathOnlyGunicornLogger


class EventscopeServer(BaseApplication):
    """A gunicorn application whose workers call `create_app` after forking."""

    def __init__(self, settings: Settings, options: dict[str, Any], *, run_worker: bool) -> None:
        self.settings = settings
        self.options = options
        self.run_worker = run_worker
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self) -> Any:
        from webapp.web import create_app

        runtime = build_runtime(self.settings, migrate=False)
        if self.run_worker:
            runtime.start_background_work()
        return create_app(runtime=runtime)


def close_worker_runtime(_arbiter: Any, worker: Any) -> None:
    """gunicorn's `worker_exit` hook: a worker that stops cleanly closes its runtime, so its
    background work stops and its queued access-log entries are written."""
    app = getattr(worker, "wsgi", None)
    runtime = getattr(app, "extensions", {}).get(EXTENSION_KEY) if app is not None else None
    if runtime is not None:
        runtime.close()


def settle_worker_heap(_worker: Any) -> None:
    """gunicorn's `post_worker_init` hook: once the worker has built its app and runtime,
    collect what start-up left behind and move every object still alive out of the
    collector's reach (`gc.freeze`). Collections while serving then scan only what requests
    create, not the ~100,000 objects of the modules, the app and its runtime (measured:
    about 35 us of each 50-event API read went to such scans)."""
    gc.collect()
    gc.freeze()


SWITCH_INTERVAL = 0.0005
"""Seconds a thread may keep the GIL while another waits for it (Python's default: 0.005)."""


def ready_worker(worker: Any) -> None:
    """gunicorn's `post_worker_init` hook: the worker's heap settled (`settle_worker_heap`),
    and its threads handing the GIL over within 0.5 ms instead of 5 ms.

    A request thread gives the GIL up at every database call and must win it back from
    the busy threads to go on: with 5 ms turns, a command that takes its write turn, waits
    for the file lock and commits could wait several turns, and the tail of command
    latency was made of such waits. Measured with bench/serve.py's 80/20 mix on SQLite, in
    three interleaved A/B runs: command p99 105 -> 71 ms, 158 -> 109 ms and 173 -> 110 ms,
    with more requests served per second. On PostgreSQL the change was within the noise."""
    settle_worker_heap(worker)
    sys.setswitchinterval(SWITCH_INTERVAL)


class CannotListen(Exception):
    """The address to serve on is taken or does not exist here."""


def check_can_listen(host: str, port: int) -> None:
    """Fail at once, with a plain message, where gunicorn would retry for five seconds and
    print a page of errors."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        msg = f"cannot listen on {host!r}: {exc.strerror}"
        raise CannotListen(msg) from None
    family, kind, proto, _, address = addresses[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                msg = (
                    f"port {port} on {host} is in use by another program: "
                    "stop it or choose another --port"
                )
            else:
                msg = f"cannot listen on {host}:{port}: {exc.strerror}"
            raise CannotListen(msg) from None


def run_gunicorn(
    settings: Settings, *, host: str, port: int, workers: int, run_worker: bool
) -> None:
    """Migrate once in the master, then serve with gunicorn until stopped."""
    from webapp.web.app import page_cache_megabytes, trusted_proxies
    from webapp.web.security import load_secret_key

    trusted_proxies()  # a bad setting stops here, not in every worker gunicorn forks
    page_cache_megabytes()
    check_can_listen(host, port)
    runtime = build_runtime(settings, migrate=True)
    runtime.close()
    # create the secret key file before forking so every worker signs sessions alike
    load_secret_key(settings.secret_key, settings.data_dir)
    options = gunicorn_options(host, port, workers)
    EventscopeServer(settings, options, run_worker=run_worker).run()


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """The gunicorn settings `eventscope serve` runs with."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        # a listening socket of each worker's own, the kernel spreading new connections
        # over them: on one shared socket, a burst of keep-alive clients could all land on
        # the worker that happened to wake first, and stay there while the others idled
        "reuse_port": True,
        "accesslog": "-",
        # every line without query strings: they may carry personal data (see request_log)
        "logger_class": PathOnlyGunicornLogger,
        "preload_app": False,
        "post_worker_init": ready_worker,
        "worker_exit": close_worker_runtime,
    }
