"""Commanded's EventStore behind the source port: what was written reads back, read-only.

Each store is made in the test's own PostgreSQL schema as `mix event_store.init` makes
it, and written as its append writes, in each of its three encodings.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.sources.commanded_store import CommandedStore
from tests.sources.etf_fixtures import FIXTURES
from webapp.sources import Capabilities, EventSource, Subscription
from webapp.sources.commanded import CommandedSource, ForeignStoreError

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
C1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
C2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
ENCODINGS = ["etf", "json", "jsonb"]


def _schema_of(url: str) -> str:
    return url.rsplit("%3D", 1)[1]


def _payload(encoding: str, name: str, amount: int) -> tuple[object, dict]:
    """(the cell to write, the dict the adapter should read) for one event."""
    if encoding == "etf":
        term = {
            "opened": "deposited_struct",
            "deposited": "event_with_nested",
            "note": "compressed",
        }[name]
        expected = {
            "deposited_struct": {
                "__struct__": "MyApp.Deposited",
                "account_id": "acc-1",
                "amount": 250,
                "note": None,
            },
            "event_with_nested": {
                "__struct__": "MyApp.Events.Deposited",
                "account_id": "account-1",
                "amount": "105.0",
                "at": "2024-05-01T12:00:00Z",
                "tags": ["a", "b"],
            },
            "compressed": {"__struct__": "MyApp.Note", "text": "z" * 200},
        }[term]
        return FIXTURES[term][1], expected
    data = {"kind": name, "amount": amount, "note": None}
    return data, data


def _metadata(encoding: str) -> tuple[object, dict]:
    if encoding == "etf":
        return FIXTURES["empty_metadata"][1], {}
    return {"user": "ann"}, {"user": "ann"}


@pytest.fixture(params=ENCODINGS)
def encoding(request) -> str:
    return request.param


@pytest.fixture
def engine(postgresql_url: str):
    made = sa.create_engine(postgresql_url)
    yield made
    made.dispose()


@pytest.fixture
def store(engine, postgresql_url: str, encoding: str) -> CommandedStore:
    """Four streams, a link stream, a soft-deleted stream, an overwritten snapshot and
    three subscriptions, in `encoding`."""
    column = "jsonb" if encoding == "jsonb" else "bytea"
    made = CommandedStore(engine, _schema_of(postgresql_url), column).init()
    meta, _ = _metadata(encoding)
    made.append(
        "account-1",
        [
            ("Elixir.MyApp.Opened", _payload(encoding, "opened", 1)[0], meta),
            ("Elixir.MyApp.Deposited", _payload(encoding, "deposited", 2)[0], None),
        ],
        at=T0,
        correlation_id=C1,
    )
    opened_2 = made.append(
        "account-2",
        [("Elixir.MyApp.Opened", _payload(encoding, "opened", 3)[0], meta)],
        at=T0 + timedelta(hours=1),
        correlation_id=C2,
        causation_id=made.written[0].event_id,
    )
    made.append(
        "account-1",
        [("Elixir.MyApp.Deposited", _payload(encoding, "deposited", 4)[0], meta)],
        at=T0 + timedelta(hours=2),
    )
    made.append(
        "transfer-9",
        [("TransferStarted", _payload(encoding, "note", 5)[0], meta)],
        at=T0 + timedelta(hours=3),
        correlation_id=C1,
    )
    made.link("audit", [made.written[0].event_id, opened_2[0].event_id], at=T0)
    made.soft_delete("account-2", at=T0 + timedelta(days=1))
    made.save_snapshot("account-1", 1, "Elixir.MyApp.Account", {"balance": 1}, at=T0)
    made.save_snapshot(
        "account-1", 3, "Elixir.MyApp.Account", {"balance": 3}, at=T0 + timedelta(hours=2)
    )
    made.subscribe("$all", "projector", 3)
    made.subscribe("$all", "fresh", None)
    made.subscribe("account-1", "watcher", 1)
    return made


@pytest.fixture
def source(store: CommandedStore, postgresql_url: str):
    opened = CommandedSource(postgresql_url, schema=store.schema)
    yield opened
    opened.close()


def test_it_is_a_read_only_event_source_of_what_the_store_can_answer(source) -> None:
    assert isinstance(source, EventSource)
    assert source.dialect == "postgresql"
    assert source.capabilities == Capabilities(
        has_correlation_ids=True,
        has_causation_ids=True,
        has_snapshots=True,
        cheap_type_filter=False,
        notifies_live=True,
        has_actor=False,
        writable=False,
        payload_search=True,
    )
    assert source.schema_version == (1, 3, 2)


def test_the_global_log_reads_back_what_was_written(source, store, encoding) -> None:
    events = source.read_all(0, limit=100)
    assert [e.position for e in events] == [1, 2, 3, 4, 5]
    for event, written in zip(events, store.written, strict=True):
        assert event.event_id == written.event_id
        assert event.stream_id == written.stream_uuid
        assert event.stream_version == written.stream_version
        assert event.type == written.event_type.removeprefix("Elixir.")
        assert event.metadata["event_type"] == written.event_type
        assert event.recorded_at == written.created_at
        assert event.correlation_id == (
            str(written.correlation_id) if written.correlation_id else None
        )
        assert event.schema_version == 1
    assert events[0].data == _payload(encoding, "opened", 1)[1]
    assert events[1].data == _payload(encoding, "deposited", 2)[1]
    assert events[4].data == _payload(encoding, "note", 5)[1]
    assert events[1].metadata == {"event_type": "Elixir.MyApp.Deposited", "correlation_id": str(C1)}
    meta = _metadata(encoding)[1]
    assert events[3].metadata == {**meta, "event_type": "Elixir.MyApp.Deposited"}
    assert events[2].causation_id == str(store.written[0].event_id)
    assert source.get_event(3) == events[2]
    assert source.get_event(99) is None
    assert source.get_event_by_id(store.written[4].event_id) == events[4]
    assert source.get_event_by_id(str(store.written[4].event_id)) == events[4]
    assert source.get_event_by_id("not-a-uuid") is None


def test_the_log_pages_both_ways(source) -> None:
    forward = []
    after = 0
    while page := source.read_all(after, limit=2):
        forward += [e.position for e in page]
        after = page[-1].position
    assert forward == [1, 2, 3, 4, 5]
    backward = []
    before = None
    while page := source.read_all_backward(before, limit=2):
        backward += [e.position for e in page]
        before = page[-1].position
    assert backward == [5, 4, 3, 2, 1]
    assert [e.position for e in source.read_all_backward(3, limit=10)] == [2, 1]
    assert source.head_position() == 5
    assert source.count_events() == 5


def test_a_stream_reads_with_its_linked_events_marked(source, store) -> None:
    account = source.read_stream("account-1")
    assert [(e.stream_version, e.position) for e in account] == [(1, 1), (2, 2), (3, 4)]
    assert all(e.stream_id == "account-1" and "linked_from" not in e.metadata for e in account)
    assert [e.stream_version for e in source.read_stream("account-1", 2, limit=1)] == [2]
    backward = source.read_stream("account-1", None, backward=True, limit=2)
    assert [e.stream_version for e in backward] == [3, 2]
    assert [e.stream_version for e in source.read_stream("account-1", 2, backward=True)] == [2, 1]
    audit = source.read_stream("audit")
    assert [(e.stream_id, e.stream_version, e.position) for e in audit] == [
        ("audit", 1, 1),
        ("audit", 2, 3),
    ]
    assert audit[0].metadata["linked_from"] == {"stream_id": "account-1", "stream_version": 1}
    assert audit[1].metadata["linked_from"] == {"stream_id": "account-2", "stream_version": 1}
    assert audit[1].event_id == store.written[2].event_id
    assert source.read_stream("$all") == []
    assert source.read_stream("nope") == []


def test_streams_list_with_soft_deleted_ones_and_say_which(source) -> None:
    listed = source.list_streams()
    assert [s.stream_id for s in listed] == ["account-1", "account-2", "audit", "transfer-9"]
    assert [s.version for s in listed] == [3, 1, 2, 1]
    assert [s.stream_id for s in source.list_streams("account-", after="account-1")] == [
        "account-2"
    ]
    assert [s.stream_id for s in source.list_streams(limit=2)] == ["account-1", "account-2"]
    assert source.count_streams() == 4
    assert source.deleted_streams(["account-1", "account-2", "nope"]) == {
        "account-2": T0 + timedelta(days=1)
    }
    info = source.stream_info("account-1")
    assert info is not None
    assert (info.version, info.created_at, info.updated_at) == (3, T0, T0 + timedelta(hours=2))
    assert source.stream_info("$all") is None
    assert source.stream_info("nope") is None


def test_streams_by_activity_are_ordered_by_their_last_events_time(source) -> None:
    newest = source.list_streams_by_activity()
    # audit's last event is account-2's first: the same time, ties go by id, descending
    assert [s.stream_id for s in newest] == ["transfer-9", "account-1", "audit", "account-2"]
    first = source.list_streams_by_activity(limit=2)
    last = first[-1]
    rest = source.list_streams_by_activity(before=(last.updated_at, last.stream_id), limit=10)
    assert [s.stream_id for s in rest] == ["audit", "account-2"]
    assert [s.stream_id for s in source.list_streams_by_activity(prefix="account-")] == [
        "account-1",
        "account-2",
    ]


@pytest.mark.parametrize(("budget", "walked"), [(1, 2), (2, 4), (100, 5)])
def test_streams_by_activity_are_the_grouped_pages_whatever_the_scan_budget(
    store, engine, postgresql_url, monkeypatch, budget, walked
) -> None:
    """`$all` is walked down at most `scan_budget` positions for the streams whose last
    event each position is; a walk short of a page groups every stream instead: the pages
    are the same, in the order of the last events' positions (ties by id, descending),
    empty streams last."""
    store.link("old-links", [store.written[0].event_id], at=T0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"INSERT INTO {store.s}.streams (stream_uuid, created_at) VALUES ('empty', :at)"
            ),
            {"at": T0 + timedelta(days=2)},
        )
        grouped = list(
            conn.execute(
                sa.text(
                    f"SELECT s.stream_uuid FROM {store.s}.streams s"
                    f" LEFT JOIN {store.s}.stream_events l"
                    " ON l.stream_id = s.stream_id AND l.stream_version = s.stream_version"
                    f" LEFT JOIN {store.s}.stream_events a"
                    " ON a.event_id = l.event_id AND a.stream_id = 0 WHERE s.stream_id <> 0"
                    ' ORDER BY COALESCE(a.stream_version, 0) DESC, s.stream_uuid COLLATE "C" DESC'
                )
            ).scalars()
        )
    # audit links account-2's last event, old-links account-1's first; account-2 is deleted
    assert grouped == ["transfer-9", "account-1", "audit", "account-2", "old-links", "empty"]
    walks: list[bool] = []
    walk = CommandedSource._last_events_walk

    def counted(self, *args):
        found = walk(self, *args)
        walks.append(found is not None)
        return found

    monkeypatch.setattr(CommandedSource, "_last_events_walk", counted)
    with CommandedSource(postgresql_url, schema=store.schema, scan_budget=budget) as source:
        infos = {s.stream_id: s for s in source.list_streams()}
        assert source.list_streams_by_activity() == [infos[s] for s in grouped]
        for limit in (1, 2, 4):
            walks.clear()
            paged, cursor = [], None
            while page := source.list_streams_by_activity(before=cursor, limit=limit):
                paged += page
                cursor = (page[-1].updated_at, page[-1].stream_id)
            assert [s.stream_id for s in paged] == grouped
            if limit == 1:
                assert walks.count(True) == walked, "the walk serves what its budget reaches"
        assert [s.stream_id for s in source.list_streams_by_activity(prefix="a")] == [
            "account-1",
            "audit",
            "account-2",
        ]
        assert source.list_streams_by_activity(prefix="zz") == []
        assert source.list_streams_by_activity(limit=0) == []


def test_streams_by_activity_follow_the_log_where_times_do_not_rise(source, store) -> None:
    """A writer's clock behind the last append's: the stream appended last lists first."""
    store.append("late-clock", [("Elixir.MyApp.Opened", {"n": 1}, None)], at=T0)
    newest = source.list_streams_by_activity(limit=2)
    assert [(s.stream_id, s.updated_at) for s in newest] == [
        ("late-clock", T0),
        ("transfer-9", T0 + timedelta(hours=3)),
    ]
    rest = source.list_streams_by_activity(before=(T0, "late-clock"), limit=1)
    assert [s.stream_id for s in rest] == ["transfer-9"]
    # a cursor naming no stream compares (time, id) as it did
    gone = source.list_streams_by_activity(before=(T0 + timedelta(hours=2), "gone"), limit=10)
    assert [s.stream_id for s in gone] == ["account-1", "audit", "account-2", "late-clock"]


def test_the_log_filters_it_can_serve(source, encoding) -> None:
    def positions(**filters) -> list[int]:
        return [e.position for e in source.read_all(0, limit=10, **filters)]

    assert positions(types=["MyApp.Opened"]) == [1, 3]
    assert positions(types="Elixir.MyApp.Deposited") == [2, 4]
    assert positions(types=["TransferStarted"]) == [5]
    assert positions(types=[]) == []
    assert positions(stream_prefix="account-") == [1, 2, 3, 4]
    assert positions(correlation_id=str(C1)) == [1, 2, 5]
    assert positions(correlation_id="not-a-uuid") == []
    assert positions(correlation_prefix=str(C1)[:8]) == [1, 2, 5]  # the short id pages show
    assert positions(correlation_prefix=str(C2)[:13].upper()) == [3]
    assert positions(correlation_prefix="not-a-uuid") == []
    with pytest.raises(ValueError, match="at least 8"):
        source.read_all(0, limit=10, correlation_prefix="1111")
    assert positions(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)) == [3, 4]
    assert positions(since=datetime(2024, 5, 1, 14, 0)) == [4, 5]  # naive is UTC
    backward = source.read_all_backward(None, limit=10, types=["MyApp.Opened"])
    assert [e.position for e in backward] == [3, 1]
    assert [e.position for e in source.read_correlated(str(C1), limit=10)] == [1, 2, 5]
    assert source.read_correlated("nope", limit=10) == []
    with pytest.raises(ValueError, match="actor"):
        source.read_all(0, limit=10, actor="ann")
    with pytest.raises(TypeError):
        source.read_all(0, limit=10, colour="red")
    if encoding == "jsonb":
        assert positions(data_equals=("amount", "4")) == [4]
        assert positions(data_equals=("kind", "opened")) == [1, 3]
        older = positions(data_equals=("amount", "4"), older_schemas={"MyApp.Opened": 2})
        assert older == [1, 3, 4]
    else:
        with pytest.raises(ValueError, match="jsonb"):
            source.read_all(0, limit=10, data_equals=("amount", "4"))


def test_counts_by_type_take_shown_and_full_names(source) -> None:
    assert source.count_by_type(["MyApp.Opened", "Elixir.MyApp.Deposited", "Nope"]) == {
        "MyApp.Opened": 2,
        "Elixir.MyApp.Deposited": 2,
        "Nope": 0,
    }


def test_filtered_reads_scan_within_the_budget_and_say_where_to_go_on(
    store, postgresql_url
) -> None:
    with CommandedSource(postgresql_url, schema=store.schema, scan_budget=2) as source:
        page = source.read_all_page(0, limit=10, types=["TransferStarted"])
        assert (page.events, page.exhausted, page.resume_after) == ([], False, 2)
        found = []
        after = 0
        while True:
            page = source.read_all_page(after, limit=10, types=["TransferStarted"])
            found += [e.position for e in page.events]
            if page.exhausted:
                break
            after = page.resume_after
        assert found == [5]
        page = source.read_all_backward_page(None, limit=10, types=["MyApp.Opened"])
        assert ([e.position for e in page.events], page.exhausted) == ([], False)
        assert page.resume_before == 4
        page = source.read_all_backward_page(4, limit=10, types=["MyApp.Opened"])
        assert [e.position for e in page.events] == [3]
        page = source.read_all_backward_page(page.resume_before, limit=10, types=["MyApp.Opened"])
        assert ([e.position for e in page.events], page.exhausted) == ([1], True)
        unfiltered = source.read_all_page(0, limit=10)
        assert len(unfiltered.events) == 5 and unfiltered.exhausted


def test_snapshots_one_per_source_at_or_below_a_version(source) -> None:
    snapshot = source.read_snapshot("account-1")
    assert snapshot is not None
    assert (snapshot.version, snapshot.type, snapshot.data) == (3, "MyApp.Account", {"balance": 3})
    assert snapshot.taken_at == T0 + timedelta(hours=2)
    assert source.read_snapshot("account-1", max_version=3) == snapshot
    assert source.read_snapshot("account-1", max_version=2) is None
    assert source.list_snapshots("account-1") == [snapshot]
    assert source.list_snapshots("account-2") == []
    assert source.read_latest_snapshots(["account-1", "account-2"]) == {"account-1": snapshot}


def test_subscriptions_and_their_lag(source) -> None:
    assert source.subscriptions() == [
        Subscription("fresh", 0, 5),
        Subscription("projector", 3, 2),
        Subscription("watcher @ account-1", 1, 2, "account-1"),
    ]


def test_nothing_can_be_written_through_its_connections(source, store) -> None:
    before = store.counts()
    with pytest.raises(sa.exc.InternalError, match="read-only"), source.read_transaction() as conn:
        conn.execute(
            sa.text(
                f'INSERT INTO "{store.schema}".subscriptions (stream_uuid, subscription_name)'
                " VALUES ('$all', 'sneaky')"
            )
        )
    source.read_all(0, limit=100)
    source.subscriptions()
    assert store.counts() == before


@pytest.mark.parametrize("encoding", ["etf", "json"])
def test_a_corrupt_payload_is_shown_marked_while_the_rest_reads(store, source) -> None:
    store.append(
        "broken-1",
        [
            ("Elixir.MyApp.Broken", b"\x83t\x00\x00\x00\x09", b"\x00\x01"),
            ("Elixir.MyApp.Broken", b"{not json", None),
            ("Elixir.MyApp.Broken", b"\x00\xff", None),
        ],
        at=T0 + timedelta(hours=5),
    )
    events = source.read_all(0, limit=100)
    assert [e.position for e in events] == [1, 2, 3, 4, 5, 6, 7, 8]
    broken = events[5:]
    assert "undecodable Erlang term" in broken[0].data["undecodable"]
    assert broken[0].data["hex"] == "837400000009"
    assert broken[0].metadata["undecodable"] == "neither an Erlang term nor JSON"
    assert broken[1].data["undecodable"].startswith("bad JSON")
    assert broken[2].data == {"undecodable": "neither an Erlang term nor JSON", "hex": "00ff"}
    assert events[0].data  # the others read as before


@pytest.mark.parametrize("encoding", ["jsonb"])
def test_waiting_wakes_on_the_stores_notification(store, source) -> None:
    assert source.wait_for_events(5, 0.05) == 5
    assert source.wait_for_events(4, 5) == 5
    started = time.monotonic()
    assert source.wait_for_events(5, 0.3) == 5  # nothing came: the timeout ends it
    assert time.monotonic() - started >= 0.25
    assert source._poll(5, time.monotonic() + 0.1) == 5  # the fallback without LISTEN

    def append_later() -> None:
        time.sleep(0.3)
        store.append("late", [("Late", {"n": 1}, None)], at=T0)

    writer = threading.Thread(target=append_later)
    started = time.monotonic()
    writer.start()
    try:
        assert source.wait_for_events(5, 10) == 6
    finally:
        writer.join()
    assert time.monotonic() - started < 5


def test_a_database_that_is_not_such_a_store_is_refused(engine, postgresql_url) -> None:
    schema = _schema_of(postgresql_url)
    with pytest.raises(ForeignStoreError, match="no table streams"):
        CommandedSource(postgresql_url, schema=schema)
    CommandedStore(engine, schema, "bytea").init()
    with engine.begin() as conn:
        conn.exec_driver_sql(f'INSERT INTO "{schema}".schema_migrations VALUES (0, 13, 0)')
        conn.exec_driver_sql(f'INSERT INTO "{schema}".schema_migrations VALUES (2, 0, 0)')
    with pytest.raises(ForeignStoreError, match="schema version 2.0.0") as caught:
        CommandedSource(engine, schema=schema)
    assert "\n" not in str(caught.value)
    with pytest.raises(ForeignStoreError, match="PostgreSQL"):
        CommandedSource("sqlite:///:memory:")
