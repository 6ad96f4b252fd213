"""One API read, taken apart in the process: where the CPU time of a request goes.

    python bench/api_read.py [--backend sqlite|postgresql|all] [--repeat N]

Per backend: a fresh store seeded with the demo history (`eventscope seed`) and an admin
API token, the dashboard app built over it and called as a WSGI server calls it (no
sockets, no gunicorn). Printed, in microseconds per call (best of 7 runs of N calls):

- the two reads `bench/serve.py` drives (`/api/events?limit=50`, the longest account
  stream's events), answered from the page cache after the first call and, by a second
  app over the same runtime, decoded afresh every time (`PAGE_CACHE_MB` 0); and
  `/api/health` (the framework and the app's hooks, no work);
- their parts: the store's read, opening and logging the personal data an admin sees,
  shaping and encoding the reply;
- the floor in the same run: the same page read by the raw driver, decoded and encoded
  by orjson, nothing else (as `/floor/events-orjson` of `bench/_serve_baseline.py`).

The request figures include what the access log's background writer spends in the same
process on the rows those reads queue. Use it to see what a change to the read path buys
before running `bench/serve.py` under load.

`--threads N` adds N threads reading at once, as a gunicorn worker's threads do, the two
reads alternating: the process's CPU per read (all threads, the access log's writer
included) and reads per second, three rounds. It shows what the threads' contention for
the GIL costs on top of the single-thread figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402
from _store_common import psycopg_connect  # noqa: E402
from serve import seed, store  # noqa: E402 - the same fresh, seeded store as the load test

PAGE = 50


class WsgiClient:
    """Calls the app as a WSGI server would, with a Bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token
        self.status = ""

    def _start_response(self, status: str, _headers: Any, _exc_info: Any = None) -> None:
        self.status = status

    def get(self, path: str) -> bytes:
        route, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": route,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {self.token}",
            "REMOTE_ADDR": "127.0.0.1",
        }
        body = b"".join(self.app(environ, self._start_response))
        if not self.status.startswith("200"):
            raise SystemExit(f"GET {path} answered {self.status}: {body[:300]!r}")
        return body


def per_call(run: Callable[[], Any], repeat: int) -> float:
    """Microseconds per call, best of 7 runs of `repeat` calls."""
    run()
    return min(timeit.repeat(run, number=repeat, repeat=7)) / repeat * 1e6


def raw_floor(url: str) -> Callable[[], bytes]:
    """The first page of the log read by the raw driver, decoded and encoded by orjson."""
    query = (
        "SELECT position, stream_id, stream_version, event_id, type, data, metadata, "
        f"recorded_at FROM events ORDER BY position LIMIT {PAGE}"
    )
    if url.startswith("sqlite"):
        import sqlite3

        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        conn = psycopg_connect(url, autocommit=True)

    def load(value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    def floor() -> bytes:
        rows = conn.execute(query).fetchall()
        events = [
            {
                "position": r[0],
                "stream_id": r[1],
                "stream_version": r[2],
                "event_id": str(r[3]),
                "type": r[4],
                "data": load(r[5]),
                "metadata": load(r[6]),
                "recorded_at": str(r[7]),
            }
            for r in rows
        ]
        return orjson.dumps({"events": events, "next": None})

    return floor


def measure(backend: str, repeat: int, threads: int = 0) -> None:
    print(f"\n== {backend}: seeding a fresh store ...", flush=True)
    with store(backend) as (url, work):
        token = seed(url, work)
        os.chdir(work)  # the app keeps its key files beside the store
        from webapp.web import create_app, services

        app = create_app({"DB_URL": url})
        client = WsgiClient(app, token)
        runtime = app.extensions["eventscope"]
        uncached = WsgiClient(create_app({"PAGE_CACHE_MB": 0}, runtime=runtime), token)
        events_store, privacy = runtime.store, runtime.privacy
        streams = json.loads(client.get("/api/streams?prefix=account-&limit=200"))["streams"]
        longest = max(streams, key=lambda s: s["version"])
        stream_id = longest["stream_id"]
        log_page = events_store.read_all(0, limit=PAGE + 1)
        stream_page = events_store.read_stream(stream_id, 1, limit=PAGE)
        shown = privacy.view_events(log_page, actor="bench", role="admin", where="bench")
        personal = sum(privacy.codec.needs_decode(e.data) for e in log_page)

        rows = [
            ("GET /api/health (framework and hooks)", lambda: client.get("/api/health")),
            (f"GET /api/events?limit={PAGE}", lambda: client.get(f"/api/events?limit={PAGE}")),
            (
                f"GET {stream_id}'s events (limit {PAGE})",
                lambda: client.get(f"/api/streams/{stream_id}/events?limit={PAGE}"),
            ),
            (
                f"GET /api/events?limit={PAGE}, no page cache",
                lambda: uncached.get(f"/api/events?limit={PAGE}"),
            ),
            (
                f"GET {stream_id}'s events, no page cache",
                lambda: uncached.get(f"/api/streams/{stream_id}/events?limit={PAGE}"),
            ),
            (
                f"  store.read_all, {PAGE + 1} events",
                lambda: events_store.read_all(0, limit=PAGE + 1),
            ),
            (
                f"  store.read_stream, {PAGE} events",
                lambda: events_store.read_stream(stream_id, 1, limit=PAGE),
            ),
            (
                f"  personal data of the log page ({personal} events), as admin",
                lambda: privacy.view_events(log_page, actor="bench", role="admin", where="b"),
            ),
            (
                "  the same, as viewer (masked, not logged)",
                lambda: privacy.view_events(log_page, actor="bench", role="viewer", where="b"),
            ),
            ("  shaping and encoding the log page", lambda: _encode(app, services, shown)),
            ("floor: raw driver + orjson, same page", raw_floor(url)),
        ]
        print(f"  {len(stream_page)} events of {longest['version']} in {stream_id}")
        for name, run in rows:
            print(f"  {name:<58} {per_call(run, repeat):8.1f} us", flush=True)
        if threads:
            paths = [f"/api/events?limit={PAGE}", f"/api/streams/{stream_id}/events?limit={PAGE}"]
            for _ in range(3):
                cpu, rate = contended(app, token, paths, threads, repeat, runtime.privacy.log)
                print(
                    f"  {threads} threads, the two reads alternating: CPU {cpu:7.1f} us per "
                    f"read, {rate:7.0f} reads/s",
                    flush=True,
                )
        runtime.close()


def contended(
    app: Any, token: str, paths: list[str], threads: int, repeat: int, access_log: Any
) -> tuple[float, float]:
    """Process CPU per read (us) and reads per second with `threads` threads reading at once;
    the access log is flushed inside the measurement, so its writes count."""

    def reads() -> None:
        client = WsgiClient(app, token)
        for n in range(repeat):
            client.get(paths[n % len(paths)])

    workers = [threading.Thread(target=reads) for _ in range(threads)]
    cpu, wall = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    access_log.flush()
    done = threads * repeat
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / done * 1e6, done / wall


def _encode(app: Any, services: Any, events: list[Any]) -> bytes:
    with app.app_context():
        return services.event_page(events, PAGE).get_data()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0, help="also read from N threads at once")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    for backend in backends:
        measure(backend, args.repeat, args.threads)


if __name__ == "__main__":
    main()
