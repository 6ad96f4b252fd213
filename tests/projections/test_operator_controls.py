"""An operator pauses and resumes units, resets a projection to a position, and retries or
skips the events a projection parked (its dead letters); every action is logged."""

from __future__ import annotations

import pytest

from webapp.projections import (
    ControlRefused,
    FailurePolicy,
    InvalidPosition,
    NotParked,
    Projections,
    ResumeRefused,
    UnknownProjection,
    Worker,
)
from webapp.projections.process_runner import ProcessManagerRunner

from .conftest import seed_bank_events, wait_for
from .test_engine import Ledger, add, entries
from .test_process_manager import Pinger, order

PARK = FailurePolicy("park", max_attempts=1)


class Picky(Ledger):
    """Fails on entries marked `boom="until-fixed"` (quoting the entry's e-mail) until the
    test sets `fixed`."""

    fixed = False

    def handle_batch(self, conn, tables, events):
        for event in events:
            if event.data.get("boom") == "until-fixed" and not self.fixed:
                msg = f"cannot file the entry of {event.data.get('email')}"
                raise RuntimeError(msg)
        super().handle_batch(conn, tables, events)


def actions(service, name="ledger"):
    return [(a["action"], a["position"], a["by"]) for a in service.operator_log(name)][::-1]


def park_the_second_of_three_entries(store):
    """Entries 1, 2 (failing) and 3 run through a ledger that parks: (service, runner, p2)."""
    add(store, 1)
    add(store, 2, boom="until-fixed", email="ada@example.com")
    add(store, 3)
    service = Projections(store, [Picky(PARK)])
    runner = service.runner("ledger")
    runner.run_until_caught_up()
    return service, runner, store.read_all(types=["LedgerEntry"])[1].position


@pytest.fixture
def parked(store):
    return park_the_second_of_three_entries(store)


# --- pause and resume -------------------------------------------------------------------------


def test_a_paused_projection_applies_nothing_and_keeps_its_checkpoint_until_resumed(store):
    add(store, 1)
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    runner = service.runner("ledger")
    runner.run_until_caught_up()
    checkpoint = runner.position

    status = service.pause("ledger", actor="olga")
    add(store, 2)
    runner.step()

    assert entries(service) == [1]
    assert runner.position == checkpoint
    assert status["state"] == "paused"
    assert status["paused"]["by"] == "olga" and status["paused"]["at"]
    assert service.status_of("ledger")["state"] == "paused"

    resumed = service.request_resume("ledger", actor="ivan")
    runner.run_until_caught_up()

    assert resumed["paused"] is None and resumed["state"] != "paused"
    assert entries(service) == [1, 2]
    assert actions(service) == [("pause", None, "olga"), ("resume", None, "ivan")]


def test_a_paused_process_manager_handles_no_events_until_resumed(store):
    sent = []
    runner = ProcessManagerRunner(
        store, Pinger(FailurePolicy("stop")), lambda command, metadata: sent.append(command)
    )
    service = Projections(store, [], [Pinger(FailurePolicy("stop"))])
    service.pause("pinger", actor="olga")
    order(store, "5", "OrderPlaced", "OrderPaid")

    runner.step()
    assert sent == [] and runner.position == 0
    assert service.status_of("pinger")["state"] == "paused"

    service.request_resume("pinger", actor="olga")
    runner.run_until_caught_up()
    assert [c.transfer_id for c in sent] == ["5"]


def test_pausing_twice_an_unknown_unit_or_resuming_a_running_one_is_refused(store):
    add(store, 1)
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    service.runner("ledger").run_until_caught_up()

    with pytest.raises(ResumeRefused, match="running, not stopped"):
        service.request_resume("ledger", actor="olga")
    service.pause("ledger", actor="olga")
    with pytest.raises(ControlRefused, match="already paused \\(by olga"):
        service.pause("ledger", actor="ivan")
    with pytest.raises(ResumeRefused, match="nothing to skip"):
        service.request_resume("ledger", actor="ivan", skip_position=1)
    with pytest.raises(UnknownProjection):
        service.pause("nope", actor="olga")

    assert service.status_of("ledger")["paused"]["by"] == "olga"  # the refusals changed nothing
    assert actions(service) == [("pause", None, "olga")]


def test_the_worker_honours_a_pause_and_a_resume(store):
    add(store, 1)
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    worker = Worker(service, idle_wait=0.05, acquire_every=0.1).start()
    try:
        wait_for(lambda: entries(service) == [1], timeout=15, what="the first entry")
        service.pause("ledger", actor="olga")
        wait_for(lambda: worker.projection_runners[0].paused, timeout=15, what="the pause")
        add(store, 2)
        wait_for(lambda: service.status_of("ledger")["lag_events"] == 1, timeout=15, what="the lag")
        assert entries(service) == [1]

        service.request_resume("ledger", actor="olga")
        wait_for(lambda: entries(service) == [1, 2], timeout=15, what="the resumed entry")
    finally:
        worker.stop()


# --- dead letters ---------------------------------------------------------------------------


