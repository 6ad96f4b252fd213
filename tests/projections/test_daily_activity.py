"""daily_activity counts events on the day they happened (business time), not the day stored."""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa

from webapp.projections import schema as engine_schema
from webapp.store import NewEvent


def counts_by_day(runtime) -> dict[tuple[str, str], int]:
    runtime.projections.runner("daily_activity").run_until_caught_up()
    return {(r["day"], r["event_type"]): r["count"] for r in runtime.projections.daily_activity()}


def test_an_event_counts_on_the_day_it_occurred(runtime):
    runtime.store.append(
        "account-1",
        [
            NewEvent("MoneyDeposited", {"amount": 1}, {"occurred_at": "2025-03-14T10:00:00+00:00"}),
            NewEvent("MoneyDeposited", {"amount": 2}, {"occurred_at": "2025-03-14T23:30:00+00:00"}),
            NewEvent("MoneyDeposited", {"amount": 3}, {"occurred_at": "2025-04-02T08:00:00"}),
        ],
    )

    assert counts_by_day(runtime) == {
        ("2025-03-14", "MoneyDeposited"): 2,
        ("2025-04-02", "MoneyDeposited"): 1,  # no zone: taken as UTC
    }


def test_the_day_is_taken_in_utc(runtime):
    runtime.store.append(
        "account-2",
        [NewEvent("MoneyDeposited", {}, {"occurred_at": "2025-03-14T23:30:00-05:00"})],
    )

    assert counts_by_day(runtime) == {("2025-03-15", "MoneyDeposited"): 1}


def test_without_a_usable_business_time_the_recorded_day_counts(runtime):
    runtime.store.append(
        "account-3",
        [
            NewEvent("MoneyDeposited", {"amount": 1}),
            NewEvent("MoneyDeposited", {"amount": 2}, {"occurred_at": "not a time"}),
            NewEvent("MoneyDeposited", {"amount": 3}, {"occurred_at": 1_700_000_000}),
        ],
    )
    recorded = runtime.store.read_stream("account-3")[0].recorded_at.astimezone(UTC)

    assert counts_by_day(runtime) == {(recorded.date().isoformat(), "MoneyDeposited"): 3}


def test_a_rebuild_buckets_history_by_business_time(runtime):
    runtime.store.append(
        "account-4",
        [NewEvent("BankAccountOpened", {}, {"occurred_at": "2024-12-31T12:00:00+00:00"})],
    )
    runtime.projections.rebuild_now("daily_activity")

    assert {(r["day"], r["event_type"]) for r in runtime.projections.daily_activity()} == {
        ("2024-12-31", "BankAccountOpened")
    }
    assert runtime.projections.daily_activity(since="2025-01-01") == []


def test_a_model_built_by_older_handlers_is_rebuilt_by_the_runner(runtime):
    """Version 2 changed the bucketing: a database built by version 1 rebuilds on its own."""
    runtime.store.append(
        "account-5",
        [NewEvent("MoneyDeposited", {}, {"occurred_at": "2025-02-01T12:00:00+00:00"})],
    )
    runner = runtime.projections.runner("daily_activity")
    runner.run_until_caught_up()
    registry = engine_schema.registry
    with runtime.store.engine.begin() as conn:
        conn.execute(
            registry.update()
            .where(registry.c.name == "daily_activity")
            .values(model_version=None)  # as left by a version-1 worker
        )
        live = conn.execute(
            sa.select(registry.c.live_generation).where(registry.c.name == "daily_activity")
        ).scalar()

    restarted = runtime.projections.runner("daily_activity")
    restarted.load()
    restarted.run_until_caught_up()

    with runtime.store.engine.connect() as conn:
        row = conn.execute(sa.select(registry).where(registry.c.name == "daily_activity")).one()
    assert row.live_generation == live + 1
    assert row.model_version == 2
    assert row.rebuild_requested_at is None
    assert counts_by_day(runtime) == {("2025-02-01", "MoneyDeposited"): 1}

    again = runtime.projections.runner("daily_activity")
    again.load()
    again.run_until_caught_up()
    assert again.position == restarted.position
    with runtime.store.engine.connect() as conn:
        generation = conn.execute(
            sa.select(registry.c.live_generation).where(registry.c.name == "daily_activity")
        ).scalar()
    assert generation == live + 1  # an up-to-date model is not rebuilt again
