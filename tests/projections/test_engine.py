"""The projection engine: batches with checkpoints, catch-up, failure policies, status."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from webapp.projections import FailurePolicy, Projection, Projections, table_name
from webapp.projections import schema as engine_schema
from webapp.store.types import NewEvent, RecordedEvent


class Ledger(Projection):
    """A test read model: one row per LedgerEntry; an entry with `boom` makes the handler fail."""

    name = "ledger"
    handles = frozenset({"LedgerEntry"})
    fails_left: dict[int, int]

    def __init__(self, policy: FailurePolicy, flaky: int = 0) -> None:
        self.on_error = policy  # type: ignore[misc]
        self.flaky = flaky

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "entries": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("n", sa.Integer, primary_key=True),
                sa.Column("position", sa.BigInteger, nullable=False),
            )
        }

    def handle_batch(self, conn, tables, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            conn.execute(
                tables["entries"].insert().values(n=event.data["n"], position=event.position)
            )
            if event.data.get("boom"):
                if self.flaky > 0:
                    self.flaky -= 1
                    msg = "flaky failure"
                    raise RuntimeError(msg)
                if self.flaky == 0 and event.data.get("boom") == "always":
                    msg = f"cannot project entry {event.data['n']}"
                    raise ValueError(msg)


def entries(service: Projections) -> list[int]:
    return service.query(
        "ledger",
        lambda conn, t: [r.n for r in conn.execute(sa.select(t["entries"]).order_by("n"))],
    )


def add(store, n: int, **extra) -> None:
    store.append("ledger-1", [NewEvent("LedgerEntry", {"n": n, **extra})])


def test_catch_up_applies_every_event_once_and_checkpoints_at_the_head(store):
    for n in range(1, 6):
        add(store, n)
    store.append("other-1", [NewEvent("Unrelated", {})])  # not handled, still passed over
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    runner = service.runner("ledger", batch_size=2)

    position = runner.run_until_caught_up()

    assert entries(service) == [1, 2, 3, 4, 5]
    assert position == store.head_position()
    add(store, 6)
    runner.run_until_caught_up()
    assert entries(service) == [1, 2, 3, 4, 5, 6]


def test_a_stopped_projection_shows_the_event_and_error_and_commits_nothing_of_it(store):
    add(store, 1)
    add(store, 2, boom="always")
    add(store, 3)
    service = Projections(
        store, [Ledger(FailurePolicy("stop", max_attempts=2, backoff_seconds=0.01))]
    )
    runner = service.runner("ledger")

    runner.run_until_caught_up()

    failing = store.read_all(types=["LedgerEntry"])[1].position
    assert entries(service) == [1]  # the failing event's partial write was rolled back
    status = service.status_of("ledger")
    assert status["state"] == "stopped"
    assert status["position"] == failing - 1
    assert status["error_position"] == failing
    assert "cannot project entry 2" in status["last_error"]
    assert service.errors("ledger")[0]["outcome"] == "stopped"


def test_skip_records_the_event_and_error_then_moves_on(store):
    add(store, 1)
    add(store, 2, boom="always")
    add(store, 3)
    service = Projections(
        store, [Ledger(FailurePolicy("skip", max_attempts=2, backoff_seconds=0.01))]
    )

    service.runner("ledger").run_until_caught_up()

    assert entries(service) == [1, 3]
    [error] = service.errors("ledger")
    assert error["outcome"] == "skipped"
    assert error["event_type"] == "LedgerEntry"
    assert "cannot project entry 2" in error["error"]
    assert service.status_of("ledger")["errors_recorded"] == 1


def test_retry_with_backoff_applies_a_flaky_event_exactly_once(store):
    add(store, 1)
    add(store, 2, boom="flaky")
    add(store, 3)
    ledger = Ledger(FailurePolicy("retry", max_attempts=4, backoff_seconds=0.01), flaky=2)
    service = Projections(store, [ledger])

    service.runner("ledger").run_until_caught_up()

    assert entries(service) == [1, 2, 3]
    assert service.errors("ledger") == []


def test_retry_is_bounded_and_then_stops(store):
    add(store, 1, boom="always")
    service = Projections(
        store, [Ledger(FailurePolicy("retry", max_attempts=2, backoff_seconds=0.01))]
    )

    runner = service.runner("ledger")
    runner.run_until_caught_up()

    assert runner.stopped
    assert service.status_of("ledger")["state"] == "stopped"


def test_checkpoint_lives_in_the_projection_tables_transaction(store):
    add(store, 1)
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    service.runner("ledger").run_until_caught_up()

    with store.engine.connect().execution_options(eventscope_readonly=True) as conn:
        [(position,)] = conn.execute(
            sa.select(engine_schema.checkpoints.c.position).where(
                engine_schema.checkpoints.c.name == "ledger"
            )
        ).all()
    assert position == store.head_position()
    # a second runner (a restarted worker) starts from the checkpoint: nothing is applied twice
    service.runner("ledger").run_until_caught_up()
    assert entries(service) == [1]


def test_status_reports_lag_in_events_and_seconds_until_caught_up(store):
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    service.ensure_ready()
    for n in range(1, 4):
        add(store, n)

    before = service.status_of("ledger")
    assert before["state"] == "idle"  # no worker has run it yet
    assert before["lag_events"] == 3
    assert before["lag_seconds"] >= 0.0

    service.runner("ledger").run_until_caught_up()
    after = service.status_of("ledger")
    assert after["lag_events"] == 0
    assert after["lag_seconds"] == 0.0
    assert after["position"] == after["head"] == store.head_position()
    assert after["state"] == "running"