def test_a_failing_event_is_parked_with_its_error_and_the_projection_goes_on(parked):
    service, runner, failing = parked

    assert entries(service) == [1, 3]
    assert runner.position == service.store.head_position()
    [letter] = service.dead_letters("ledger")
    assert (letter["position"], letter["event_type"], letter["attempts"]) == (
        failing,
        "LedgerEntry",
        1,
    )
    assert letter["error"] == "RuntimeError: cannot file the entry of [value]"
    assert letter["parked_at"] and letter["retry_requested"] is None
    status = service.status_of("ledger")
    assert status["dead_letters"] == 1 and status["state"] != "stopped"
    assert service.errors("ledger")[0]["outcome"] == "parked"


def test_a_retried_event_is_applied_and_leaves_the_list(parked):
    service, runner, failing = parked
    service.get("ledger").fixed = True

    service.retry_parked("ledger", failing, actor="olga")
    assert service.dead_letters("ledger")[0]["retry_requested"]["by"] == "olga"
    runner.step()

    assert entries(service) == [1, 2, 3]
    assert service.dead_letters("ledger") == []
    assert actions(service) == [("retry_requested", failing, "olga"), ("retried", failing, "olga")]


def test_a_retry_that_fails_again_leaves_the_event_parked_with_the_new_error(parked):
    service, runner, failing = parked

    service.retry_parked("ledger", failing, actor="olga")
    runner.step()

    [letter] = service.dead_letters("ledger")
    assert (letter["attempts"], letter["retry_requested"]) == (2, None)
    assert "ada@example.com" not in letter["error"]
    assert entries(service) == [1, 3]
    assert actions(service)[-1] == ("retry_failed", failing, "olga")


def test_a_skipped_event_leaves_the_list_unapplied_and_the_skip_is_logged(parked):
    service, runner, failing = parked

    letter = service.skip_parked("ledger", failing, actor="olga")
    runner.step()

    assert letter["position"] == failing
    assert service.dead_letters("ledger") == []
    assert entries(service) == [1, 3]
    [(action, position, by)] = actions(service)
    assert (action, position, by) == ("skipped", failing, "olga")
    assert service.operator_log("ledger")[0]["detail"].startswith("parked with: RuntimeError")


def test_retrying_or_skipping_an_event_that_is_not_parked_is_refused(parked):
    service, _runner, failing = parked

    with pytest.raises(NotParked, match="no event parked at position 999"):
        service.retry_parked("ledger", 999, actor="olga")
    with pytest.raises(NotParked):
        service.skip_parked("ledger", failing + 1, actor="olga")
    with pytest.raises(UnknownProjection):
        service.dead_letters("nope")

    assert [p["position"] for p in service.dead_letters("ledger")] == [failing]
    assert actions(service) == []


def test_a_process_manager_cannot_declare_the_park_policy(store):
    with pytest.raises(ValueError, match="'park' policy is for projections"):
        ProcessManagerRunner(store, Pinger(PARK), lambda command, metadata: None)


# --- reset to a position --------------------------------------------------------------------


def test_a_reset_replays_the_events_after_the_position_into_a_new_generation(store):
    for n in (1, 2, 3, 4):
        add(store, n)
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    runner = service.runner("ledger")
    runner.run_until_caught_up()
    second = store.read_all(types=["LedgerEntry"])[1].position
    generation = service.status_of("ledger")["generation"]

    status = service.request_reset("ledger", second, actor="olga")
    assert status["rebuild"]["requested"]
    runner.generations.check_request_soon()  # a worker looks for requests every 0.25 s
    runner.run_until_caught_up()

    assert entries(service) == [3, 4]  # what the events after `second` build
    assert service.status_of("ledger")["generation"] == generation + 1
    assert runner.position == store.head_position()
    assert actions(service) == [("reset", second, "olga")]


@pytest.mark.parametrize("position", [-1, 99])
def test_a_reset_outside_the_log_is_refused(store, position):
    add(store, 1)
    service = Projections(store, [Ledger(FailurePolicy("stop"))])
    service.runner("ledger").run_until_caught_up()

    with pytest.raises(InvalidPosition, match=f"position {position} is not in the log"):
        service.request_reset("ledger", position, actor="olga")
    assert service.status_of("ledger")["rebuild"] is None
    assert actions(service) == []


def test_a_process_manager_or_a_projection_being_rebuilt_cannot_be_reset(store):
    add(store, 1)
    add(store, 2)
    service = Projections(store, [Ledger(FailurePolicy("stop"))], [Pinger(FailurePolicy("stop"))])
    runner = service.runner("ledger", rebuild_batch_size=1)
    runner.run_until_caught_up()

    with pytest.raises(ControlRefused, match="process manager: it cannot be reset"):
        service.request_reset("pinger", 0, actor="olga")
    runner.request_rebuild()
    runner.step_rebuild()  # the rebuild is under way
    with pytest.raises(ControlRefused, match="being rebuilt"):
        service.request_reset("ledger", 1, actor="olga")
    assert actions(service) == []


def test_catching_up_returns_at_once_when_the_unit_is_paused(runtime):
    """A paused unit applies nothing, so a catch-up cannot wait for the head: it returns."""
    seed_bank_events(runtime.store, accounts=1, deposits=2)
    runtime.projections.pause("account_summary", actor="ops")
    runtime.projections.pause("transfer_money", actor="ops")

    assert runtime.projections.runner("account_summary").run_until_caught_up() == 0
    assert runtime.projections.process_runner("transfer_money").run_until_caught_up() == 0
    assert runtime.projections.status_of("account_summary")["state"] == "paused"
