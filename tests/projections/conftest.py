"""Fixtures of the projections suite: a whole runtime per backend, and helpers to drive it."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webapp.bootstrap import Runtime, build_runtime, open_migrated_store
from webapp.config import Settings
from webapp.store.types import NewEvent

REPO_ROOT = Path(__file__).resolve().parents[2]
MASTER_KEY = base64.b64encode(b"projections-suite-master-key-32b").decode()


def make_settings(db_url: str, **extra: Any) -> Settings:
    return Settings(db_url=db_url, master_key=MASTER_KEY, extra=dict(extra))


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    built = build_runtime(make_settings(db_url))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Any]:
    """A bare event store (no runtime) on a fresh, migrated database of this backend."""
    opened = open_migrated_store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_runtime(sqlite_url: str) -> Iterator[Runtime]:
    built = build_runtime(make_settings(sqlite_url))
    try:
        yield built
    finally:
        built.close()


def drive(runtime: Runtime, rounds: int = 6) -> None:
    """Run every projection, the process managers and due timeouts until nothing moves."""
    service = runtime.projections
    for _ in range(rounds):
        head = runtime.store.head_position()
        for name in service.process_names():
            service.process_runner(name).run_until_caught_up()
        service.timeout_runner().fire_due()
        if runtime.store.head_position() == head:
            break
    for name in service.names():
        service.runner(name).run_until_caught_up()


def table_rows(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    """Every row of a projection's live tables, sorted, for comparisons."""
    import sqlalchemy as sa

    def read(conn, tables):
        out = []
        for logical, table in sorted(tables.items()):
            for row in conn.execute(sa.select(table)).mappings():
                out.append((logical, sorted((k, str(v)) for k, v in row.items())))
        return sorted(out)

    return runtime.projections.query(name, read)


def rebuilt_rows(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    """The rows a from-scratch rebuild produces (the live model is replaced by them)."""
    runtime.projections.rebuild_now(name)
    return table_rows(runtime, name)


def seed_bank_events(store: Any, accounts: int, deposits: int, *, prefix: str = "S") -> int:
    """Append `accounts` opened accounts with `deposits` deposits each, straight to the store."""
    for i in range(accounts):
        number = f"{prefix}{i:05d}"
        events = [
            NewEvent(
                "BankAccountOpened",
                {"account_number": number, "owner_id": f"u{i}", "initial_balance": 100},
            )
        ]
        events += [
            NewEvent(
                "MoneyDeposited", {"account_number": number, "amount": j + 1}, schema_version=2
            )
            for j in range(deposits)
        ]
        store.append(f"account-{number}", events)
    return accounts * (deposits + 1)


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["EVENTSCOPE_MASTER_KEY"] = MASTER_KEY
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_worker(db_url: str, tmp_path: Path, **extra: str) -> subprocess.Popen:
    log = open(tmp_path / f"worker-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "webapp", "--db", db_url, "worker", "--log-level", "WARNING"],
        env=worker_env(**extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
