"""Stores the `eventsourcing` library wrote to PostgreSQL, read back through the source port.

Each store is written by the real library (its `eventsourcing.postgres` persistence) into
the test's own schema, which is dropped after the test.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from eventsourcing.cryptography import AESCipher
from eventsourcing.system import ProcessApplication

from tests.sources.eventsourcing_stores import (
    OPENED_ON,
    VARIANTS,
    Account,
    Bank,
    Written,
    postgres_environment,
    write_postgres_store,
)
from webapp.sources import Capabilities, EventSource, Subscription
from webapp.sources.errors import ForeignStoreError as AnySourcesError
from webapp.sources.eventsourcing import EventsourcingPostgresSource, ForeignStoreError
from webapp.sources.eventsourcing.pg_streams import PgStreams
from webapp.sources.eventsourcing.rows import EPOCH

PREFIX = "tests.sources.eventsourcing_stores:"


class Branch(ProcessApplication):
    """A second application sharing the database (its tables are `branch_*`)."""


def schema_of(url: str) -> str:
    return url.rsplit("%3D", 1)[1]


def open_source(written: Written, url: str, **options) -> EventsourcingPostgresSource:
    options.setdefault("cipher_key", written.cipher_key)
    options.setdefault("compressor", "zlib" if "zlib" in written.variant else None)
    return EventsourcingPostgresSource(url, **options)


@pytest.fixture
def admin(postgresql_url: str):
    """A writing engine on the test's schema, to change what the library wrote."""
    made = sa.create_engine(postgresql_url)
    yield made
    made.dispose()


@pytest.fixture(params=VARIANTS)
def written(request, postgresql_url: str) -> Written:
    return write_postgres_store(postgresql_url, schema_of(postgresql_url), request.param)


@pytest.fixture
def plain(postgresql_url: str) -> Written:
    return write_postgres_store(postgresql_url, schema_of(postgresql_url), "plain")


@pytest.fixture
def source(written: Written, postgresql_url: str):
    opened = open_source(written, postgresql_url)
    yield opened
    opened.close()


@pytest.fixture
def plain_source(plain: Written, postgresql_url: str):
    opened = open_source(plain, postgresql_url)
    yield opened
    opened.close()


def test_it_is_a_read_only_source_without_correlations_or_actors(source) -> None:
    assert isinstance(source, EventSource)
    assert source.dialect == "postgresql"
    assert source.capabilities == Capabilities(
        has_correlation_ids=False,
        has_causation_ids=False,
        has_snapshots=True,
        cheap_type_filter=False,
        notifies_live=False,
        has_actor=False,
        writable=False,
    )
    assert (source.tables.app, source.tables.events) == ("bank", "bank_events")
    assert (source.tables.snapshots, source.tables.tracking) == ("bank_snapshots", "bank_tracking")
    assert source.tables.id_type == "uuid"


def test_the_log_is_the_librarys_notification_log(source, written) -> None:
    events = source.read_all(0, limit=100)
    assert [
        (e.position, e.stream_id, e.stream_version, e.metadata["topic"]) for e in events
    ] == written.notifications
    assert [e.position for e in events] == list(range(1, 8))
    assert [e.type for e in events] == [
        "Opened",
        "Deposited",
        "Opened",
        "Deposited",
        "Requested",
        "Deposited",
        "Completed",
    ]
    first, second = written.transfer_ids
    assert second == first + 1, "one save, consecutive notification ids"
    assert (events[first - 1].stream_id, events[second - 1].stream_id) == (
        written.bob.hex,
        written.transfer.hex,
    )
    assert source.head_position() == 7
    assert source.count_events() == 7
    assert source.count_streams() == 3
    assert len({e.event_id for e in events}) == 7
    assert not any(e.metadata.get("time_unknown") for e in events)


