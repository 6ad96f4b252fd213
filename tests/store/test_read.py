"""Reading: streams forward and backward, the global log with filters, stream listings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from webapp.store import (
    EventReader,
    EventStore,
    NewEvent,
    PostgresEventStore,
    SQLiteEventStore,
    StoreError,
)


def test_the_store_is_an_event_reader(store: EventStore) -> None:
    assert isinstance(store, EventReader)
    assert store.dialect in {"sqlite", "postgresql"}


def test_each_backend_has_its_own_store_class(store: EventStore) -> None:
    backends = {"sqlite": SQLiteEventStore, "postgresql": PostgresEventStore}
    assert type(store) is backends[store.dialect]
    other = PostgresEventStore if store.dialect == "sqlite" else SQLiteEventStore
    with pytest.raises(StoreError, match=f"serves {other.dialect}"):
        other(store.engine)


@pytest.fixture
def five(store: EventStore) -> EventStore:
    store.append("s", [NewEvent(f"E{i}", {"i": i}) for i in range(1, 6)])
    return store


def test_read_stream_forward_from_a_version_with_a_limit(five: EventStore) -> None:
    assert [e.stream_version for e in five.read_stream("s")] == [1, 2, 3, 4, 5]
    assert [e.stream_version for e in five.read_stream("s", 3)] == [3, 4, 5]
    assert [e.stream_version for e in five.read_stream("s", 2, limit=2)] == [2, 3]
    assert five.read_stream("s", 6) == []
    assert five.read_stream("s", limit=0) == []
    assert five.read_stream("missing") == []


def test_read_stream_backward(five: EventStore) -> None:
    assert [e.stream_version for e in five.read_stream("s", None, backward=True)] == [5, 4, 3, 2, 1]
    assert [e.stream_version for e in five.read_stream("s", 3, backward=True)] == [3, 2, 1]
    assert [e.stream_version for e in five.read_stream("s", None, backward=True, limit=2)] == [5, 4]


def test_read_all_pages_by_position(store: EventStore) -> None:
    for n in range(7):
        store.append(f"s-{n % 3}", [NewEvent("E", {"n": n})])
    every = store.read_all()
    pages, after = [], 0
    while page := store.read_all(after, limit=3):
        pages.append(page)
        after = page[-1].position

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [e for p in pages for e in p] == every
    assert [e.data["n"] for e in every] == list(range(7))
    assert store.head_position() == every[-1].position
    assert store.count_events() == 7
    assert store.count_streams() == 3


def test_read_all_backward_pages_from_the_head(store: EventStore) -> None:
    for n in range(5):
        store.append("s", [NewEvent("E", {"n": n})])
    first = store.read_all_backward(limit=2)
    second = store.read_all_backward(first[-1].position, limit=2)

    assert [e.data["n"] for e in first] == [4, 3]
    assert [e.data["n"] for e in second] == [2, 1]
    assert store.read_all_backward(store.read_all()[0].position) == []


@pytest.fixture
def mixed(store: EventStore) -> EventStore:
    rows = [
        ("user-1", "UserRegistered", {"correlation_id": "c1", "actor": "ann"}),
        ("account-1", "BankAccountOpened", {"correlation_id": "c1"}),
        ("account-1", "MoneyDeposited", {"correlation_id": "c2", "actor": "bob"}),
        ("account-10", "BankAccountOpened", {"actor": "ann"}),
        ("accounts", "MoneyDeposited", {}),
    ]
    for stream_id, event_type, metadata in rows:
        store.append(stream_id, [NewEvent(event_type, {}, metadata)])
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"types": ["BankAccountOpened"]}, ["account-1", "account-10"]),
        ({"types": "MoneyDeposited"}, ["account-1", "accounts"]),
        ({"types": ["UserRegistered", "MoneyDeposited"]}, ["user-1", "account-1", "accounts"]),
        ({"types": []}, []),
        ({"stream_prefix": "account-"}, ["account-1", "account-1", "account-10"]),
        ({"stream_prefix": "account-1"}, ["account-1", "account-1", "account-10"]),
        ({"stream_prefix": "user"}, ["user-1"]),
        ({"stream_prefix": "zzz"}, []),
        ({"correlation_id": "c1"}, ["user-1", "account-1"]),
        ({"actor": "ann"}, ["user-1", "account-10"]),
        ({"actor": "ann", "types": ["BankAccountOpened"]}, ["account-10"]),
        ({"correlation_id": "c2", "stream_prefix": "account"}, ["account-1"]),
    ],
)
def test_read_all_filters(mixed: EventStore, filters: dict, expected: list[str]) -> None:
    assert [e.stream_id for e in mixed.read_all(**filters)] == expected
    backward = mixed.read_all_backward(**filters)
    assert [e.stream_id for e in backward] == list(reversed(expected))


@pytest.mark.parametrize("method", ["read_all", "read_all_backward"])
def test_a_filter_the_log_does_not_have_is_refused(mixed: EventStore, method: str) -> None:
    with pytest.raises(TypeError, match=f"{method}\\(\\) got an unexpected keyword argument 'typ'"):
        getattr(mixed, method)(typ="MoneyDeposited")


@pytest.fixture
def payloads(store: EventStore) -> EventStore:
    rows = [
        ("account-1", "BankAccountOpened", {"account_number": "10023", "owner_id": "u-1"}),
        ("transfer-1", "TransferRequested", {"from_account": "10023", "to_account": "10004"}),
        ("account-2", "BankAccountOpened", {"account_number": 10023, "amount": 1.5}),
        ("account-3", "MoneyDeposited", {"account_number": "100230", "note": 'x"y'}),
        ("account-4", "MoneyDeposited", {"nested": {"account_number": "10023"}}),
        ("user-1", "UserRegistered", {"email": {"$pii": {"c": "10023"}}, "name": "Ann"}),
    ]
    for stream_id, event_type, data in rows:
        store.append(stream_id, [NewEvent(event_type, data)])
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"data_equals": ("account_number", "10023")}, ["account-1", "account-2"]),
        ({"data_equals": ("from_account", "10023")}, ["transfer-1"]),
        ({"data_equals": ("amount", "1.5")}, ["account-2"]),
        ({"data_equals": ("note", 'x"y')}, ["account-3"]),
        ({"data_equals": ("account_number", "1002")}, []),
        ({"data_equals": ("email", "10023")}, []),  # an envelope is never a plain value
        ({"data_equals": ("name", "Ann"), "types": ["UserRegistered"]}, ["user-1"]),
        ({"data_equals": ("account_number", "10023"), "stream_prefix": "account-2"}, ["account-2"]),
    ],
)
def test_read_all_filters_by_a_payload_field(
    payloads: EventStore, filters: dict, expected: list[str]
) -> None:
    assert [e.stream_id for e in payloads.read_all(**filters)] == expected
    backward = payloads.read_all_backward(**filters)
    assert [e.stream_id for e in backward] == list(reversed(expected))


@pytest.mark.parametrize("name", ["", "a.b", 'a"b', "a b", "$", "x" * 65, "1st", None])
def test_a_payload_filter_names_one_top_level_field(store: EventStore, name) -> None:
    with pytest.raises(ValueError, match="data field name"):
        store.read_all(data_equals=(name, "1"))


def test_read_all_time_range(store: EventStore) -> None:
    store.append("s", [NewEvent("Early", {})])
    time.sleep(0.02)
    middle = datetime.now(UTC)
    time.sleep(0.02)
    store.append("s", [NewEvent("Late", {})])
    local_middle = middle.astimezone(timezone_plus_two())

    assert [e.type for e in store.read_all(since=middle)] == ["Late"]
    assert [e.type for e in store.read_all(until=middle)] == ["Early"]
    assert [e.type for e in store.read_all(since=local_middle)] == ["Late"]
    assert store.read_all(since=middle + timedelta(hours=1)) == []
    assert [e.type for e in store.read_all_backward(until=middle)] == ["Early"]


def timezone_plus_two():
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_list_streams_is_keyset_paged_by_id_within_a_prefix(store: EventStore) -> None:
    for name in ["b-2", "a-1", "b-1", "b-10", "c-1", "b-3"]:
        store.append(name, [NewEvent("E", {})])

    first = store.list_streams("b-", limit=2)
    second = store.list_streams("b-", after=first[-1].stream_id, limit=2)
    third = store.list_streams("b-", after=second[-1].stream_id, limit=2)

    assert [s.stream_id for s in first] == ["b-1", "b-10"]
    assert [s.stream_id for s in second] == ["b-2", "b-3"]
    assert third == []
    everything = ["a-1", "b-1", "b-10", "b-2", "b-3", "c-1"]
    assert [s.stream_id for s in store.list_streams()] == everything
    assert [s.stream_id for s in store.list_streams(after="b-3")] == ["c-1"]


def test_list_streams_by_activity_newest_first(store: EventStore) -> None:
    for name in ["x-1", "x-2", "x-3", "y-1"]:
        store.append(name, [NewEvent("E", {})])
        time.sleep(0.002)
    store.append("x-1", [NewEvent("E", {})])  # x-1 is now the most recently updated

    first = store.list_streams_by_activity(prefix="x-", limit=2)
    last = first[-1]
    second = store.list_streams_by_activity(
        prefix="x-", before=(last.updated_at, last.stream_id), limit=2
    )

    assert [s.stream_id for s in first] == ["x-1", "x-3"]
    assert [s.stream_id for s in second] == ["x-2"]
    assert [s.stream_id for s in store.list_streams_by_activity()][:2] == ["x-1", "y-1"]


def test_streams_with_the_same_update_time_page_without_loss(store: EventStore) -> None:
    for n in range(5):
        store.append(f"s-{n}", [NewEvent("E", {})])
    seen, cursor = [], None
    while page := store.list_streams_by_activity(before=cursor, limit=2):
        seen += [s.stream_id for s in page]
        cursor = (page[-1].updated_at, page[-1].stream_id)
    assert sorted(seen) == [f"s-{n}" for n in range(5)]
    assert len(seen) == 5


def test_stream_info_tracks_version_and_times(store: EventStore) -> None:
    assert store.stream_info("s") is None
    store.append("s", [NewEvent("A", {})])
    created = store.stream_info("s")
    time.sleep(0.002)
    store.append("s", [NewEvent("B", {}), NewEvent("C", {})])
    info = store.stream_info("s")

    assert info.version == 3
    assert info.created_at == created.created_at
    assert info.updated_at > created.updated_at
    assert info.updated_at.utcoffset() == timedelta(0)


def test_an_empty_store(store: EventStore) -> None:
    assert store.head_position() == 0
    assert store.count_events() == 0
    assert store.read_all() == []
    assert store.read_all_backward() == []
    assert store.list_streams() == []
