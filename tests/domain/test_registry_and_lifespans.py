"""Live aggregates: lifespans decide how long they stay, a reaper evicts, a cap protects."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from webapp.demo.bank import (
    BankAccountClosed,
    BankAccountLifespan,
    CloseAccount,
    DepositMoney,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    WithdrawMoney,
)
from webapp.domain import INFINITY, STOP, DomainError, KeepFor, KeepForever
from webapp.domain.lifespan import decide_after_success

from .conftest import make_domain


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(sqlite_store):
    clock = FakeClock()
    built = make_domain(sqlite_store, clock=clock)
    built.clock = clock
    yield built
    built.registry.stop()


def test_the_bank_lifespan_answers_like_the_article() -> None:
    lifespan = BankAccountLifespan()
    assert lifespan.after_event(MoneyDeposited("1", 5)) == timedelta(hours=1)
    assert lifespan.after_event(BankAccountClosed("1")) is STOP
    assert lifespan.after_event(MoneyWithdrawn("1", 5)) is INFINITY
    assert lifespan.after_command(CloseAccount("1")) is STOP
    assert lifespan.after_command(DepositMoney("1", 5)) is INFINITY
    assert lifespan.after_error(DomainError("invalid_initial_balance")) == timedelta(minutes=5)
    assert lifespan.after_error(DomainError("insufficient_funds")) is STOP


def test_events_decide_when_there_are_some_and_stop_always_wins() -> None:
    lifespan = BankAccountLifespan()
    deposit = DepositMoney("1", 5)
    assert decide_after_success(lifespan, deposit, [MoneyDeposited("1", 5)]) == timedelta(hours=1)
    assert decide_after_success(lifespan, deposit, []) is INFINITY
    assert decide_after_success(lifespan, CloseAccount("1"), []) is STOP


def test_after_event_sets_a_deadline_after_command_keeps_forever(clocked) -> None:
    registry = clocked.registry
    clocked.router.dispatch(OpenAccount("10001", "u1", 500))
    assert registry.peek("account-10001").deadline is None  # opened: INFINITY
    clocked.router.dispatch(DepositMoney("10001", 5))
    entry = registry.peek("account-10001")
    assert entry.deadline == clocked.clock.now + 3600
    [info] = registry.live()
    assert (info.stream_id, info.aggregate_type, info.version) == (
        "account-10001",
        "BankAccount",
        2,
    )
    assert info.deadline is not None and info.memory > 0


def test_closing_stops_the_aggregate(clocked) -> None:
    clocked.router.dispatch(OpenAccount("10001", "u1", 500))
    clocked.router.dispatch(CloseAccount("10001"))
    assert "account-10001" not in clocked.registry
    assert clocked.registry.stats().stopped == 1


def test_an_error_stops_the_aggregate_unless_the_lifespan_keeps_it(clocked) -> None:
    router, registry = clocked.router, clocked.registry
    router.dispatch(OpenAccount("10001", "u1", 500))
    with pytest.raises(DomainError):
        router.dispatch(WithdrawMoney("10001", 10_000))
    assert "account-10001" not in registry
    with pytest.raises(DomainError):
        router.dispatch(OpenAccount("10001", "u1", 5))  # already opened: after_error -> STOP
    assert "account-10001" not in registry
    with pytest.raises(DomainError):
        router.dispatch(OpenAccount("10002", "u1", -5))  # invalid_initial_balance -> 5 minutes
    assert registry.peek("account-10002").deadline == clocked.clock.now + 300


def test_expired_aggregates_are_evicted_on_reap(clocked) -> None:
    router, registry = clocked.router, clocked.registry
    router.dispatch(OpenAccount("10001", "u1", 500))
    router.dispatch(DepositMoney("10001", 5))  # 1 hour
    router.dispatch(OpenAccount("10002", "u1", 500))  # forever
    clocked.clock.now += 3599
    assert registry.reap() == 0
    clocked.clock.now += 2
    assert registry.reap() == 1
    assert "account-10001" not in registry and "account-10002" in registry
    assert registry.stats().expired == 1


def test_the_reaper_thread_evicts_without_a_request(sqlite_store) -> None:
    from webapp.demo.bank import BankAccount
    from webapp.domain import Router, build_router

    built = make_domain(sqlite_store, reap_interval=0.02)
    quick = Router("quick").route(
        [OpenAccount, DepositMoney],
        to=BankAccount,
        identity="account_number",
        prefix="account-",
        lifespan=KeepFor(timedelta(milliseconds=100)),
    )
    router = build_router(built.registry, [quick])
    built.registry.start()
    try:
        router.dispatch(OpenAccount("10001", "u1", 5))
        assert "account-10001" in built.registry
        deadline = time.monotonic() + 5
        while "account-10001" in built.registry and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "account-10001" not in built.registry
        assert built.registry.history(), "the reaper samples size and memory"
    finally:
        built.registry.stop()
    assert not built.registry.running


def test_the_cap_evicts_least_recently_used_even_when_kept_forever(sqlite_store) -> None:
    from webapp.demo.bank import BankAccount
    from webapp.domain import Router, build_router

    built = make_domain(sqlite_store, max_live=3)
    forever = Router("forever").route(
        [OpenAccount, DepositMoney],
        to=BankAccount,
        identity="account_number",
        prefix="account-",
        lifespan=KeepForever(),
    )
    router = build_router(built.registry, [forever])
    for n in range(1, 6):
        router.dispatch(OpenAccount(f"1000{n}", "u1", 5))
    router.dispatch(DepositMoney("10003", 1))  # 10003 becomes most recently used
    router.dispatch(OpenAccount("10006", "u1", 5))
    live = [i.stream_id for i in built.registry.live()]
    assert live == ["account-10006", "account-10003", "account-10005"]
    stats = built.registry.stats()
    assert (stats.size, stats.capped, stats.evictions) == (3, 3, 3)


def test_hits_loads_and_explicit_eviction(clocked) -> None:
    router, registry = clocked.router, clocked.registry
    router.dispatch(OpenAccount("10001", "u1", 500))
    router.dispatch(OpenAccount("10002", "u9", 500))
    router.dispatch(DepositMoney("10001", 1))
    stats = registry.stats()
    assert (stats.loads, stats.hits) == (2, 1)
    assert stats.memory == sum(i.memory for i in registry.live())
    assert registry.evict("account-10002") is True
    assert registry.evict("account-10002") is False
    router.dispatch(OpenAccount("10003", "u9", 1))
    assert registry.evict_where(lambda e: e.aggregate.owner_id == "u9") == 1
    assert [i.stream_id for i in registry.live()] == ["account-10001"]
    router.dispatch(DepositMoney("10002", 1))  # reloads from the store
    assert registry.stats().loads == 4
    assert registry.peek("account-10002").aggregate.balance == 501


def test_a_forgotten_subjects_aggregates_leave_memory(clocked) -> None:
    from webapp.demo.identity import RegisterUser

    router, registry = clocked.router, clocked.registry
    router.dispatch(RegisterUser("u1", "Ada", "ada@example.org"))
    router.dispatch(OpenAccount("10001", "u1", 5))
    router.dispatch(OpenAccount("10002", "u2", 5))
    assert registry.evict_subject("u1") == 2
    assert [i.stream_id for i in registry.live()] == ["account-10002"]
