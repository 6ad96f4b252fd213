"""Snapshots every N versions, stale snapshot versions ignored, state at any version."""

from __future__ import annotations

import random

import pytest

from webapp.demo.bank import BankAccount, DepositMoney, OpenAccount, WithdrawMoney
from webapp.domain import DomainError, Repository, diff_states


class SmallSnapshots(BankAccount):
    aggregate_type = "BankAccount"
    snapshot_every = 10


class ReshapedAccount(BankAccount):
    """As if the state's shape changed: snapshots of version 1 must not be decoded."""

    aggregate_type = "BankAccount"
    snapshot_every = 10
    snapshot_version = 2


@pytest.fixture
def history(domain):
    """An account with 35 events, snapshotted every 10, and the balance after each version."""
    from webapp.domain import Router, build_router

    small = Router("small").route(
        [OpenAccount, DepositMoney, WithdrawMoney],
        to=SmallSnapshots,
        identity="account_number",
        prefix="account-",
    )
    domain.router = build_router(domain.registry, [small])
    rng = random.Random(3)
    balances = {0: 0}
    balance = 100
    domain.router.dispatch(OpenAccount("10001", "u1", balance))
    balances[1] = balance
    for version in range(2, 36):
        amount = rng.randrange(1, 50)
        if rng.random() < 0.3 and balance >= amount:
            domain.router.dispatch(WithdrawMoney("10001", amount))
            balance -= amount
        else:
            domain.router.dispatch(DepositMoney("10001", amount))
            balance += amount
        balances[version] = balance
    return domain, balances


def test_a_snapshot_is_taken_each_time_a_multiple_is_crossed(history) -> None:
    domain, _ = history
    snaps = domain.store.list_snapshots("account-10001")
    assert sorted(s.version for s in snaps) == [10, 20, 30]
    assert {(s.type, s.snapshot_version) for s in snaps} == {("BankAccount", 1)}


def test_a_load_starts_from_the_newest_snapshot_and_reports_how(history) -> None:
    domain, balances = history
    aggregate, version, report = domain.repository.load(SmallSnapshots, "account-10001")
    assert (version, aggregate.balance) == (35, balances[35])
    assert (report.snapshot_version, report.events_replayed, report.source) == (30, 5, "snapshot")
    assert report.duration_ms >= 0 and report.stale_snapshots == ()


def test_a_snapshot_of_another_shape_version_is_ignored_and_reported_stale(history) -> None:
    domain, balances = history
    aggregate, version, report = domain.repository.load(ReshapedAccount, "account-10001")
    assert (version, aggregate.balance) == (35, balances[35])
    assert report.source == "replay" and report.events_replayed == 35
    assert report.stale_snapshots == (30, 20, 10)
    assert domain.repository.stats.stale_snapshots == 3
    health = domain.repository.snapshot_health(ReshapedAccount, "account-10001")
    assert {h["current"] for h in health} == {False}


def test_without_snapshots_a_load_replays_everything(history) -> None:
    domain, balances = history
    plain = Repository(domain.store, snapshots=False)
    aggregate, version, report = plain.load(SmallSnapshots, "account-10001")
    assert (aggregate.balance, report.events_replayed, report.source) == (
        balances[35],
        35,
        "replay",
    )


def test_state_at_every_version_equals_a_replay_up_to_it(history) -> None:
    domain, balances = history
    plain = Repository(domain.store, snapshots=False)
    for version in range(0, 36):
        at = domain.router.state_at("account-10001", version)
        replayed, _, _ = plain.load(SmallSnapshots, "account-10001", max_version=version)
        assert at.version == version
        assert at.state == replayed.state()
        assert at.state["balance"] == balances[version]
    assert domain.router.state_at("account-10001", 25).load.snapshot_version == 20
    assert domain.router.state_at("account-10001", 9).load.snapshot_version is None
    assert domain.router.state_at("account-10001").version == 35
    assert domain.router.state_at("account-10001", 99).version == 35


def test_state_of_an_unrouted_stream_is_a_key_error(domain) -> None:
    with pytest.raises(KeyError):
        domain.router.state_at("mystery-1")


def test_the_timeline_shows_each_events_effect(history) -> None:
    domain, balances = history
    steps = domain.router.timeline("account-10001", from_version=12, limit=3)
    assert [s.event.stream_version for s in steps] == [12, 13, 14]
    assert [s.state["balance"] for s in steps] == [balances[12], balances[13], balances[14]]
    assert steps[0].changes == [
        {"path": "balance", "kind": "changed", "before": balances[11], "after": balances[12]}
    ]


def test_diff_states_reports_added_removed_and_nested_changes() -> None:
    before = {"a": 1, "b": {"c": 2, "d": 3}, "gone": 1}
    after = {"a": 1, "b": {"c": 5, "d": 3}, "new": 2}
    assert [(c.path, c.kind) for c in diff_states(before, after)] == [
        ("b.c", "changed"),
        ("gone", "removed"),
        ("new", "added"),
    ]


def test_refusals_take_no_snapshot(domain) -> None:
    domain.router.dispatch(OpenAccount("10001", "u1", 0))
    with pytest.raises(DomainError):
        domain.router.dispatch(WithdrawMoney("10001", 1))
    assert domain.store.list_snapshots("account-10001") == []
