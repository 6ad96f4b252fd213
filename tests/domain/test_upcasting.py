"""Old schema versions are lifted on read; the stored events stay as they were written."""

from __future__ import annotations

from webapp.demo.bank import DepositMoney, OpenAccount, deposit_value_to_cents
from webapp.domain import DEFAULT_UPCASTERS, UpcasterChain
from webapp.store import NewEvent


def legacy_deposit(value: str) -> NewEvent:
    return NewEvent("MoneyDeposited", {"account_number": "10001", "value": value}, schema_version=1)


def test_the_v1_deposit_upcaster_turns_decimal_strings_into_cents() -> None:
    assert deposit_value_to_cents({"account_number": "1", "value": "12.34"}) == {
        "account_number": "1",
        "amount": 1234,
    }
    assert deposit_value_to_cents({"account_number": "1", "value": "5"})["amount"] == 500
    assert deposit_value_to_cents({"account_number": "1", "value": None})["amount"] == 0


def test_old_events_fold_in_their_upcast_form_and_are_never_rewritten(domain) -> None:
    domain.router.dispatch(OpenAccount("10001", "u1", 100))
    domain.store.append("account-10001", [legacy_deposit("12.34"), legacy_deposit("0.66")], 1)
    domain.registry.clear()
    result = domain.router.dispatch(DepositMoney("10001", 1000), include_state=True)
    assert result.state["balance"] == 100 + 1234 + 66 + 1000
    stored = domain.store.read_stream("account-10001")
    assert [(e.schema_version, e.data.get("value")) for e in stored[1:3]] == [
        (1, "12.34"),
        (1, "0.66"),
    ]
    assert stored[3].schema_version == 2 and stored[3].data["amount"] == 1000


def test_both_forms_stay_reachable(domain) -> None:
    domain.router.dispatch(OpenAccount("10001", "u1", 100))
    domain.store.append("account-10001", [legacy_deposit("1.50")], 1)
    [raw] = domain.store.read_stream("account-10001", 2)
    original, current = domain.repository.decode_with_original(raw)
    assert (original.schema_version, original.data["value"]) == (1, "1.50")
    assert (current.schema_version, current.data["amount"]) == (2, 150)
    assert "value" not in current.data
    assert domain.repository.read_events("account-10001")[1].data["amount"] == 150
    steps = domain.router.timeline("account-10001")
    assert [s.upcast for s in steps] == [False, True]


def test_chains_run_version_by_version_and_stop_where_no_path_exists() -> None:
    from dataclasses import dataclass

    from webapp.domain import event
    from webapp.store import RecordedEvent

    @event("TestChained", version=3)
    @dataclass(frozen=True)
    class Chained:
        n: int

    chain = UpcasterChain()
    chain.register("TestChained", 1, lambda d: {"n": int(d["text"])})
    chain.register("TestChained", 2, lambda d: {"n": d["n"] * 10})
    import datetime
    import uuid

    def recorded(version: int, data: dict) -> RecordedEvent:
        return RecordedEvent(
            1,
            "s",
            1,
            uuid.uuid4(),
            "TestChained",
            version,
            data,
            {},
            datetime.datetime.now(datetime.UTC),
        )

    assert chain.upcast(recorded(1, {"text": "4"})).data == {"n": 40}
    assert chain.upcast(recorded(2, {"n": 4})).schema_version == 3
    assert chain.upcast(recorded(3, {"n": 4})).data == {"n": 4}
    assert [u.from_version for u in chain.for_type("TestChained")] == [1, 2]
    assert DEFAULT_UPCASTERS.for_type("MoneyDeposited")[0].name == "deposit_value_to_cents"
