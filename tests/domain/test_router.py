"""Dispatching commands through the composite router, on both backends."""

from __future__ import annotations

import pytest

from webapp.demo.bank import DepositMoney, OpenAccount, WithdrawMoney
from webapp.demo.identity import RegisterUser
from webapp.domain import (
    CommandValidationError,
    ConcurrencyError,
    DomainError,
    Router,
    RoutingError,
)
from webapp.domain.middleware import AuditMiddleware

from .conftest import make_domain


def open_account(router, number: str = "10001", balance: int = 1000):
    return router.dispatch(OpenAccount(number, "u1", balance))


def test_dispatch_appends_events_with_flowing_metadata(domain) -> None:
    result = domain.router.dispatch(
        RegisterUser("u1", "Ada", "ada@example.org"),
        metadata={"actor": "teller:amara", "correlation_id": "corr-1", "occurred_at": "2024-01-02"},
        include_state=True,
    )
    assert (result.stream_id, result.version) == ("user-u1", 1)
    assert result.state["status"] == "registered"
    [recorded] = domain.store.read_stream("user-u1")
    assert recorded.type == "UserRegistered"
    md = recorded.metadata
    assert md["actor"] == "teller:amara"
    assert md["correlation_id"] == "corr-1"
    assert md["causation_id"] == result.command_id == md["command_id"]
    assert md["command"] == "RegisterUser"
    assert md["occurred_at"] == "2024-01-02"
    assert result.events[0].event_id == recorded.event_id


def test_a_new_correlation_id_is_made_when_none_is_given(domain) -> None:
    first = open_account(domain.router)
    second = domain.router.dispatch(DepositMoney("10001", 5))
    assert first.correlation_id and second.correlation_id
    assert first.correlation_id != second.correlation_id
    assert second.events[0].metadata["correlation_id"] == second.correlation_id


def test_reply_has_the_json_contract_shape(domain) -> None:
    open_account(domain.router)
    reply = domain.router.dispatch_json(
        "DepositMoney", {"account_number": "10001", "amount": "25"}, include_state=True
    ).to_dict()
    assert reply["stream_id"] == "account-10001"
    assert reply["version"] == 2
    assert reply["events"][0]["type"] == "MoneyDeposited"
    assert reply["events"][0]["stream_version"] == 2
    assert reply["events"][0]["data"] == {"account_number": "10001", "amount": 25}
    assert reply["state"]["balance"] == 1025


BAD_COMMANDS = [
    ("DepositMoney", {"account_number": "10001"}, "missing_field"),
    ("DepositMoney", {"account_number": "10001", "amount": "lots"}, "wrong_type"),
    ("DepositMoney", {"account_number": "10001", "amount": -100}, "invalid_value"),
    ("OpenAccount", {"account_number": "", "owner_id": "u1"}, "invalid_value"),
    ("Explode", {"account_number": "10001"}, "unknown_command"),
    ("WithdrawMoney", {"account_number": "10001", "amount": 10**9}, "insufficient_funds"),
    ("DepositMoney", {"account_number": "99999", "amount": 5}, "account_not_found"),
]


@pytest.mark.parametrize(("name", "data", "code"), BAD_COMMANDS)
def test_bad_commands_append_nothing(sqlite_domain, name: str, data: dict, code: str) -> None:
    open_account(sqlite_domain.router)
    head = sqlite_domain.store.head_position()
    with pytest.raises(DomainError) as caught:
        sqlite_domain.router.dispatch_json(name, data)
    assert caught.value.code == code
    assert sqlite_domain.store.head_position() == head


def test_bad_commands_append_nothing_on_every_backend(domain) -> None:
    open_account(domain.router)
    head = domain.store.head_position()
    for name, data, code in BAD_COMMANDS:
        with pytest.raises(DomainError) as caught:
            domain.router.dispatch_json(name, data)
        assert caught.value.code == code
    assert domain.store.head_position() == head
    assert domain.store.count_events() == 1


def test_a_command_built_in_code_is_validated_too(domain) -> None:
    with pytest.raises(CommandValidationError):
        domain.router.dispatch(DepositMoney("10001", "12"))  # type: ignore[arg-type]
    assert domain.store.head_position() == 0


def test_middleware_hooks_run_around_each_command(domain) -> None:
    calls: list[str] = []

    class Recorder:
        def before_dispatch(self, pipeline):
            calls.append(f"before {pipeline.command_type}")
            pipeline.metadata["tenant"] = "demo"

        def after_dispatch(self, pipeline):
            calls.append(f"after {pipeline.stream_id} v{pipeline.result.version}")

        def after_failure(self, pipeline):
            calls.append(f"failure {pipeline.error.code}")

    domain.router.middleware.append(Recorder())
    audit = AuditMiddleware()
    domain.router.middleware.append(audit)
    open_account(domain.router)
    with pytest.raises(DomainError):
        domain.router.dispatch(WithdrawMoney("10001", 5000))
    assert calls == [
        "before OpenAccount",
        "after account-10001 v1",
        "before WithdrawMoney",
        "failure insufficient_funds",
    ]
    assert domain.store.read_stream("account-10001")[0].metadata["tenant"] == "demo"
    assert [r.outcome for r in audit.records()] == ["refused", "ok"]
    assert audit.records()[0].error_code == "insufficient_funds"


def test_a_middleware_can_halt_a_command(domain) -> None:
    class ReadOnly:
        def before_dispatch(self, pipeline):
            raise DomainError("read_only", "the store is read-only")

        def after_dispatch(self, pipeline):
            pass

        def after_failure(self, pipeline):
            pass

    domain.router.middleware.append(ReadOnly())
    with pytest.raises(DomainError, match="read-only"):
        open_account(domain.router)
    assert domain.store.head_position() == 0


