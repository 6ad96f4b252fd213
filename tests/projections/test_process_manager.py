"""Process managers' own machinery: instances by id, error policies, durable timeouts."""

from __future__ import annotations

from webapp.demo.transfers import TimeOutTransfer as PingBack  # any registered command
from webapp.domain import DomainError
from webapp.projections import FailurePolicy, ProcessManager, Projections
from webapp.projections.process_runner import ProcessManagerRunner
from webapp.projections.timeouts import TimeoutRunner
from webapp.store.types import NewEvent


class Pinger(ProcessManager):
    name = "pinger"
    starts = frozenset({"OrderPlaced"})
    continues = frozenset({"OrderPaid"})
    stops = frozenset({"OrderShipped"})

    def __init__(self, policy: FailurePolicy) -> None:
        self.on_error = policy  # type: ignore[misc]

    def instance_id(self, event):
        return event.data["order_id"]

    def handle(self, ctx, state, event):
        if event.type == "OrderPlaced":
            ctx.schedule_timeout("pay", PingBack(event.data["order_id"]), after=0)
        if event.type == "OrderPaid":
            ctx.cancel_timeout("pay")
            ctx.dispatch(PingBack(event.data["order_id"]), step="thank")
        return {**state, "seen": [*state.get("seen", []), event.type]}


def order(store, order_id: str, *types: str) -> None:
    for t in types:
        store.append(f"order-{order_id}", [NewEvent(t, {"order_id": order_id})])


def test_instances_are_keyed_by_id_and_finish_on_a_stop_event(store):
    sent = []
    runner = ProcessManagerRunner(store, Pinger(FailurePolicy()), lambda c, m: sent.append(c))
    order(store, "1", "OrderPlaced", "OrderPaid", "OrderShipped")
    order(store, "2", "OrderPlaced")
    order(store, "3", "OrderPaid")  # never started: ignored

    runner.run_until_caught_up()

    service = Projections(store, [], [])
    instances = {i["instance_id"]: i for i in service.process_instances("pinger")}
    assert set(instances) == {"1", "2"}
    assert instances["1"]["status"] == "finished"
    assert instances["1"]["state"]["seen"] == ["OrderPlaced", "OrderPaid", "OrderShipped"]
    assert instances["2"]["status"] == "running"
    assert sent == [PingBack("1")]
    [pending] = service.pending_timeouts()
    assert (pending["instance_id"], pending["name"]) == ("2", "pay")


def test_a_failing_command_stops_the_process_at_that_event(store):
    def refuse(command, metadata):
        msg = "command bus unavailable"
        raise RuntimeError(msg)

    policy = FailurePolicy("stop", max_attempts=2, backoff_seconds=0.01)
    runner = ProcessManagerRunner(store, Pinger(policy), refuse)
    order(store, "9", "OrderPlaced", "OrderPaid")

    runner.run_until_caught_up()

    paid = store.read_stream("order-9")[1]
    assert runner.stopped
    assert runner.position == paid.position - 1
    status = {s["name"]: s for s in Projections(store, [], [Pinger(policy)]).status()}
    assert status["pinger"]["state"] == "stopped"
    assert status["pinger"]["error_position"] == paid.position
    assert "command bus unavailable" in status["pinger"]["last_error"]


def test_skip_records_the_failed_event_and_goes_on(store):
    calls = []

    def flaky(command, metadata):
        calls.append(command)
        msg = "still down"
        raise RuntimeError(msg)

    policy = FailurePolicy("skip", max_attempts=2, backoff_seconds=0.01)
    runner = ProcessManagerRunner(store, Pinger(policy), flaky)
    order(store, "7", "OrderPlaced", "OrderPaid", "OrderShipped")

    runner.run_until_caught_up()

    assert not runner.stopped
    assert len(calls) == 2  # retried, then skipped
    [error] = Projections(store, [], []).errors("pinger")
    assert (error["outcome"], error["event_type"]) == ("skipped", "OrderPaid")
    assert runner.position == store.head_position()


def test_due_timeouts_fire_once_and_refusals_are_recorded(store):
    runner = ProcessManagerRunner(store, Pinger(FailurePolicy()), lambda c, m: None)
    order(store, "5", "OrderPlaced")
    order(store, "6", "OrderPlaced")
    runner.run_until_caught_up()
    fired = []

    def dispatch(command, metadata):
        fired.append(command.transfer_id)
        if command.transfer_id == "6":
            raise DomainError("order_settled")

    timer = TimeoutRunner(store, dispatch)
    assert timer.fire_due() == 2
    assert TimeoutRunner(store, dispatch).fire_due() == 0  # a restarted timer: nothing again
    assert sorted(fired) == ["5", "6"]
    done = {
        t["instance_id"]: t for t in Projections(store, [], []).pending_timeouts(include_done=True)
    }
    assert done["5"]["status"] == "fired"
    assert (done["6"]["status"], done["6"]["outcome"]) == (
        "refused",
        "order_settled: order settled",
    )
