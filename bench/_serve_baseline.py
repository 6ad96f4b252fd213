"""The bare-Flask baseline of bench/serve.py: JSON replies of the sizes eventscope's API gives.

gunicorn loads `app` from here with the settings `eventscope serve` uses. The bodies come
from the files named by BENCH_READ_REPLY (a captured `/api/events?limit=50` reply) and
BENCH_COMMAND_REPLY (a captured `POST /api/commands` reply); Flask encodes them again on
every request, as any JSON endpoint of the framework would. `/floor/events` is the floor of
serving a page from the store at all: one query by the raw driver (BENCH_FLOOR_DB), the rows
shaped and encoded, nothing else (`/floor/events-orjson`: the same with orjson, which
eventscope's API uses, for a like-for-like comparison). `POST /floor/command` is the floor
of a command at all: the account's stream version read and one event appended at the next
version, in one transaction by the raw driver, to a bare table with only the unique
(stream, version) index (`floor_events`, made by bench/serve.py in the same database).
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import sys
import threading
import uuid
from datetime import UTC, datetime
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
            path = url.removeprefix("sqlite:///").split("?")[0]
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            conn.execute("PRAGMA synchronous=NORMAL")  # as eventscope's connections
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


FLOOR_VERSION = "SELECT COALESCE(MAX(stream_version), 0) FROM floor_events WHERE stream_id = {}"
FLOOR_APPEND = (
    "INSERT INTO floor_events (stream_id, stream_version, event_id, type, data, recorded_at) "
    "VALUES ({0}, {0}, {0}, {0}, {0}, {0})"
)


def _append_next(conn: Any, mark: str, stream: str, event: tuple[str, ...]) -> None:
    """Read `stream`'s version and append `event` at the next (inside the caller's
    transaction; `mark` is the driver's parameter marker)."""
    (version,) = conn.execute(FLOOR_VERSION.format(mark), (stream,)).fetchone()
    conn.execute(FLOOR_APPEND.format(mark), (stream, version + 1, *event))


@app.post("/floor/command")
def floor_command() -> Any:
    """The floor of a command: its body parsed, the stream's version read and one event
    appended at the next, in one write transaction; the captured command reply back."""
    data = request.get_json()["data"]
    stream = f"account-{data['account_number']}"
    deposit = {"account_number": data["account_number"], "amount": data["amount"]}
    event = (
        uuid.uuid4().hex,
        "MoneyDeposited",
        orjson.dumps(deposit).decode(),
        datetime.now(UTC).isoformat(),
    )
    conn = _connection()
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN IMMEDIATE")
        try:
            _append_next(conn, "?", stream, event)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    else:
        import psycopg  # noqa: PLC0415 - the PostgreSQL floor only

        while True:  # two clients on one account: the loser reads the version again
            try:
                with conn.transaction():
                    _append_next(conn, "%s", stream, event)
                break
            except psycopg.errors.UniqueViolation:
                continue
    return jsonify(COMMAND_REPLY)


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
