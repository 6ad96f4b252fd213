"""A payload search of the global log sees old events as stored and as read today."""

from __future__ import annotations

import pytest

from webapp.demo.bank import DepositMoney, OpenAccount
from webapp.domain import DEFAULT_UPCASTERS
from webapp.domain.log_search import LogSearch, payload_text
from webapp.store import NewEvent


def legacy_deposit(account_number: str, value: str) -> NewEvent:
    data = {"account_number": account_number, "value": value}
    return NewEvent("MoneyDeposited", data, schema_version=1)


@pytest.fixture
def deposits(domain):
    """Account 10001 with 5.00 deposited under schema 1 and 5.00 under schema 2, and account
    10002 with 2.50 under schema 1 between them."""
    domain.router.dispatch(OpenAccount("10001", "u1", 0))
    domain.router.dispatch(OpenAccount("10002", "u2", 0))
    domain.store.append("account-10001", [legacy_deposit("10001", "5.00")], 1)
    domain.store.append("account-10002", [legacy_deposit("10002", "2.50")], 1)
    domain.router.dispatch(DepositMoney("10001", 500))
    return domain


def search(domain, **filters) -> LogSearch:
    return LogSearch(domain.store, DEFAULT_UPCASTERS, **filters)


def found(slice_) -> list[tuple[str, int]]:
    return [(e.stream_id, e.schema_version) for e in slice_.events]


def test_a_field_an_upcaster_introduced_matches_old_events_too(deposits):
    amount_500 = search(deposits, data_equals=("amount", "500"))

    forward = amount_500.forward(0, 10)
    backward = amount_500.backward(None, 10)

    assert found(forward) == [("account-10001", 1), ("account-10001", 2)]
    assert found(backward) == [("account-10001", 2), ("account-10001", 1)]
    assert forward.exhausted and backward.exhausted
    assert amount_500.upcast_types == {"MoneyDeposited": 2}
    assert DEFAULT_UPCASTERS.lifted_types()["MoneyDeposited"] == 2


def test_the_old_field_name_still_finds_what_it_found_before(deposits):
    by_value = search(deposits, data_equals=("value", "2.50"))

    assert found(by_value.forward(0, 10)) == [("account-10002", 1)]


def test_a_field_both_schemas_share_is_matched_once_per_event(deposits):
    account = search(deposits, data_equals=("account_number", "10001"), types=["MoneyDeposited"])

    assert found(account.forward(0, 10)) == [("account-10001", 1), ("account-10001", 2)]


def test_other_filters_narrow_the_old_events_too(deposits):
    in_10002 = search(deposits, data_equals=("amount", "250"), stream_prefix="account-10001")

    assert found(in_10002.forward(0, 10)) == []


def test_without_an_upcast_type_in_play_the_store_answers_alone(deposits):
    opened = search(deposits, data_equals=("owner_id", "u2"), types=["BankAccountOpened"])
    unfiltered = search(deposits)

    assert opened.upcast_types == {}
    assert found(opened.forward(0, 10)) == [("account-10002", 1)]
    assert unfiltered.upcast_types == {}
    assert len(unfiltered.forward(0, 10).events) == 5


def test_a_page_fills_across_several_reads(deposits):
    more = [legacy_deposit("10002", "0.01") for _ in range(1200)]
    deposits.store.append("account-10002", more, 2)

    newest_first = search(deposits, data_equals=("amount", "500")).backward(None, 10)

    assert found(newest_first) == [("account-10001", 2), ("account-10001", 1)]
    assert newest_first.exhausted


def test_a_search_cut_short_says_where_it_stopped_and_goes_on_from_there(deposits):
    head = deposits.store.head_position()
    misses = [legacy_deposit("10002", "0.01") for _ in range(30)]
    deposits.store.append("account-10002", misses, 2)
    deposits.router.dispatch(DepositMoney("10001", 500))
    narrow = LogSearch(
        deposits.store, DEFAULT_UPCASTERS, scan_limit=10, data_equals=("amount", "500")
    )

    first = narrow.backward(None, 10)
    pages = [first]
    while not pages[-1].exhausted:
        pages.append(narrow.backward(pages[-1].scanned_to, 10))

    assert [e.position for e in first.events] == [head + 31]
    assert not first.exhausted and first.scanned_to is not None
    assert head < first.scanned_to < head + 31
    matches = [e for page in pages for e in page.events]
    assert [e.schema_version for e in matches] == [2, 2, 1]
    assert len(pages) >= 3


def test_payload_text_writes_values_as_each_stores_sql_does():
    assert payload_text(500, "sqlite") == payload_text(500, "postgresql") == "500"
    assert payload_text(1.5, "sqlite") == "1.5"
    assert payload_text("10023", "postgresql") == "10023"
    assert payload_text(True, "sqlite") == "1"
    assert payload_text(True, "postgresql") == "true"
    assert payload_text(None, "sqlite") is None
    assert payload_text({"a": 1}, "sqlite") == '{"a":1}'
    assert payload_text({"a": 1}, "postgresql") == '{"a": 1}'


def test_an_upcaster_that_fails_on_a_sealed_field_leaves_that_event_unmatched(domain):
    from webapp.domain import UpcasterChain

    def needs_plain_text(data):
        return {**data, "amount": round(float(data["value"]) * 100)}

    chain = UpcasterChain()
    chain.register("MoneyDeposited", 1, needs_plain_text)

    domain.router.dispatch(OpenAccount("10001", "u1", 0))
    sealed = {"account_number": "10001", "value": {"sealed": "AES-GCM envelope"}}
    plain = {"account_number": "10001", "value": "1.00"}
    domain.store.append(
        "account-10001",
        [
            NewEvent("MoneyDeposited", sealed, schema_version=1),
            NewEvent("MoneyDeposited", plain, schema_version=1),
        ],
        1,
    )

    found = LogSearch(domain.store, chain, data_equals=("amount", "100")).forward(0, 10)

    assert [e.stream_version for e in found.events] == [3]
    assert found.exhausted
