"""On SQLite a running worker never makes other writers wait out the busy timeout (30 s).

The lease renewal that fences a projection's batch used to open a second connection
while the batch's own transaction already held the write lock: that connection
waited 30 s for its own thread, every other writer queued behind it, and the worker
then believed it had lost the projection.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from webapp.demo.bank import DepositMoney, OpenAccount
from webapp.demo.queries import get_account_summary
from webapp.projections import start_in_process
from webapp.projections.leadership import LeaseRow
from webapp.store import NestedWriteTransaction, NewEvent

from .conftest import seed_bank_events, wait_for, worker_env

QUICK = 5.0  # seconds; the bug made writes take the whole 30 s busy timeout

SUBPROCESS_WRITER = """
import sys, time
from webapp.store import NewEvent, open_store
store = open_store(sys.argv[1])
started = time.monotonic()
for i in range(5):
    store.append(f"outsider-{i}", [NewEvent("OutsiderWrote", {"i": i})])
print(f"{time.monotonic() - started:.3f}")
store.close()
"""


def test_a_projection_batch_renews_its_lease_inside_its_own_transaction(sqlite_runtime):
    """With a renewal due at every check, a catch-up still takes well under a second per batch."""
    runner = sqlite_runtime.projections.runner("event_type_counts")
    runner.leadership = LeaseRow(
        sqlite_runtime.store.engine, "event_type_counts", "me", renew_every=0.0
    )
    assert runner.leadership.try_acquire()
    seed_bank_events(sqlite_runtime.store, accounts=5, deposits=3)

    started = time.monotonic()
    position = runner.run_until_caught_up()

    assert time.monotonic() - started < QUICK
    assert position == sqlite_runtime.store.head_position()
    assert runner.leadership.still_held()


def test_a_lease_checked_inside_a_write_transaction_joins_it(sqlite_runtime):
    engine = sqlite_runtime.store.engine
    lease = LeaseRow(engine, "some-unit", "me", renew_every=0.0)
    assert lease.try_acquire()
    started = time.monotonic()
    with engine.begin() as conn:
        assert lease.still_held(conn)
    assert time.monotonic() - started < QUICK

    other = LeaseRow(engine, "some-unit", "someone-else")
    assert not other.try_acquire()  # the renewal inside the transaction was committed


def test_a_second_write_transaction_in_the_same_thread_fails_at_once(sqlite_runtime):
    store = sqlite_runtime.store
    started = time.monotonic()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("SELECT 1")
        with pytest.raises(NestedWriteTransaction), store.engine.begin():
            pass
        with pytest.raises(NestedWriteTransaction):
            store.append("account-nested", [NewEvent("MoneyDeposited", {"amount": 1})])
    assert time.monotonic() - started < QUICK
    assert store.read_stream("account-nested") == []  # nothing appended
    # Once the first transaction is over, writing works again in this thread.
    store.append("account-nested", [NewEvent("MoneyDeposited", {"amount": 1})])
    with store.engine.begin() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_a_connection_dropped_mid_transaction_does_not_block_later_writes(sqlite_runtime):
    store = sqlite_runtime.store
    conn = store.engine.connect()
    conn.begin()
    conn.invalidate()  # no commit or rollback event: the lock went with the connection
    conn.close()
    store.append("account-after", [NewEvent("MoneyDeposited", {"amount": 1})])
    assert len(store.read_stream("account-after")) == 1


def test_other_threads_wait_their_turn_instead_of_failing(sqlite_runtime):
    store = sqlite_runtime.store
    appended = threading.Event()

    def append_elsewhere() -> None:
        store.append("account-other", [NewEvent("MoneyDeposited", {"amount": 1})])
        appended.set()

    with store.engine.begin() as conn:
        conn.exec_driver_sql("SELECT 1")
        thread = threading.Thread(target=append_elsewhere)
        thread.start()
        assert not appended.wait(0.3)  # queued on the lock, not refused
    thread.join(timeout=QUICK)
    assert appended.is_set()


def test_a_read_only_connection_does_not_count_as_a_writer(sqlite_runtime):
    store = sqlite_runtime.store
    with store.engine.connect().execution_options(eventscope_readonly=True) as conn, conn.begin():
        conn.exec_driver_sql("SELECT 1")
        store.append("account-reader", [NewEvent("MoneyDeposited", {"amount": 1})])
    assert len(store.read_stream("account-reader")) == 1


@pytest.mark.slow
def test_writers_stay_quick_while_the_in_process_worker_runs(sqlite_runtime, sqlite_url):
    runtime = sqlite_runtime
    router = runtime.router
    router.dispatch(OpenAccount("70001", "owner-1"))
    seed_bank_events(runtime.store, accounts=20, deposits=4)
    worker = start_in_process(runtime.projections, idle_wait=0.2)
    try:
        wait_for(lambda: all(worker.active.values()), what="the worker to take every unit")
        durations: list[float] = []
        failures: list[BaseException] = []

        def deposit_often() -> None:
            try:
                for _ in range(50):
                    started = time.monotonic()
                    router.dispatch(DepositMoney("70001", 100))
                    durations.append(time.monotonic() - started)
                    time.sleep(0.04)  # let lease renewals fall due in between
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                failures.append(error)

        thread = threading.Thread(target=deposit_often)
        thread.start()
        outsider = subprocess.run(
            [sys.executable, "-c", SUBPROCESS_WRITER, sqlite_url],
            env=worker_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        thread.join(timeout=120)

        assert not failures, failures
        assert len(durations) == 50
        assert max(durations) < QUICK, max(durations)
        assert outsider.returncode == 0, outsider.stderr
        assert float(outsider.stdout.strip()) < QUICK
        assert all(worker.active.values()), worker.active  # no unit was lost meanwhile
        head = runtime.store.head_position()
        wait_for(
            lambda: runtime.projections.status_of("account_summary")["position"] >= head,
            timeout=30,
            what="account_summary to catch up",
        )
    finally:
        worker.stop()
    summary = get_account_summary(runtime.projections, "70001")
    assert summary is not None
    assert summary["balance"] == 50 * 100
