"""Commands are counted per minute and outcome (accepted, refused, failed) in the database,
so the health page shows the whole deployment's last hour, whichever process served them."""

from __future__ import annotations

import sqlite3
import time

import pytest

from webapp.web.command_tally import KEPT_MINUTES, CommandTally, outcome_of, tally_table

OPEN = {"account_number": "T-1", "owner_id": "u-1", "initial_balance": 10}


def _stored(engine) -> dict[tuple[int, str], int]:
    with engine.connect() as conn:
        return {(r.minute, r.outcome): r.count for r in conn.execute(tally_table.select())}


def _this_minute() -> int:
    return int(time.time() // 60)


@pytest.mark.parametrize(
    ("label", "outcome"),
    [
        ("ok", "accepted"),
        ("invalid", "refused"),
        ("conflict", "refused"),
        ("rejected", "refused"),
        ("error", "failed"),
        ("anything else", "failed"),
    ],
)
def test_each_metrics_outcome_counts_as_accepted_refused_or_failed(label, outcome):
    assert outcome_of(label) == outcome


def test_commands_through_the_api_are_counted_by_outcome(app, client, runtime, auth_headers):
    admin = auth_headers("admin")
    assert (
        client.post(
            "/api/commands", json={"command": "OpenAccount", "data": OPEN}, headers=admin
        ).status_code
        == 201
    )
    again = client.post(
        "/api/commands", json={"command": "OpenAccount", "data": OPEN}, headers=admin
    )
    assert again.status_code in (409, 422)
    bad = client.post("/api/commands", json={"command": "OpenAccount", "data": {}}, headers=admin)
    assert bad.status_code == 400

    counts = app.extensions["eventscope_command_tally"].per_minute(time.time() - 60)

    assert sum(c.get("accepted", 0) for c in counts.values()) == 1
    assert sum(c.get("refused", 0) for c in counts.values()) == 2
    assert _stored(runtime.database)[(_this_minute(), "refused")] == 2  # in the table itself


def test_counts_reach_the_database_by_themselves_shortly_after(runtime):
    tally = CommandTally(runtime.database, flush_after=0.1)
    tally.count("ok")
    tally.count("ok")

    deadline = time.time() + 10
    while not _stored(runtime.database) and time.time() < deadline:
        time.sleep(0.05)

    assert _stored(runtime.database) == {(_this_minute(), "accepted"): 2}


def test_processes_add_to_the_same_minute(runtime):
    first = CommandTally(runtime.database, flush_after=60)
    second = CommandTally(runtime.database, flush_after=60)
    first.count("ok")
    second.count("ok")
    second.count("invalid")
    assert first.flush() and second.flush()

    counts = CommandTally(runtime.database).per_minute(time.time() - 60)

    assert counts == {_this_minute() * 60: {"accepted": 2, "refused": 1}}


def test_minutes_older_than_a_day_are_dropped_on_the_next_write(runtime):
    now = time.time()
    clock = [now - (KEPT_MINUTES + 10) * 60]
    tally = CommandTally(runtime.database, flush_after=60, clock=lambda: clock[0])
    tally.count("ok")
    tally.flush()
    assert len(_stored(runtime.database)) == 1

    clock[0] = now
    tally.count("invalid")
    tally.flush()

    assert _stored(runtime.database) == {(int(now // 60), "refused"): 1}


def test_counts_wait_in_memory_while_another_writer_holds_the_database(runtime):
    tally = CommandTally(runtime.database, flush_after=60)
    tally.count("ok")
    writer = sqlite3.connect(runtime.database.url.database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        assert tally.flush() is False
        assert tally.per_minute(time.time() - 60) == {_this_minute() * 60: {"accepted": 1}}
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert tally.flush() is True
    assert _stored(runtime.database) == {(_this_minute(), "accepted"): 1}