def test_payloads_decode_to_the_values_written(source, written) -> None:
    opened, deposit, usd = source.read_stream(written.ann.hex)
    assert opened.data == {
        "owner": "ann",
        "ref": str(written.ann_ref),
        "opened_on": OPENED_ON.isoformat(),
    }
    assert opened.metadata["originator_topic"] == PREFIX + "Account"
    assert opened.schema_version == 1
    assert deposit.data == {"amount": "10.50", "currency": "EUR"}
    assert deposit.schema_version == 2
    assert usd.data == {"amount": "0.25", "currency": "USD"}
    requested = source.read_stream(written.transfer.hex)[0]
    assert requested.data == {
        "source": str(written.ann),
        "target": str(written.bob),
        "amount": "5.00",
    }
    assert opened.recorded_at <= deposit.recorded_at <= usd.recorded_at
    assert opened.recorded_at.tzinfo is not None


def test_the_same_events_read_as_from_the_sqlite_twin(plain_source, plain, tmp_path) -> None:
    """Stream ids, event ids and types are those the SQLite source gives the same events."""
    from tests.sources.eventsourcing_stores import write_store
    from webapp.sources.eventsourcing import EventsourcingSQLiteSource

    twin = write_store(tmp_path / "bank.db", "plain")
    sqlite = EventsourcingSQLiteSource(twin.path)
    try:
        shape = [(e.position, e.stream_version, e.type) for e in sqlite.read_all(0)]
        assert [(e.position, e.stream_version, e.type) for e in plain_source.read_all(0)] == shape
        ann = plain_source.read_stream(plain.ann.hex)[0]
        assert len(ann.stream_id) == 32 and "-" not in ann.stream_id
        same = sqlite.read_stream(twin.ann.hex)[0]
        assert ann.event_id == uuid.uuid5(
            uuid.UUID("6b1f8a52-3c0e-5d6f-9a41-7e2b0c9d4f13"), f"{plain.ann.hex}/1"
        )
        assert same.event_id == uuid.uuid5(
            uuid.UUID("6b1f8a52-3c0e-5d6f-9a41-7e2b0c9d4f13"), f"{twin.ann.hex}/1"
        )
    finally:
        sqlite.close()


def test_streams_page_by_id_and_by_activity(source, written) -> None:
    ids = sorted([written.ann.hex, written.bob.hex, written.transfer.hex])
    first = source.list_streams(limit=2)
    rest = source.list_streams(after=first[-1].stream_id, limit=2)
    assert [s.stream_id for s in first + rest] == ids
    assert source.list_streams(ids[1][:6]) == [source.stream_info(ids[1])]
    assert source.list_streams("not-hex") == []
    assert source.list_streams(after="~") == []
    assert [s.stream_id for s in source.list_streams(after="")] == ids
    by_activity = source.list_streams_by_activity(limit=1)
    cursor = (by_activity[-1].updated_at, by_activity[-1].stream_id)
    by_activity += source.list_streams_by_activity(before=cursor, limit=5)
    assert [s.stream_id for s in by_activity] == [
        written.transfer.hex,
        written.bob.hex,
        written.ann.hex,
    ]
    updated = [s.updated_at for s in by_activity]
    assert updated == sorted(updated, reverse=True)
    ann = source.stream_info(written.ann.hex)
    assert ann.version == 3
    events = source.read_stream(written.ann.hex)
    assert (ann.created_at, ann.updated_at) == (events[0].recorded_at, events[-1].recorded_at)
    assert source.stream_info("nope") is None
    assert source.stream_info(str(written.ann)) == ann, "the dashed form names the same stream"


def test_a_stream_reads_both_ways(source, written) -> None:
    assert [e.stream_version for e in source.read_stream(written.ann.hex, 2)] == [2, 3]
    backward = source.read_stream(written.ann.hex, None, backward=True, limit=2)
    assert [e.stream_version for e in backward] == [3, 2]
    assert [e.stream_version for e in source.read_stream(written.ann.hex, 2, backward=True)] == [
        2,
        1,
    ]
    assert source.read_stream("nope") == []
    event = source.get_event(5)
    assert source.get_event_by_id(event.event_id) == event
    assert source.get_event_by_id(str(event.event_id)) == event
    assert source.get_event_by_id(uuid.uuid4()) is None
    assert source.get_event_by_id("not a uuid") is None
    assert source.get_event(99) is None


def test_the_log_pages_both_ways(source) -> None:
    pages, after = [], 0
    while page := source.read_all(after, limit=3):
        pages.append([e.position for e in page])
        after = page[-1].position
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]
    backward, before = [], None
    while page := source.read_all_backward(before, limit=3):
        backward += [e.position for e in page]
        before = page[-1].position
    assert backward == [7, 6, 5, 4, 3, 2, 1]


