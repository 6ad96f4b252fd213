"""The TransferMoney process manager: debit, credit, compensate; money is never created or lost."""

from __future__ import annotations

import time

import pytest

from webapp.demo.bank import CloseAccount, OpenAccount
from webapp.demo.queries import (
    get_account_summary,
    get_transfer,
    list_accounts,
    list_transfers,
    total_balance,
)
from webapp.demo.transfer_process import TransferProcess
from webapp.demo.transfers import TransferMoney
from webapp.domain import CommandValidationError

from .conftest import drive

INITIAL = {"A": 1000, "B": 500, "C": 0}


def open_accounts(runtime, closed=("C",)):
    for number, balance in INITIAL.items():
        runtime.router.dispatch(OpenAccount(number, f"owner-{number}", balance))
    for number in closed:
        runtime.router.dispatch(CloseAccount(number))


def balance(runtime, number: str) -> int:
    return runtime.router.state_at(f"account-{number}").state["balance"]


def total(runtime) -> int:
    return sum(balance(runtime, n) for n in INITIAL)


def events_of(runtime, stream_id: str) -> list[str]:
    return [e.type for e in runtime.store.read_stream(stream_id)]


def withdrawals(runtime, number: str) -> int:
    return events_of(runtime, f"account-{number}").count("MoneyWithdrawn")


def test_a_transfer_debits_the_source_and_credits_the_target(runtime):
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t1", "A", "B", 300))

    drive(runtime)

    assert (balance(runtime, "A"), balance(runtime, "B")) == (700, 800)
    assert events_of(runtime, "transfer-t1") == [
        "TransferRequested",
        "TransferDebited",
        "TransferCreditStarted",
        "TransferCompleted",
    ]
    assert get_transfer(runtime.projections, "t1")["status"] == "completed"
    assert get_account_summary(runtime.projections, "B")["balance"] == 800
    [instance] = runtime.projections.process_instances("transfer_money")
    assert instance["status"] == "finished"
    assert runtime.projections.pending_timeouts() == []  # settled: its timeout was cancelled
    assert total(runtime) == sum(INITIAL.values())


def test_a_closed_target_refunds_the_source(runtime):
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t2", "A", "C", 200))

    drive(runtime)

    assert balance(runtime, "A") == 1000
    assert balance(runtime, "C") == 0
    assert events_of(runtime, "transfer-t2")[-2:] == ["TransferRefunded", "TransferFailed"]
    summary = get_transfer(runtime.projections, "t2")
    assert (summary["status"], summary["refunded"]) == ("failed", 200)
    assert "account_closed" in summary["reason"]
    # the refund is caused by the transfer: same correlation id as its request
    request = runtime.store.read_stream("transfer-t2")[0]
    refund = runtime.store.read_stream("account-A")[-1]
    assert (refund.type, refund.data["transfer_id"]) == ("MoneyRefunded", "t2")
    assert refund.correlation_id == request.correlation_id
    assert refund.metadata["actor"] == "process:transfer_money"
    assert total(runtime) == sum(INITIAL.values())


def test_a_source_closed_after_the_debit_still_gets_its_money_back(runtime):
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t-gone", "A", "C", 300))  # C is closed
    pm = runtime.projections.process_runner("transfer_money")
    pm.run_until_caught_up()  # debits A and records the debit
    assert balance(runtime, "A") == 700
    runtime.router.dispatch(CloseAccount("A"))  # the owner closes A while the money is away

    drive(runtime)

    state = runtime.router.state_at("account-A").state
    assert (state["status"], state["balance"]) == ("closed", 1000)
    assert events_of(runtime, "account-A")[-2:] == ["BankAccountClosed", "MoneyRefunded"]
    transfer = get_transfer(runtime.projections, "t-gone")
    assert (transfer["status"], transfer["refunded"]) == ("failed", 300)
    assert get_account_summary(runtime.projections, "A")["balance"] == 1000
    assert runtime.projections.process_instances(status="running") == []
    assert total(runtime) == sum(INITIAL.values())


