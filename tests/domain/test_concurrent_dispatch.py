"""Several processes depositing into one account: nothing lost, nothing doubled."""

from __future__ import annotations

import importlib
import multiprocessing
from pathlib import Path

import pytest

from tests.domain.conftest import Domain, make_domain
from webapp.demo.bank import DepositMoney, OpenAccount

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(HERE))
    return importlib.import_module("domain_workers")


def test_concurrent_deposits_from_three_processes_all_count_once(db_url, domain, workers) -> None:
    processes, deposits, initial = 3, 20, 500
    domain.router.dispatch(OpenAccount("10001", "u1", initial))
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pending = [
            pool.apply_async(workers.deposit_many, (db_url, "10001", w, deposits))
            for w in range(processes)
        ]
        accepted = [amount for p in pending for amount in p.get(timeout=120)]

    assert len(accepted) == processes * deposits  # retries absorbed every conflict
    domain.registry.clear()
    state = domain.router.state_at("account-10001")
    assert state.state["balance"] == initial + sum(accepted)
    events = domain.store.read_stream("account-10001")
    assert [e.stream_version for e in events] == list(range(1, len(accepted) + 2))
    deposited = sorted(e.data["amount"] for e in events if e.type == "MoneyDeposited")
    assert deposited == sorted(accepted)
    assert len({e.event_id for e in events}) == len(events)


def test_threads_of_one_process_take_turns_on_an_aggregate(sqlite_domain) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from webapp.demo.bank import DepositMoney

    router = sqlite_domain.router
    router.dispatch(OpenAccount("10001", "u1", 0))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: router.dispatch(DepositMoney("10001", n)), range(1, 41)))
    assert all(r.attempts == 1 for r in results)  # serialised in-process: no conflict at all
    assert sorted(r.version for r in results) == list(range(2, 42))
    assert router.state_at("account-10001").state["balance"] == sum(range(1, 41))


def test_one_command_id_sent_from_four_processes_at_once_is_stored_once(
    db_url, domain, workers
) -> None:
    domain.router.dispatch(OpenAccount("10001", "u1", 500))
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pending = [
            pool.apply_async(workers.deposit_with_command_id, (db_url, "10001", "form-once"))
            for _ in range(4)
        ]
        outcomes = [p.get(timeout=120) for p in pending]

    events = domain.store.read_stream("account-10001")
    assert [e.type for e in events] == ["BankAccountOpened", "MoneyDeposited"]
    assert events[1].metadata["command_id"] == "form-once"
    assert outcomes.count(True) >= 1  # the one that stored it (a racer may not know)


class SameCommandFromElsewhere:
    """Middleware of the second router: after its check for an earlier dispatch, the same
    command id is stored by another process (here: a router with its own registry)."""

    def __init__(self, elsewhere: Domain, command: object, command_id: str) -> None:
        self.elsewhere, self.command, self.command_id = elsewhere, command, command_id

    def before_dispatch(self, pipeline: object) -> None:
        self.elsewhere.router.dispatch(self.command, metadata={"command_id": self.command_id})

    def after_dispatch(self, pipeline: object) -> None:
        return None

    def after_failure(self, pipeline: object) -> None:
        return None


def test_a_command_id_stored_elsewhere_after_the_check_is_not_stored_again(store) -> None:
    first, second = make_domain(store), make_domain(store)
    first.router.dispatch(OpenAccount("10001", "u1", 500))
    deposit = DepositMoney("10001", 100)
    second.router.middleware.append(SameCommandFromElsewhere(first, deposit, "form-once"))
    try:
        result = second.router.dispatch(deposit, metadata={"command_id": "form-once"})
    finally:
        first.registry.stop()
        second.registry.stop()

    events = store.read_stream("account-10001")
    assert [e.type for e in events] == ["BankAccountOpened", "MoneyDeposited"]
    assert result.duplicate and result.version == 2
    assert [e.event_id for e in result.events] == [events[1].event_id]