def test_the_filters_it_can_serve(source, written) -> None:
    assert [e.position for e in source.read_all(0, types="Deposited")] == [2, 4, 6]
    assert [e.position for e in source.read_all(2, types=["Opened", "Completed"])] == [3, 7]
    assert source.read_all(0, types=[]) == []
    assert source.read_all(0, types="Account") == []
    assert source.read_all(0, types="opened") == [], "types match case-sensitively"
    assert [e.position for e in source.read_all(0, types="Transfer.Completed")] == [7]
    assert [e.position for e in source.read_all(0, types=PREFIX + "Transfer.Completed")] == [7]
    assert [e.position for e in source.read_all_backward(None, limit=2, types="Deposited")] == [
        6,
        4,
    ]
    ann = [e.position for e in source.read_all(0, stream_prefix=written.ann.hex[:10])]
    assert ann == [1, 2, 4]
    assert source.read_all(0, stream_prefix="zz") == []
    events = source.read_all(0)
    middle = events[3].recorded_at
    assert [e.position for e in source.read_all(0, since=middle)] == [4, 5, 6, 7]
    assert [e.position for e in source.read_all(0, until=middle)] == [1, 2, 3]
    naive = middle.replace(tzinfo=None)
    assert [e.position for e in source.read_all_backward(None, since=naive, limit=2)] == [7, 6]
    both = source.read_all(0, types="Deposited", since=middle, stream_prefix=written.bob.hex)
    assert [e.position for e in both] == [6]
    assert source.count_by_type(["Opened", "Deposited", "Missing"]) == {
        "Opened": 2,
        "Deposited": 3,
        "Missing": 0,
    }


@pytest.mark.parametrize(
    "refused", [{"correlation_id": "c-1"}, {"actor": "ann"}, {"data_equals": ("owner", "ann")}]
)
def test_the_filters_it_cannot_serve_are_refused(plain_source, refused) -> None:
    with pytest.raises(ValueError, match="cannot filter an eventsourcing store"):
        plain_source.read_all(0, **refused)
    with pytest.raises(ValueError, match="cannot filter"):
        plain_source.read_all_backward(None, **refused)


def test_an_unknown_filter_is_a_type_error_and_correlations_are_refused(plain_source) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        plain_source.read_all(0, colour="red")
    with pytest.raises(ValueError, match="no correlation ids"):
        plain_source.read_correlated("c-1", limit=5)


def test_snapshots_decode_with_the_aggregate_type(source, written) -> None:
    ann = source.list_snapshots(written.ann.hex)
    assert [(s.version, s.type, s.stream_id) for s in ann] == [(3, "Account", written.ann.hex)]
    assert ann[0].data["balance"] == "10.75"
    assert ann[0].data["ref"] == str(written.ann_ref)
    assert ann[0].snapshot_version == 1
    assert ann[0].taken_at is not None
    assert source.read_snapshot(written.ann.hex, max_version=2) is None
    assert source.read_snapshot(written.ann.hex, max_version=3).version == 3
    assert source.read_snapshot(written.bob.hex).version == 2
    assert source.read_snapshot("nope") is None
    latest = source.read_latest_snapshots([written.ann.hex, written.transfer.hex])
    assert list(latest) == [written.ann.hex]


def test_tracking_rows_are_subscriptions(source) -> None:
    assert source.subscriptions() == [Subscription("Upstream", 4, 3)]