def test_a_refund_is_refused_from_outside_and_for_an_unknown_account(runtime):
    from webapp.demo.bank import RefundMoney
    from webapp.domain import DomainError

    open_accounts(runtime)
    head = runtime.store.head_position()
    with pytest.raises(CommandValidationError, match="only by the system"):
        runtime.router.dispatch_json("RefundMoney", {"account_number": "A", "amount": 500})
    with pytest.raises(DomainError, match="no account"):
        runtime.router.dispatch(RefundMoney("nobody", 5, "t-x"))
    assert runtime.store.head_position() == head
    assert balance(runtime, "A") == 1000


def test_short_funds_fail_the_transfer_without_moving_money(runtime):
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t3", "C", "B", 1))  # C is closed
    runtime.router.dispatch(TransferMoney("t4", "B", "A", 10_000))

    drive(runtime)

    assert get_transfer(runtime.projections, "t3")["status"] == "failed"
    assert "insufficient_funds" in get_transfer(runtime.projections, "t4")["reason"]
    assert (balance(runtime, "A"), balance(runtime, "B")) == (1000, 500)


def test_a_transfer_to_the_same_account_is_refused_and_appends_nothing(runtime):
    open_accounts(runtime)
    head = runtime.store.head_position()
    with pytest.raises(CommandValidationError):
        runtime.router.dispatch(TransferMoney("t5", "A", "A", 10))
    assert runtime.store.head_position() == head


def test_a_timeout_after_the_debit_refunds_the_source(runtime):
    runtime.projections._processes["transfer_money"] = TransferProcess(timeout_seconds=0.0)
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t6", "A", "B", 250))
    service = runtime.projections
    pm = service.process_runner("transfer_money")

    pm.run_until_caught_up()  # handles TransferRequested: debits A, records the debit
    assert balance(runtime, "A") == 750
    [timeout] = service.pending_timeouts()
    assert timeout["command"] == "TimeOutTransfer"
    # the worker restarts before the timer fires: a fresh timer finds the durable timeout
    assert service.timeout_runner().fire_due() == 1
    drive(runtime)

    assert events_of(runtime, "transfer-t6") == [
        "TransferRequested",
        "TransferDebited",
        "TransferTimedOut",
        "TransferRefunded",
        "TransferFailed",
    ]
    assert (balance(runtime, "A"), balance(runtime, "B")) == (1000, 500)
    assert get_transfer(service, "t6")["reason"] == "timed_out"
    assert total(runtime) == sum(INITIAL.values())


def test_a_timeout_after_settling_is_refused_and_changes_nothing(runtime):
    runtime.projections._processes["transfer_money"] = TransferProcess(timeout_seconds=0.0)
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t7", "A", "B", 100))
    service = runtime.projections
    pm = service.process_runner("transfer_money")
    pm.run_until_caught_up()
    pm.run_until_caught_up()  # TransferDebited -> credit, complete: the timeout is cancelled

    assert service.timeout_runner().fire_due(now=time.time() + 3600) == 0
    [done] = service.pending_timeouts(include_done=True)
    assert done["status"] == "cancelled"
    assert (balance(runtime, "A"), balance(runtime, "B")) == (900, 600)


def test_redelivering_an_event_does_not_debit_twice(runtime):
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t8", "A", "B", 300))
    requested = runtime.store.read_stream("transfer-t8")[0]
    pm = runtime.projections.process_runner("transfer_money")
    pm.load()

    pm.handle_event(requested)
    pm.handle_event(requested)  # the same event again (e.g. a redelivery)
    runtime.projections.process_runner("transfer_money").handle_event(requested)
    drive(runtime)

    assert withdrawals(runtime, "A") == 1
    assert (balance(runtime, "A"), balance(runtime, "B")) == (700, 800)


