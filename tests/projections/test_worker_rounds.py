"""What one round of the worker's loop costs: the operators' controls read once for every
unit, the projections with nothing to apply moved in one statement, rounds no more often
than their gap, and tries for leadership held elsewhere on one shared session."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from webapp.projections import FailurePolicy, Projections, Worker
from webapp.projections.consistency import live_positions
from webapp.projections.controls import controls_for_round
from webapp.projections.group import ProjectionGroup
from webapp.projections.leadership import AdvisoryLock, lock_key
from webapp.projections.worker import Pace
from webapp.store.types import NewEvent

from .conftest import wait_for
from .test_engine import Ledger, add, entries
from .test_operator_controls import PARK, park_the_second_of_three_entries


class Tally(Ledger):
    """A second read model, of `TallyMark` events only."""

    name = "tally"
    handles = frozenset({"TallyMark"})


def checkpoint_updates_while(engine: sa.Engine, action) -> list[bool]:
    """For each statement that moved checkpoints while `action()` ran: whether it was one
    statement for many rows (executemany)."""
    seen: list[bool] = []

    def look(_conn, _cursor, statement, _params, _context, executemany) -> None:
        if statement.lstrip().upper().startswith("UPDATE PROJECTION_CHECKPOINTS"):
            seen.append(executemany)

    event.listen(engine, "before_cursor_execute", look)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", look)
    return seen


def test_projections_with_nothing_to_apply_move_their_checkpoints_in_one_statement(store):
    service = Projections(store, [Ledger(FailurePolicy("stop")), Tally(FailurePolicy("stop"))])
    runners = [service.runner("ledger"), service.runner("tally")]
    for runner in runners:
        runner.load()
    for n in range(3):
        store.append("other-1", [NewEvent("Unrelated", {"n": n})])
    group = ProjectionGroup(store, runners)

    updates = checkpoint_updates_while(service.engine, group.step)

    head = store.head_position()
    assert updates == [True]  # both checkpoints, one statement
    assert live_positions(service.engine, ["ledger", "tally"]) == {"ledger": head, "tally": head}
    assert [r.position for r in runners] == [head, head]


def test_a_projection_with_events_commits_its_own_batch_beside_the_others_moved_together(store):
    service = Projections(store, [Ledger(FailurePolicy("stop")), Tally(FailurePolicy("stop"))])
    runners = [service.runner("ledger"), service.runner("tally")]
    for runner in runners:
        runner.load()
    add(store, 1)
    group = ProjectionGroup(store, runners)

    updates = checkpoint_updates_while(service.engine, group.step)

    head = store.head_position()
    assert len(updates) == 2  # the ledger's own batch, and the tally passed over
    assert entries(service) == [1]
    assert live_positions(service.engine, ["ledger", "tally"]) == {"ledger": head, "tally": head}


def test_the_controls_of_every_unit_are_read_in_one_go(parked):
    service, _runner, failing = parked
    service.pause("ledger", actor="olga")
    service.retry_parked("ledger", failing, actor="olga")

    asked = controls_for_round(service.engine)

    assert set(asked.paused) == {"ledger"} and asked.paused["ledger"]["by"] == "olga"
    assert [row.position for row in asked.retries["ledger"]] == [failing]
    service.request_resume("ledger", actor="olga")
    assert controls_for_round(service.engine).paused == {}


@pytest.fixture
def parked(store):
    return park_the_second_of_three_entries(store)


def test_the_worker_applies_a_parked_event_an_operator_asked_to_retry(parked):
    service, _runner, failing = parked
    service.get("ledger").fixed = True
    worker = Worker(service, idle_wait=0.05, acquire_every=0.1).start()
    try:
        service.retry_parked("ledger", failing, actor="olga")
        wait_for(lambda: entries(service) == [1, 2, 3], timeout=15, what="the retried entry")
        wait_for(lambda: service.dead_letters("ledger") == [], timeout=15, what="an empty list")
    finally:
        worker.stop()


def test_a_busy_loop_runs_at_once_after_a_quiet_spell_and_no_more_often_than_its_gap():
    pace = Pace(0.2, threading.Event(), busy_rate=0)

    started = time.monotonic()
    pace.wait_turn()
    first = time.monotonic() - started
    pace.wait_turn()
    second = time.monotonic() - started
    time.sleep(0.25)
    before_third = time.monotonic()
    pace.wait_turn()
    third = time.monotonic() - before_third

    assert first < 0.1
    assert second >= 0.19
    assert third < 0.1


def test_after_a_round_that_found_nothing_the_next_starts_as_soon_as_it_is_woken():
    pace = Pace(30.0, threading.Event(), busy_rate=0)
    pace.wait_turn()
    pace.rested()

    started = time.monotonic()
    pace.wait_turn()

    assert time.monotonic() - started < 1


def test_a_loop_is_paced_only_while_the_log_grows_fast():
    pace = Pace(30.0, threading.Event(), busy_rate=50)
    pace.observe(100)
    pace.wait_turn()

    started = time.monotonic()
    pace.wait_turn()  # not busy: no gap
    assert time.monotonic() - started < 1

    time.sleep(1.0)
    pace.observe(100 + 60)  # 60 events in a second: busy
    assert pace.busy
    time.sleep(1.0)
    pace.observe(100 + 60 + 10)  # 10 in the next second: quiet again
    assert not pace.busy


def test_a_paced_loop_stops_waiting_when_the_worker_stops():
    stop = threading.Event()
    pace = Pace(30.0, stop, busy_rate=0)
    pace.wait_turn()
    threading.Timer(0.1, stop.set).start()

    started = time.monotonic()
    pace.wait_turn()

    assert time.monotonic() - started < 5


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_tries_for_locks_another_process_holds_share_one_session(store, db_url):
    holder = psycopg.connect(store.engine.url.set(drivername="postgresql").render_as_string(False))
    try:
        for name in ("unit-a", "unit-b"):
            holder.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
        locks = [AdvisoryLock(store.engine, "unit-a"), AdvisoryLock(store.engine, "unit-b")]
        connects: list[object] = []
        for lock in locks:
            event.listen(lock._engine, "connect", lambda *_: connects.append(1))  # noqa: SLF001

        tries = [lock.try_acquire() for _ in range(5) for lock in locks]

        assert tries == [False] * 10
        assert len(connects) == 1  # one spare session for every try, not one per try
        holder.execute("SELECT pg_advisory_unlock(%s)", (lock_key("unit-a"),))
        assert locks[0].try_acquire()  # the spare session wins the lock and keeps it
        assert not locks[1].try_acquire()  # a new spare for the lock still held elsewhere
        assert len(connects) == 2
    finally:
        holder.close()
        for lock in locks:
            lock.release()


def test_a_wait_for_the_read_models_in_this_process_cuts_the_workers_pace_short(store):
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    # a busy loop (busy_rate 0: always) paced by 30 s
    worker = Worker(service, idle_wait=0.05, acquire_every=0.1, step_gap=30.0, busy_rate=0).start()
    try:
        add(store, 1)
        wait_for(lambda: entries(service) == [1], timeout=15, what="the first entry")
        add(store, 2)  # within the 30 s gap of the round that applied the first
        time.sleep(0.5)
        assert entries(service) == [1]  # paced: the round waits

        started = time.monotonic()
        service.wait_until_projected(store.head_position(), ["ledger"], timeout=10)

        assert time.monotonic() - started < 5
        assert entries(service) == [1, 2]
    finally:
        worker.stop()


def test_a_batch_that_fails_is_rolled_back_alone_and_applied_again_on_its_own(store):
    # the ledger writes each entry, then fails at the second: both writes must go
    service = Projections(store, [Ledger(PARK), Tally(FailurePolicy("stop"))])
    runners = [service.runner("ledger"), service.runner("tally")]
    for runner in runners:
        runner.load()
    add(store, 1)
    add(store, 2, boom="always")
    store.append("tally-1", [NewEvent("TallyMark", {"n": 7})])
    failing = store.read_all(types=["LedgerEntry"])[1].position

    ProjectionGroup(store, runners).step()

    head = store.head_position()
    assert entries(service) == [1]  # the good entry applied, the failing one parked
    assert [letter["position"] for letter in service.dead_letters("ledger")] == [failing]
    tally = service.query(
        "tally", lambda conn, t: [r.n for r in conn.execute(sa.select(t["entries"]))]
    )
    assert tally == [7]  # committed beside the ledger's failed batch
    assert live_positions(service.engine, ["ledger", "tally"]) == {"ledger": head, "tally": head}