@pytest.mark.parametrize("variant", ["encrypted", "encrypted_zlib"])
def test_without_the_key_or_with_a_wrong_one_rows_still_list(variant, postgresql_url) -> None:
    written = write_postgres_store(postgresql_url, schema_of(postgresql_url), variant)
    keyed = open_source(written, postgresql_url)
    expected = [(e.position, e.stream_id, e.stream_version, e.type) for e in keyed.read_all(0)]
    keyed.close()
    assert len(expected) == 7
    for key in (None, AESCipher.create_key(num_bytes=32)):
        source = EventsourcingPostgresSource(postgresql_url, cipher_key=key)
        events = source.read_all(0)
        assert [(e.position, e.stream_id, e.stream_version, e.type) for e in events] == expected
        assert all(e.data.keys() == {"encrypted", "bytes"} for e in events)
        assert all(e.data["encrypted"] is True and e.data["bytes"] > 28 for e in events)
        assert all(e.metadata["time_unknown"] and e.recorded_at == EPOCH for e in events)
        assert [s.stream_id for s in source.list_streams()] == sorted(
            [written.ann.hex, written.bob.hex, written.transfer.hex]
        )
        assert source.list_snapshots(written.ann.hex)[0].data["encrypted"] is True
        assert source.read_all(0, since=OPENED_ON) == []
        assert source.subscriptions() == [Subscription("Upstream", 4, 3)]
        source.close()


def test_a_corrupt_payload_lists_with_its_reason(plain, plain_source, admin) -> None:
    with admin.begin() as conn:
        for position, state in ((2, b'{"timestamp":'), (4, b"x\x9c\x01\x02"), (5, b"[1, 2]")):
            conn.execute(
                sa.text("UPDATE bank_events SET state = :state WHERE notification_id = :n"),
                {"state": state, "n": position},
            )
    events = plain_source.read_all(0)
    assert [e.position for e in events] == list(range(1, 8))
    assert events[1].type == "Deposited" and events[1].stream_version == 2
    assert events[1].data["undecodable"].startswith("not JSON")
    assert events[3].data["undecodable"].startswith("not zlib data")
    assert events[4].data == {"undecodable": "the JSON is a list, not an object"}
    for event in (events[1], events[3], events[4]):
        assert "\n" not in event.data["undecodable"]
        assert event.metadata["time_unknown"] is True
        assert event.recorded_at == EPOCH
    assert not events[0].metadata.get("time_unknown")
    assert plain_source.stream_info(plain.ann.hex).updated_at == EPOCH


def test_a_version_1_row_reads_as_stored_and_the_library_upcasts_it(
    plain, plain_source, admin, postgresql_url
) -> None:
    """The adapter shows the stored schema version; upcasting is the reader's business."""
    with admin.begin() as conn:
        state = conn.execute(
            sa.text("SELECT state FROM bank_events WHERE notification_id = 2")
        ).scalar_one()
        v1 = bytes(state).replace(b',"currency":"EUR"', b"").replace(b',"class_version":2', b"")
        conn.execute(
            sa.text("UPDATE bank_events SET state = :state WHERE notification_id = 2"),
            {"state": v1},
        )
    deposit = plain_source.get_event(2)
    assert (deposit.schema_version, deposit.data) == (1, {"amount": "10.50"})
    app = Bank(env=postgres_environment(postgresql_url, schema_of(postgresql_url), "plain", None))
    try:
        assert app.repository.get(plain.ann).balance == Decimal("10.75")
        deposited = list(app.repository.event_store.get(plain.ann))[1]
        assert (deposited.amount, deposited.currency) == (Decimal("10.50"), "EUR")
    finally:
        app.close()


def test_every_transaction_is_read_only_with_a_statement_timeout(
    plain, plain_source, admin
) -> None:
    with plain_source.read_transaction() as conn:
        assert conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "on"
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "10s"
    with (
        pytest.raises(sa.exc.InternalError, match="read-only transaction"),
        plain_source.read_transaction() as conn,
    ):
        conn.execute(
            sa.text(
                "INSERT INTO bank_events (originator_id, originator_version, topic, state) "
                "VALUES (:id, 9, 'x:Y', '\\x7b7d')"
            ),
            {"id": plain.ann},
        )
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM bank_events")).scalar() == 7
    # long enough for the source's own look at the catalogue on a busy machine, far shorter
    # than the sleep it must cut
    quick = EventsourcingPostgresSource(plain_source.engine, statement_timeout_ms=1000)
    with (
        pytest.raises(sa.exc.OperationalError, match="statement timeout"),
        quick.read_transaction() as conn,
    ):
        conn.execute(sa.text("SELECT pg_sleep(30)"))
    quick.close()
    assert plain_source.head_position() == 7, "an engine passed in stays open after close"


