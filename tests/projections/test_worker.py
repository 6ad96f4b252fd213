"""The worker process: crash safety, concurrent writers, and one active runner per projection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from webapp.bootstrap import build_runtime
from webapp.demo.queries import get_account_summary, total_balance
from webapp.projections import Worker
from webapp.projections import schema as engine_schema

from .conftest import (
    REPO_ROOT,
    make_settings,
    rebuilt_rows,
    seed_bank_events,
    start_worker,
    table_rows,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow


def checkpoint(engine, name: str) -> int:
    reg, cp = engine_schema.registry, engine_schema.checkpoints
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        value = conn.execute(
            sa.select(cp.c.position)
            .join(reg, sa.and_(reg.c.name == cp.c.name, reg.c.live_generation == cp.c.generation))
            .where(cp.c.name == name)
        ).scalar()
    return int(value or 0)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_sigkill_mid_catch_up_then_restart_equals_a_rebuild(db_url, runtime, tmp_path):
    seed_bank_events(runtime.store, accounts=200, deposits=9)  # 2,000 events
    head = runtime.store.head_position()
    engine = runtime.store.engine
    worker = start_worker(db_url, tmp_path, EVENTSCOPE_PROJECTION_BATCH_SIZE="20")
    try:
        wait_for(lambda: checkpoint(engine, "account_summary") > 0, what="the worker to start")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = checkpoint(engine, "account_summary")
        assert 0 < killed_at < head  # it died in the middle of catching up
    finally:
        stop(worker)

    restarted = start_worker(db_url, tmp_path)
    try:
        wait_for(
            lambda: all(checkpoint(engine, n) >= head for n in runtime.projections.names()),
            what="the restarted worker to catch up",
        )
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=15) == 0  # a clean stop on SIGTERM
    finally:
        stop(restarted)
    for name in ("account_summary", "daily_activity", "event_type_counts", "stream_catalog"):
        projected = table_rows(runtime, name)
        assert projected, name
        assert projected == rebuilt_rows(runtime, name), name
    counts = {c["event_type"]: c["count"] for c in runtime.projections.event_type_counts()}
    assert counts == {"BankAccountOpened": 200, "MoneyDeposited": 1800}


WRITER = """
import sys
from webapp.store import open_store
from webapp.store.types import NewEvent
store = open_store(sys.argv[1])
tag = sys.argv[2]
for i in range(int(sys.argv[3])):
    number = f"{tag}{i % 10}"
    if i < 10:
        store.append(f"account-{number}", [NewEvent("BankAccountOpened",
            {"account_number": number, "owner_id": tag, "initial_balance": 0})])
    else:
        store.append(f"account-{number}", [NewEvent("MoneyDeposited",
            {"account_number": number, "amount": i}, schema_version=2)])
store.close()
"""


def test_concurrent_writers_while_following_live_equals_a_rebuild(db_url, runtime, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    worker = Worker(runtime.projections, idle_wait=0.05, names=["account_summary"]).start()
    try:
        writers = [
            subprocess.Popen(
                [sys.executable, str(script), db_url, tag, "120"],
                env=worker_env(),
                cwd=REPO_ROOT,
            )
            for tag in ("W", "V")
        ]
        for writer in writers:
            assert writer.wait(timeout=60) == 0
        head = runtime.store.head_position()
        wait_for(
            lambda: checkpoint(runtime.store.engine, "account_summary") >= head, what="catch-up"
        )
    finally:
        worker.stop()
    live = table_rows(runtime, "account_summary")
    assert len(live) == 20
    assert total_balance(runtime.projections) == 2 * sum(range(10, 120))
    assert live == rebuilt_rows(runtime, "account_summary")


def test_two_workers_on_sqlite_run_each_projection_once(sqlite_url):
    first_rt = build_runtime(make_settings(sqlite_url))
    second_rt = build_runtime(make_settings(sqlite_url))
    first = Worker(first_rt.projections).start()
    second = Worker(second_rt.projections).start()
    try:
        names = list(first.active)
        wait_for(lambda: all(first.active[n] or second.active[n] for n in names), what="every unit")
        time.sleep(0.5)
        assert not any(first.active[n] and second.active[n] for n in names)
    finally:
        first.stop()
        second.stop()
        first_rt.close()
        second_rt.close()


def lock_holders(engine) -> int:
    with engine.connect().execution_options(eventscope_readonly=True) as conn:
        return int(
            conn.execute(
                sa.text("select count(*) from pg_locks where locktype = 'advisory' and granted")
            ).scalar()
        )


def status_worker(runtime, name: str) -> str | None:
    with runtime.store.engine.connect().execution_options(eventscope_readonly=True) as conn:
        return conn.execute(
            sa.select(engine_schema.status.c.worker).where(engine_schema.status.c.name == name)
        ).scalar()


def test_two_workers_on_postgresql_each_unit_once_and_takeover(postgresql_url, tmp_path):
    runtime = build_runtime(make_settings(postgresql_url))
    try:
        units = runtime.projections.names() + ["transfer_money", "process_timeouts"]
        a = start_worker(postgresql_url, tmp_path)
        b = start_worker(postgresql_url, tmp_path)
        try:
            wait_for(lambda: all(status_worker(runtime, n) for n in units), what="every unit")
            holders = {n: status_worker(runtime, n).split(":")[1] for n in units}
            assert set(holders.values()) <= {str(a.pid), str(b.pid)}
            # one advisory lock per unit, held by exactly one session (the schema is ours alone)
            keys = runtime.projections.engine
            from webapp.projections.leadership import lock_key

            with keys.connect() as conn:
                for name in units:
                    key = lock_key(name)
                    held = conn.execute(
                        sa.text(
                            "select count(*) from pg_locks where locktype = 'advisory' and granted"
                            " and objid::bigint = (cast(:k as bigint) & 4294967295)"
                            " and classid::bigint = ((cast(:k as bigint) >> 32) & 4294967295)"
                        ),
                        {"k": key},
                    ).scalar()
                    assert held == 1, name

            victim_pid = holders["account_summary"]
            victim, survivor = (a, b) if str(a.pid) == victim_pid else (b, a)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            killed_at = time.monotonic()
            wait_for(
                lambda: (
                    (status_worker(runtime, "account_summary") or "").split(":")[1]
                    == str(survivor.pid)
                ),
                timeout=15,
                what="the survivor to take over",
            )
            assert time.monotonic() - killed_at < 10
            seed_bank_events(runtime.store, accounts=3, deposits=1, prefix="T")
            head = runtime.store.head_position()
            wait_for(
                lambda: checkpoint(runtime.store.engine, "account_summary") >= head,
                what="the survivor to project new events",
            )
            assert get_account_summary(runtime.projections, "T00002")["balance"] == 101
        finally:
            stop(a)
            stop(b)
    finally:
        runtime.close()


def test_the_worker_log_says_when_the_schema_changed_and_nothing_else_of_migrations(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    def run_once() -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", "webapp", "--db", url, "worker", "--log-level", "INFO"],
            env=worker_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        lines = []
        try:
            for line in process.stdout:
                lines.append(line)
                if " running " in line and line.startswith("worker "):
                    break
        finally:
            stop(process)
        return "".join(lines) + process.stdout.read()

    first, second = run_once(), run_once()

    assert f"eventscope.migrate: schema of {url} upgraded: empty -> " in first
    assert "keystore.db upgraded: empty -> privacy_0002" in first  # the key store beside it
    assert "schema upgraded" not in second
    for log in (first, second):
        assert "alembic" not in log
        assert "worker stopped" in log