def test_dry_run_shows_events_and_state_without_storing(domain) -> None:
    open_account(domain.router)
    head = domain.store.head_position()
    live_before = domain.registry.peek("account-10001").aggregate.balance
    dry = domain.router.dry_run(WithdrawMoney("10001", 300))
    assert [e.type for e in dry.events] == ["MoneyWithdrawn"]
    assert (dry.version_before, dry.version, dry.events[0].stream_version) == (1, 2, 2)
    assert dry.state["balance"] == 700 and dry.state_before["balance"] == 1000
    assert dry.changes == [{"path": "balance", "kind": "changed", "before": 1000, "after": 700}]
    assert domain.store.head_position() == head
    assert domain.registry.peek("account-10001").aggregate.balance == live_before
    with pytest.raises(DomainError, match="cannot withdraw"):
        domain.router.dry_run(WithdrawMoney("10001", 5000))
    domain.registry.clear()
    assert domain.router.dry_run(DepositMoney("10001", 1)).state["balance"] == 1001
    assert "account-10001" not in domain.registry


def test_a_stale_aggregate_reloads_and_retries_after_a_concurrent_write(domain) -> None:
    other = make_domain(domain.store)  # a second process sharing the store
    open_account(domain.router)
    domain.router.dispatch(DepositMoney("10001", 1))  # live in our registry at v2
    other.router.dispatch(DepositMoney("10001", 10))  # the other process moves to v3
    result = domain.router.dispatch(DepositMoney("10001", 100), include_state=True)
    assert result.attempts == 2
    assert (result.version, result.state["balance"]) == (4, 1111)


def test_too_many_conflicts_end_in_a_clear_error(domain) -> None:
    impatient = make_domain(domain.store)
    impatient.router.max_retries = 0
    open_account(impatient.router)
    domain.router.dispatch(DepositMoney("10001", 10))
    head = domain.store.head_position()
    with pytest.raises(ConcurrencyError) as caught:
        impatient.router.dispatch(DepositMoney("10001", 1))
    assert caught.value.code == "concurrency_conflict"
    assert domain.store.head_position() == head


def test_routing_tables_refuse_inconsistencies(domain) -> None:
    from webapp.demo.bank import BankAccount
    from webapp.demo.identity import User

    with pytest.raises(RoutingError):
        Router("x").route([DepositMoney], to=User, identity="user_id")
    with pytest.raises(RoutingError):
        Router("x").route([DepositMoney], to=BankAccount, identity="nope")
    twice = Router("twice").route([DepositMoney], to=BankAccount, identity="account_number")
    with pytest.raises(RoutingError, match="routed twice"):
        domain.router.include(twice)
    assert domain.router.aggregate_for_stream("account-1") is BankAccount
    assert domain.router.aggregate_for_stream("nothing-1") is None


def test_dispatching_the_same_command_id_twice_records_it_once(domain) -> None:
    open_account(domain.router)
    first = domain.router.dispatch(DepositMoney("10001", 5), metadata={"command_id": "cmd-42"})
    again = domain.router.dispatch(DepositMoney("10001", 5), metadata={"command_id": "cmd-42"})
    assert not first.duplicate and again.duplicate
    assert again.events[0].event_id == first.events[0].event_id
    assert domain.store.stream_info("account-10001").version == 2
    later = domain.router.dispatch(DepositMoney("10001", 1), include_state=True)
    assert (later.version, later.state["balance"]) == (3, 1006)


def test_a_command_sent_again_with_its_command_id_is_not_run_again_in_any_process(
    domain, store
) -> None:
    open_account(domain.router, balance=100)
    first = domain.router.dispatch(WithdrawMoney("10001", 100), metadata={"command_id": "form-1"})
    other_process = make_domain(store)  # a second worker over the same store
    try:
        again = other_process.router.dispatch(
            WithdrawMoney("10001", 100), metadata={"command_id": "form-1"}
        )
    finally:
        other_process.registry.stop()

    assert again.duplicate and not first.duplicate
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    assert again.events[0].data["amount"] == 100  # the first result, not a refusal for funds
    assert store.stream_info("account-10001").version == 2


def test_a_command_id_used_by_another_command_is_refused(domain) -> None:
    open_account(domain.router)
    open_account(domain.router, "10002")
    domain.router.dispatch(DepositMoney("10001", 5), metadata={"command_id": "key-1"})

    with pytest.raises(CommandValidationError, match="already used") as other_stream:
        domain.router.dispatch(DepositMoney("10002", 5), metadata={"command_id": "key-1"})
    with pytest.raises(CommandValidationError, match="already used") as other_type:
        domain.router.dispatch(WithdrawMoney("10001", 5), metadata={"command_id": "key-1"})

    assert other_stream.value.code == other_type.value.code == "command_id_reused"
    assert domain.store.stream_info("account-10002").version == 1
    assert domain.store.stream_info("account-10001").version == 2


def test_the_dashboard_conveniences(domain) -> None:
    open_account(domain.router)
    dry = domain.router.dry_run_json("DepositMoney", {"account_number": "10001", "amount": "7"})
    assert dry.to_dict()["events"][0]["data"] == {"account_number": "10001", "amount": 7}
    assert domain.router.is_routed(DepositMoney) and not domain.router.is_routed(int)
    assert "DepositMoney" in domain.router.command_names()
    assert domain.router.snapshot_health("account-10001") == []
    domain.registry.clear()
    domain.router.dispatch(DepositMoney("10001", 1))
    stats = domain.router.load_stats()
    assert stats["full_replay"] >= 1 and stats["loads"] >= 1
    assert {row["aggregate"] for row in domain.router.table()} == {"User", "BankAccount"}
    assert domain.registry.sample()[1] == 1
    assert domain.registry.history()[-1]["size"] == 1