def test_two_applications_in_one_database(plain, postgresql_url) -> None:
    schema = schema_of(postgresql_url)
    branch = write_postgres_store(postgresql_url, schema, "plain", app_class=Branch)
    with pytest.raises(
        ForeignStoreError, match=r"several eventsourcing applications \(bank, branch\)"
    ):
        EventsourcingPostgresSource(postgresql_url)
    for app, written in (("bank", plain), ("Branch", branch), ("BANK", plain)):
        source = EventsourcingPostgresSource(postgresql_url, app=app)
        assert source.tables.events == f"{app.lower()}_events"
        assert source.tables.snapshots == f"{app.lower()}_snapshots"
        assert source.tables.tracking == f"{app.lower()}_tracking"
        assert [e.stream_id for e in source.read_all(0)] == [n[1] for n in written.notifications]
        assert source.list_snapshots(written.ann.hex)[0].version == 3
        source.close()
    by_url = EventsourcingPostgresSource(f"{postgresql_url}&app=branch")
    assert by_url.tables.app == "branch"
    assert by_url.count_streams() == 3
    by_url.close()
    with pytest.raises(
        ForeignStoreError, match=r"no eventsourcing application 'shop' .*bank, branch"
    ):
        EventsourcingPostgresSource(postgresql_url, app="shop")


def test_a_database_without_such_tables_is_refused(postgresql_url, admin) -> None:
    with pytest.raises(ForeignStoreError, match="holds no eventsourcing events table") as caught:
        EventsourcingPostgresSource(postgresql_url)
    assert "\n" not in str(caught.value)
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE TABLE events (id bigserial PRIMARY KEY, body text)"))
        conn.execute(
            sa.text(
                "CREATE TABLE stored_snapshots (originator_id uuid, originator_version bigint, "
                "topic text, state bytea)"
            )
        )
    with pytest.raises(AnySourcesError, match="holds no eventsourcing events table"):
        EventsourcingPostgresSource(postgresql_url)
    with pytest.raises(ForeignStoreError, match="reads PostgreSQL, not sqlite"):
        EventsourcingPostgresSource("sqlite:///bank.db")


def test_urls_the_integrator_may_pass(plain, postgresql_url) -> None:
    schema = schema_of(postgresql_url)
    base = postgresql_url.split("?", 1)[0]
    bare = base.replace("postgresql+psycopg://", "postgresql://")
    for url in (f"{bare}?schema={schema}", f"eventsourcing+{bare}?schema={schema}&app=bank"):
        source = EventsourcingPostgresSource(url)
        assert source.engine.url.drivername == "postgresql+psycopg"
        assert (source.tables.schema, source.tables.app) == (schema, "bank")
        assert source.head_position() == 7
        assert "schema=" in repr(source)
        source.close()
    with EventsourcingPostgresSource(base, schema=schema) as source:
        assert source.count_events() == 7


def test_notification_ids_with_gaps(plain, admin, postgresql_url) -> None:
    """A sequence leaves gaps (rolled-back inserts): the head is the highest id, not the count."""
    with admin.begin() as conn:
        conn.execute(sa.text("SELECT setval('bank_events_notification_id_seq', 40)"))
    app = Bank(env=postgres_environment(postgresql_url, schema_of(postgresql_url), "plain", None))
    try:
        account = app.repository.get(plain.ann)
        account.deposit(Decimal("1"))
        app.save(account)
    finally:
        app.close()
    source = EventsourcingPostgresSource(postgresql_url, scan_budget=10)
    try:
        assert (source.head_position(), source.count_events()) == (41, 8)
        assert [e.position for e in source.read_all(5, limit=5)] == [6, 7, 41]
        assert [e.position for e in source.read_all_backward(None, limit=2)] == [41, 7]
        assert source.get_event(41).data == {"amount": "1", "currency": "EUR"}
        assert source.get_event(20) is None
        assert source.read_all(7, types="Deposited") == [], "ids 8..17 hold nothing"
        assert source.read_all(37, types="Deposited")[0].position == 41
        assert [e.position for e in source.read_all_backward(42, types="Deposited")] == [41]
        assert [e.position for e in source.read_all_backward(32, types="Deposited")] == []
        assert source.stream_info(plain.ann.hex).version == 4
        assert source.list_streams_by_activity(limit=1)[0].stream_id == plain.ann.hex
        assert source.subscriptions() == [Subscription("Upstream", 4, 37)]
    finally:
        source.close()


