"""The bare-Flask baseline of bench/serve.py: JSON replies of the sizes eventscope's API gives.

gunicorn loads `app` from here with the settings `eventscope serve` uses. The bodies come
from the files named by BENCH_READ_REPLY (a captured `/api/events?limit=50` reply) and
BENCH_COMMAND_REPLY (a captured `POST /api/commands` reply); Flask encodes them again on
every request, as any JSON endpoint of the framework would. `/floor/events` is the floor of
serving a page from the store at all: one query by the raw driver (BENCH_FLOOR_DB), the rows
shaped and encoded, nothing else (`/floor/events-orjson`: the same with orjson, which
eventscope's API uses, for a like-for-like comparison).
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, Response, jsonify, request

app = Flask(__name__)
READ_REPLY: Any = json.loads(Path(os.environ["BENCH_READ_REPLY"]).read_text())
COMMAND_REPLY: Any = json.loads(Path(os.environ["BENCH_COMMAND_REPLY"]).read_text())


@app.get("/api/health")
def health() -> Any:
    """Ready."""
    return jsonify(status="ok")


@app.get("/api/<path:anything>")
def read(anything: str) -> Any:
    """Every read answers the captured `/api/events?limit=50` reply."""
    return jsonify(READ_REPLY)


FLOOR_SQL = (
    "SELECT position, stream_id, stream_version, event_id, type, data, metadata, recorded_at "
    "FROM events ORDER BY position LIMIT 50"
)
_local = threading.local()


def _connection() -> Any:
    """This thread's connection to the store named by BENCH_FLOOR_DB (raw driver)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        url = os.environ["BENCH_FLOOR_DB"]
        if url.startswith("sqlite:///"):
            conn = sqlite3.connect(url.removeprefix("sqlite:///").split("?")[0])
        else:
            from _store_common import psycopg_connect

            conn = psycopg_connect(url, autocommit=True)
        _local.conn = conn
    return conn


def _floor_events(loads: Any) -> list[dict[str, Any]]:
    rows = _connection().execute(FLOOR_SQL).fetchall()
    return [
        {
            "position": row[0],
            "stream_id": row[1],
            "stream_version": row[2],
            "event_id": str(row[3]),
            "type": row[4],
            "data": loads(row[5]) if isinstance(row[5], str) else row[5],
            "metadata": loads(row[6]) if isinstance(row[6], str) else row[6],
            "recorded_at": str(row[7]),
        }
        for row in rows
    ]


@app.get("/floor/events")
def floor() -> Any:
    """The floor: the first 50 events read by the raw driver, JSON decoded, shaped, encoded."""
    return jsonify(events=_floor_events(json.loads), next=None)


@app.get("/floor/events-orjson")
def floor_orjson() -> Any:
    """The same floor, decoded and encoded by orjson as eventscope's API does."""
    body = orjson.dumps({"events": _floor_events(orjson.loads), "next": None})
    return Response(body, mimetype="application/json")


@app.post("/api/commands")
def command() -> Any:
    """A command's body is parsed; the captured command reply comes back."""
    request.get_json()
    return jsonify(COMMAND_REPLY)


# As `eventscope serve` does after a worker has loaded its app (the `post_worker_init` hook,
# webapp.web.server.ready_worker): the start-up heap is frozen out of the collector's
# reach and threads hand the GIL over within 0.5 ms, so both servers run with the same
# collector and thread settings. gunicorn imports this module in each worker (no
# preloading), after the fork.
gc.collect()
gc.freeze()
sys.setswitchinterval(0.0005)
