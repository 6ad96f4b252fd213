"""eventscope's own store behind the source port: every read is the store's, on both backends."""

from __future__ import annotations

import pytest

from webapp.bootstrap import open_migrated_store
from webapp.sources import Capabilities, EventscopeSource, EventSource, Subscription
from webapp.store import NewEvent, Snapshot


@pytest.fixture
def store(db_url: str):
    opened = open_migrated_store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def source(store) -> EventscopeSource:
    store.append(
        "account-1",
        [
            NewEvent("AccountOpened", {"n": 1}, {"correlation_id": "c-1", "actor": "ann"}),
            NewEvent("MoneyDeposited", {"amount": 5}, {"correlation_id": "c-1", "actor": "ann"}),
        ],
    )
    store.append("account-2", [NewEvent("AccountOpened", {"n": 2}, {"actor": "bob"})])
    store.save_snapshot(Snapshot("account-1", 1, 1, "Account", {"balance": 0}))
    return EventscopeSource(store, subscriptions=lambda: [Subscription("users", 2, 1)])


def test_it_is_an_event_source_with_what_eventscope_can_answer(source, backend) -> None:
    assert isinstance(source, EventSource)
    assert source.capabilities == Capabilities(
        has_correlation_ids=True,
        has_causation_ids=True,
        has_snapshots=True,
        cheap_type_filter=True,
        notifies_live=backend == "postgresql",
        has_actor=True,
        writable=True,
        payload_search=True,
        has_business_time=True,
    )
    assert source.dialect == backend


def test_streams_and_events_read_as_the_store_reads_them(source, store) -> None:
    assert source.list_streams("account-") == store.list_streams("account-")
    assert source.list_streams_by_activity(limit=1) == store.list_streams_by_activity(limit=1)
    assert source.stream_info("account-1") == store.stream_info("account-1")
    assert source.read_stream("account-1", 2, limit=1) == store.read_stream("account-1", 2, limit=1)
    assert source.read_stream("account-1", None, backward=True)[0].stream_version == 2
    assert source.get_event(3) == store.get_event(3)
    event = store.get_event(1)
    assert source.get_event_by_id(event.event_id) == event


def test_the_global_log_takes_the_stores_filters(source) -> None:
    assert [e.position for e in source.read_all(0, limit=10, actor="ann")] == [1, 2]
    backward = source.read_all_backward(None, limit=10, types="AccountOpened")
    assert [e.position for e in backward] == [3, 1]
    assert [e.position for e in source.read_correlated("c-1", limit=10)] == [1, 2]
    assert [e.position for e in source.read_correlated("c-1", limit=1)] == [1]


def test_counts_head_and_waiting(source) -> None:
    assert source.head_position() == 3
    assert source.count_events() == 3
    assert source.count_streams() == 2
    assert source.count_by_type(["AccountOpened", "MoneyDeposited", "Nothing"]) == {
        "AccountOpened": 2,
        "MoneyDeposited": 1,
        "Nothing": 0,
    }
    assert source.wait_for_events(2, timeout=0.01) == 3


def test_snapshots_and_subscriptions(source) -> None:
    assert source.read_snapshot("account-1").version == 1
    assert source.read_snapshot("account-1", max_version=0) is None
    assert [s.version for s in source.list_snapshots("account-1")] == [1]
    assert set(source.read_latest_snapshots(["account-1", "account-2"])) == {"account-1"}
    assert source.subscriptions() == [Subscription("users", 2, 1)]


def test_without_a_subscriptions_reader_it_has_none(store) -> None:
    assert EventscopeSource(store).subscriptions() == []