def test_a_filtered_read_stops_at_its_scan_budget(plain, postgresql_url) -> None:
    source = EventsourcingPostgresSource(postgresql_url, scan_budget=3)
    try:
        assert source.read_all(0, types="Completed") == []
        assert source.read_all(3, types="Completed") == []
        assert [e.position for e in source.read_all(6, types="Completed")] == [7]
        assert [e.position for e in source.read_all(0, types="Deposited")] == [2]
        assert [e.position for e in source.read_all_backward(None, types="Opened")] == []
        assert [e.position for e in source.read_all_backward(5, types="Opened")] == [3]
        assert source.read_all(0, since=OPENED_ON.replace(year=2000), limit=10)[-1].position == 3
        assert len(source.read_all(0)) == 7, "an unfiltered read has no budget"
        found = source.get_event_by_id(source.get_event(3).event_id)
        assert found is not None and found.position == 3
        assert source.get_event_by_id(source.get_event(4).event_id) is None, "past the budget"
    finally:
        source.close()


def test_a_page_says_where_a_filtered_read_stopped(plain, postgresql_url) -> None:
    source = EventsourcingPostgresSource(postgresql_url, scan_budget=3)
    try:
        forward, after = [], 0
        while True:
            page = source.read_all_page(after, types="Completed")
            forward.append(([e.position for e in page.events], page.exhausted))
            if page.exhausted:
                break
            after = page.resume_after
        assert forward == [([], False), ([], False), ([7], True)]
        backward, before = [], None
        while True:
            page = source.read_all_backward_page(before, types="Opened")
            backward.append(([e.position for e in page.events], page.resume_before))
            if page.exhausted:
                break
            before = page.resume_before
        assert backward == [([], 5), ([3], 2), ([1], None)]
        full = source.read_all_page(0, limit=2, types="Deposited")
        assert ([e.position for e in full.events], full.resume_after) == ([2], 3)
        limited = source.read_all_page(0, limit=2)
        assert ([e.position for e in limited.events], limited.exhausted) == ([1, 2], False)
        assert limited.resume_after == 2
        last = source.read_all_page(5, limit=5)
        assert ([e.position for e in last.events], last.exhausted) == ([6, 7], True)
        newest = source.read_all_backward_page(None, limit=1, types="Completed")
        assert ([e.position for e in newest.events], newest.resume_before) == ([7], 7)
    finally:
        source.close()


@pytest.mark.parametrize(("budget", "groups"), [(1, True), (2, True), (100, False)])
def test_streams_by_activity_are_the_grouped_pages_whatever_the_scan_budget(
    plain, admin, postgresql_url, monkeypatch, budget, groups
) -> None:
    """The newest rows are walked down at most `scan_budget` notification ids; a walk that
    ends short of a page groups the whole table instead: the pages are the same."""
    with admin.connect() as conn:
        grouped = [
            key.hex
            for key in conn.execute(
                sa.text(
                    "SELECT originator_id FROM bank_events GROUP BY originator_id"
                    " ORDER BY MAX(notification_id) DESC"
                )
            ).scalars()
        ]
    assert grouped == [plain.transfer.hex, plain.bob.hex, plain.ann.hex]
    groupings: list[str] = []
    group = PgStreams._page

    def counted(self, session, where, params, **options):
        groupings.append(options.get("order", ""))
        return group(self, session, where, params, **options)

    monkeypatch.setattr(PgStreams, "_page", counted)
    source = EventsourcingPostgresSource(postgresql_url, scan_budget=budget)
    try:
        assert source.list_streams_by_activity() == [source.stream_info(s) for s in grouped]
        for limit in (1, 2):
            groupings.clear()
            paged, cursor = [], None
            while page := source.list_streams_by_activity(before=cursor, limit=limit):
                paged += page
                cursor = (page[-1].updated_at, page[-1].stream_id)
            assert [s.stream_id for s in paged] == grouped
            assert ("newest DESC" in groupings) is groups, "a walk short of a page groups"
        bob = plain.bob.hex
        assert [s.stream_id for s in source.list_streams_by_activity(prefix=bob[:8])] == [bob]
        assert source.list_streams_by_activity(prefix="zz") == []
        assert source.list_streams_by_activity(limit=0) == []
    finally:
        source.close()


