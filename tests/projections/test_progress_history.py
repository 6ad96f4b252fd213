"""Each unit records where it was, and where the head was, minute by minute: the health
page's history. A minute holds the last values seen in it; a day is kept."""

from __future__ import annotations

import time

from webapp.projections import schema, unit
from webapp.projections.unit import record_progress

from .conftest import seed_bank_events


def _rows(runtime, name: str) -> list[tuple[int, int, int]]:
    with runtime.store.engine.connect() as conn:
        return [
            (r.minute, r.position, r.head)
            for r in conn.execute(
                schema.progress.select()
                .where(schema.progress.c.name == name)
                .order_by(schema.progress.c.minute)
            )
        ]


def test_a_runner_records_its_position_and_the_head_for_the_minute(runtime):
    head = seed_bank_events(runtime.store, accounts=3, deposits=4)
    runtime.projections.runner("account_summary").run_until_caught_up()

    history = runtime.projections.progress_history(time.time() - 120)
    [row] = [r for r in history if r["name"] == "account_summary"]
    assert row["kind"] == "projection"
    assert row["position"] == head
    assert row["head"] == head
    assert row["minute"] == int(row["at"] // 60) * 60
    assert time.time() - row["at"] < 60


def test_a_minute_keeps_only_the_last_values_seen_in_it(runtime):
    engine = runtime.store.engine
    minute_start = (int(time.time() // 60) - 5) * 60
    with engine.begin() as conn:
        record_progress(conn, "ledger", "projection", 10, 50, minute_start + 1)
        record_progress(conn, "ledger", "projection", 30, 60, minute_start + 40)
        record_progress(conn, "ledger", "projection", 45, 70, minute_start + 65)

    assert _rows(runtime, "ledger") == [
        (minute_start // 60, 30, 60),
        (minute_start // 60 + 1, 45, 70),
    ]
    since = runtime.projections.progress_history(minute_start + 60)
    assert [(r["position"], r["at"]) for r in since if r["name"] == "ledger"] == [
        (45, minute_start + 65)
    ]


def test_minutes_older_than_a_day_are_dropped_as_new_ones_come(runtime):
    engine = runtime.store.engine
    now = time.time()
    day = schema.PROGRESS_KEPT_MINUTES * 60
    with engine.begin() as conn:
        record_progress(conn, "ledger", "projection", 1, 1, now - day - 600)
        record_progress(conn, "ledger", "projection", 2, 2, now - day + 600)
        record_progress(conn, "other", "projection", 1, 1, now - day - 600)
    assert len(_rows(runtime, "ledger")) == 2

    with engine.begin() as conn:
        record_progress(conn, "ledger", "projection", 3, 3, now)

    assert [r[1] for r in _rows(runtime, "ledger")] == [2, 3]
    assert len(_rows(runtime, "other")) == 1  # pruned by its own unit's next write


def test_the_timer_records_no_history(runtime):
    timer = runtime.projections.timeout_runner()
    timer.write_status(force=True)

    assert _rows(runtime, timer.name) == []
    assert runtime.projections.status_of(timer.name)["kind"] == "timer"


def _heartbeat(runtime, name: str) -> float:
    with runtime.store.engine.connect() as conn:
        return (
            conn.execute(schema.status.select().where(schema.status.c.name == name))
            .one()
            .heartbeat_at
        )


def test_an_idle_unit_rewrites_its_unchanged_status_only_as_a_heartbeat(runtime, monkeypatch):
    seed_bank_events(runtime.store, accounts=2, deposits=2)
    runner = runtime.projections.runner("account_summary", status_every=1.0)
    runner.run_until_caught_up()
    clock = [time.monotonic() + 10]
    monkeypatch.setattr(unit.time, "monotonic", lambda: clock[0])
    runner.write_status()
    clock[0] += 1.5  # the rate of events settles at zero: a change, written
    runner.write_status()
    assert runner.progress.events_per_second == 0
    first = _heartbeat(runtime, "account_summary")

    clock[0] += 1.5  # a period later, nothing changed: no write
    runner.write_status()
    assert _heartbeat(runtime, "account_summary") == first

    clock[0] += unit.HEARTBEAT_PERIODS * 1.0  # the heartbeat is due: written again
    runner.write_status()
    beat = _heartbeat(runtime, "account_summary")
    assert beat > first

    clock[0] += 1.5  # a change is written at the next period, heartbeat or not
    runner.progress.head += 1
    runner.write_status()
    assert _heartbeat(runtime, "account_summary") > beat