class Crash(BaseException):
    """Stands in for the worker dying between a dispatched command and the state's commit."""


def test_a_restart_in_the_middle_neither_repeats_nor_loses_a_step(runtime):
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t9", "A", "B", 400))
    service = runtime.projections
    dying = service.process_runner("transfer_money")
    sent = []
    real_dispatch = dying.dispatch_command

    def dispatch_then_die(command, metadata):
        result = real_dispatch(command, metadata)
        sent.append(type(command).__name__)
        if len(sent) == 1:  # the withdrawal is stored, the process state is not
            raise Crash
        return result

    dying.dispatch_command = dispatch_then_die
    with pytest.raises(Crash):
        dying.run_until_caught_up()
    assert sent == ["WithdrawMoney"]
    assert balance(runtime, "A") == 600

    drive(runtime)  # a restarted worker: fresh runners from the durable checkpoint and state

    assert withdrawals(runtime, "A") == 1
    assert (balance(runtime, "A"), balance(runtime, "B")) == (600, 900)
    assert get_transfer(service, "t9")["status"] == "completed"


def test_many_transfers_keep_the_sum_of_balances(runtime):
    open_accounts(runtime, closed=())
    pairs = [("A", "B"), ("B", "C"), ("C", "A"), ("A", "C"), ("B", "A")]
    for i in range(15):
        source, target = pairs[i % len(pairs)]
        runtime.router.dispatch(TransferMoney(f"m{i}", source, target, 70 + 13 * i))
        if i == 7:
            runtime.router.dispatch(CloseAccount("C"))
    drive(runtime, rounds=20)

    assert total(runtime) == sum(INITIAL.values())
    assert total_balance(runtime.projections) == sum(INITIAL.values())
    statuses = {t["status"] for t in list_transfers(runtime.projections)}
    assert statuses <= {"completed", "failed"}
    assert runtime.projections.process_instances(status="running") == []


@pytest.mark.slow
def test_seeded_transfers_include_a_compensated_one(sqlite_runtime):
    from webapp.demo.seed import load_seed
    from webapp.demo.transfers import seed_transfers

    runtime = sqlite_runtime
    load_seed(runtime.router)
    drive(runtime)
    total_before = total_balance(runtime.projections)

    ids = seed_transfers(runtime.router)
    assert seed_transfers(runtime.router) == ids  # idempotent
    drive(runtime, rounds=20)

    outcomes = [get_transfer(runtime.projections, i) for i in ids]
    assert any(t["status"] == "completed" for t in outcomes)
    assert any(t["status"] == "failed" and t["refunded"] > 0 for t in outcomes)
    assert total_balance(runtime.projections) == total_before
    # the account summary agrees with every aggregate's own balance
    for row in list_accounts(runtime.projections, limit=1000):
        state = runtime.router.state_at(f"account-{row['account_number']}").state
        assert (row["balance"], row["status"]) == (state["balance"], state["status"])


def test_a_transfers_internal_steps_cannot_be_sent_from_outside(sqlite_runtime):
    from webapp.domain import CommandValidationError

    runtime = sqlite_runtime
    before = runtime.store.head_position()
    with pytest.raises(CommandValidationError, match="only by the system"):
        runtime.router.dispatch_json(
            "FailTransfer", {"transfer_id": "t-x", "reason": "forged", "refunded": 500}
        )
    assert runtime.store.head_position() == before


def test_a_finished_transfer_leaves_memory_while_one_in_flight_stays(runtime):
    open_accounts(runtime)
    runtime.router.dispatch(TransferMoney("t-live", "A", "B", 100))
    assert runtime.registry.peek("transfer-t-live") is not None  # in flight: kept warm

    drive(runtime)

    assert events_of(runtime, "transfer-t-live")[-1] == "TransferCompleted"
    assert runtime.registry.peek("transfer-t-live") is None  # finished: stopped