def test_an_activity_cursor_naming_no_stream_compares_times(source, written) -> None:
    newest = source.list_streams_by_activity(limit=1)[0]
    page = source.list_streams_by_activity(before=(newest.updated_at, ""), limit=5)
    assert [s.stream_id for s in page] == [written.bob.hex, written.ann.hex]
    page = source.list_streams_by_activity(before=(newest.updated_at, "~"), limit=2)
    assert [s.stream_id for s in page] == [written.transfer.hex, written.bob.hex]
    naive = (newest.updated_at.replace(tzinfo=None), "")
    assert [s.stream_id for s in source.list_streams_by_activity(before=naive)] == [
        written.bob.hex,
        written.ann.hex,
    ]
    prefixed = source.list_streams_by_activity(prefix=written.ann.hex[:8])
    assert [s.stream_id for s in prefixed] == [written.ann.hex]


def test_waiting_for_events_polls_the_head(plain, plain_source, postgresql_url) -> None:
    assert plain_source.wait_for_events(3, timeout=5) == 7
    started = time.monotonic()
    assert plain_source.wait_for_events(7, timeout=0.6) == 7
    assert 0.5 <= time.monotonic() - started < 3

    def deposit() -> None:
        time.sleep(0.3)
        env = postgres_environment(postgresql_url, schema_of(postgresql_url), "plain", None)
        app = Bank(env=env)
        account = app.repository.get(plain.ann)
        account.deposit(Decimal("2"))
        app.save(account)
        app.close()

    writer = threading.Thread(target=deposit)
    writer.start()
    try:
        assert plain_source.wait_for_events(7, timeout=10) == 8
    finally:
        writer.join()


def test_text_originator_ids_are_read_as_written(postgresql_url) -> None:
    """With `ORIGINATOR_ID_TYPE=text` the library stores its uuids as 32 hex digits in a
    text column: shown as stored, the same stream ids as with a uuid column."""
    env = postgres_environment(postgresql_url, schema_of(postgresql_url), "plain", None)
    app = Bank(env=env | {"ORIGINATOR_ID_TYPE": "text"})
    account = Account("cy", uuid.uuid4(), OPENED_ON)
    account.deposit(Decimal("3"))
    app.save(account)
    app.close()
    source = EventsourcingPostgresSource(postgresql_url)
    try:
        assert source.tables.id_type == "text"
        stored = account.id.hex
        assert [e.stream_id for e in source.read_all(0)] == [stored, stored]
        assert [s.stream_id for s in source.list_streams(stored[:4])] == [stored]
        assert source.list_streams(after=stored) == []
        assert [e.stream_version for e in source.read_stream(stored)] == [1, 2]
        assert source.read_all(0, stream_prefix=stored[:8], types="Deposited")[0].position == 2
        assert source.read_stream("nope") == []
    finally:
        source.close()


def test_reads_leave_the_store_as_it_was(plain, plain_source, admin) -> None:
    def fingerprint() -> list:
        with admin.connect() as conn:
            return [
                conn.execute(
                    sa.text(f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {name} t")
                ).scalar()
                for name in ("bank_events", "bank_snapshots", "bank_tracking")
            ]

    before = fingerprint()
    events = plain_source.read_all(0, limit=100)
    plain_source.read_all_backward(None, limit=3, types=["Deposited"], stream_prefix=plain.ann.hex)
    plain_source.read_all(0, limit=5, since=OPENED_ON, until=OPENED_ON + timedelta(days=30000))
    plain_source.read_stream(plain.ann.hex, None, backward=True)
    plain_source.get_event_by_id(events[0].event_id)
    plain_source.list_streams_by_activity(limit=2)
    plain_source.count_by_type(["Opened"])
    plain_source.count_streams()
    plain_source.read_latest_snapshots([plain.ann.hex, plain.bob.hex])
    plain_source.subscriptions()
    assert fingerprint() == before
