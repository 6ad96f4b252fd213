"""An operator resumes a stopped projection or process manager: retry the event, or skip it."""

from __future__ import annotations

import pytest

from webapp.projections import FailurePolicy, Projections, ResumeRefused, UnknownProjection, Worker
from webapp.projections.process_runner import ProcessManagerRunner

from .conftest import wait_for
from .test_engine import Ledger, add, entries
from .test_process_manager import Pinger, order

STOP = FailurePolicy("stop", max_attempts=1)


class Repairable(Ledger):
    """Fails on entries marked `boom="until-fixed"` until the test sets `fixed`."""

    fixed = False

    def handle_batch(self, conn, tables, events):
        for event in events:
            if event.data.get("boom") == "until-fixed" and not self.fixed:
                msg = f"table full while projecting entry {event.data['n']}"
                raise RuntimeError(msg)
        super().handle_batch(conn, tables, events)


@pytest.fixture
def stopped_ledger(store):
    """The ledger projection stopped at entry 2 (of 1, 2, 3); (service, runner, position)."""
    add(store, 1)
    add(store, 2, boom="until-fixed")
    add(store, 3)
    service = Projections(store, [Repairable(STOP)])
    runner = service.runner("ledger")
    runner.run_until_caught_up()
    assert runner.stopped
    return service, runner, store.read_all(types=["LedgerEntry"])[1].position


def test_a_retry_handles_the_same_event_again_once_the_cause_is_fixed(stopped_ledger):
    service, runner, failing = stopped_ledger
    service.request_resume("ledger", actor="olga")
    service.get("ledger").fixed = True

    assert runner.resume_if_requested()
    runner.run_until_caught_up()

    assert entries(service) == [1, 2, 3]
    status = service.status_of("ledger")
    assert status["state"] != "stopped"
    assert status["last_error"] is None
    assert status["position"] == service.store.head_position()
    assert not runner.resume_if_requested()  # the request was used up


def test_a_skip_records_who_skipped_the_event_and_goes_on(stopped_ledger):
    service, runner, failing = stopped_ledger

    service.request_resume("ledger", actor="olga", skip_position=failing)
    assert runner.resume_if_requested()
    runner.run_until_caught_up()

    assert entries(service) == [1, 3]
    skipped = service.errors("ledger")[0]
    assert (skipped["outcome"], skipped["position"]) == ("skipped", failing)
    assert "skipped by olga" in skipped["error"]
    assert "table full while projecting entry 2" in skipped["error"]
    assert service.status_of("ledger")["state"] != "stopped"


def test_a_skip_is_only_for_the_event_it_stopped_at(stopped_ledger):
    service, _runner, failing = stopped_ledger

    with pytest.raises(ResumeRefused, match=f"stopped at event {failing}, not {failing + 1}"):
        service.request_resume("ledger", actor="olga", skip_position=failing + 1)
    assert service.pending_resume("ledger") is None


def test_a_running_projection_or_an_unknown_name_cannot_be_resumed(store):
    add(store, 1)
    service = Projections(store, [Repairable(STOP)])
    service.runner("ledger").run_until_caught_up()

    with pytest.raises(ResumeRefused, match="not stopped"):
        service.request_resume("ledger", actor="olga")
    with pytest.raises(UnknownProjection):
        service.request_resume("nope", actor="olga")


def test_a_request_made_for_an_earlier_stop_is_not_applied_to_a_later_one(stopped_ledger):
    service, runner, failing = stopped_ledger
    add(service.store, 4, boom="always")
    service.request_resume("ledger", actor="olga", skip_position=failing)
    service.get("ledger").fixed = True
    runner.load()  # a worker restart retries on its own: entry 2 now goes through...
    runner.run_until_caught_up()  # ...and it stops at entry 4
    assert runner.stopped
    assert service.status_of("ledger")["error_position"] == failing + 2

    assert not runner.resume_if_requested()  # the skip was asked of the stop at entry 2
    assert runner.stopped
    assert service.pending_resume("ledger") is None  # and is gone
    assert all(e["outcome"] != "skipped" for e in service.errors("ledger"))


def test_a_stopped_process_manager_resumes_by_retry_or_skip(store):
    down = {"bus": True}
    sent = []

    def dispatch(command, metadata):
        if down["bus"]:
            msg = "command bus unavailable"
            raise RuntimeError(msg)
        sent.append(command)

    runner = ProcessManagerRunner(store, Pinger(STOP), dispatch)
    order(store, "5", "OrderPlaced", "OrderPaid")
    order(store, "6", "OrderPlaced", "OrderPaid")
    service = Projections(store, [], [Pinger(STOP)])
    runner.run_until_caught_up()
    paid_5 = store.read_stream("order-5")[1].position
    assert service.status_of("pinger")["error_position"] == paid_5

    service.request_resume("pinger", actor="olga", skip_position=paid_5)
    assert runner.resume_if_requested()
    down["bus"] = False
    runner.run_until_caught_up()

    assert [c.transfer_id for c in sent] == ["6"]  # order 5's step was skipped, 6's done
    assert "skipped by olga" in service.errors("pinger")[0]["error"]
    assert service.status_of("pinger")["state"] != "stopped"


def test_the_worker_carries_out_a_resume_request(store):
    add(store, 1)
    add(store, 2, boom="until-fixed")
    service = Projections(store, [Repairable(STOP)])
    worker = Worker(service, idle_wait=0.05, acquire_every=0.1).start()
    try:
        wait_for(lambda: service.status_of("ledger")["state"] == "stopped", what="the stop")
        service.get("ledger").fixed = True
        service.request_resume("ledger", actor="olga")
        wait_for(lambda: entries(service) == [1, 2], timeout=15, what="the retried event")
        assert service.pending_resume("ledger") is None
    finally:
        worker.stop()


def test_a_rebuild_asked_while_stopped_starts_once_resumed(stopped_ledger):
    service, runner, _failing = stopped_ledger
    service.request_rebuild("ledger")
    runner.step()
    assert runner.stopped
    assert not runner.rebuilding  # a stopped projection does nothing, rebuilds included

    service.get("ledger").fixed = True
    service.request_resume("ledger", actor="olga")
    assert runner.resume_if_requested()
    runner.run_until_caught_up()

    status = service.status_of("ledger")
    assert (status["generation"], status["rebuild"]) == (2, None)
    assert entries(service) == [1, 2, 3]
