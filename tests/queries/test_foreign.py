"""What the dashboard says of a foreign store without its aggregate code: fields as last set,
the catalog inferred from a sample, and the aggregate type a stream holds.

Each store is real: an `eventsourcing` SQLite file written by the library, a Commanded
EventStore schema in PostgreSQL written as its appends write, and eventscope's own store.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.sources.commanded_store import CommandedStore
from tests.sources.eventsourcing_stores import OPENED_ON, Written, write_store
from webapp.bootstrap import open_migrated_store
from webapp.queries import foreign
from webapp.queries.foreign import (
    FieldsAsLastSet,
    InferredCatalog,
    MissingVersion,
    SetField,
    aggregate_type,
    fields_as_last_set,
    infer_catalog,
    stream_kind,
)
from webapp.sources import EventscopeSource, RecordedEvent
from webapp.sources.commanded import CommandedSource
from webapp.sources.eventsourcing import EventsourcingSQLiteSource
from webapp.store import NewEvent, Snapshot

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- an eventsourcing SQLite store


@pytest.fixture(scope="module")
def plain_store(tmp_path_factory) -> Written:
    return write_store(tmp_path_factory.mktemp("plain") / "bank.db", "plain")


@pytest.fixture(scope="module")
def encrypted_store(tmp_path_factory) -> Written:
    return write_store(tmp_path_factory.mktemp("encrypted") / "bank.db", "encrypted")


@pytest.fixture
def library(plain_store: Written):
    opened = EventsourcingSQLiteSource(plain_store.path)
    yield opened
    opened.close()


@pytest.fixture
def locked(encrypted_store: Written):
    """The encrypted store read without its key."""
    opened = EventsourcingSQLiteSource(encrypted_store.path)
    yield opened
    opened.close()


def test_a_field_keeps_the_value_of_the_last_event_that_set_it(library, plain_store) -> None:
    found = fields_as_last_set(library, plain_store.ann.hex, 2)
    assert isinstance(found, FieldsAsLastSet)
    assert found.version == 2
    assert found.fields == {
        "owner": SetField("ann", 1),
        "ref": SetField(str(plain_store.ann_ref), 1),
        "opened_on": SetField(OPENED_ON.isoformat(), 1),
        "amount": SetField("10.50", 2),
        "currency": SetField("EUR", 2),
    }
    assert found.snapshot is None  # the only snapshot was taken at version 3
    assert [e.stream_version for e in found.events_after] == [1, 2]
    assert (found.truncated, found.skipped) == (False, [])


def test_at_the_current_version_the_snapshot_at_it_seeds_the_fields(library, plain_store) -> None:
    found = fields_as_last_set(library, plain_store.ann.hex)
    assert found.version == 3
    assert found.snapshot is not None
    assert found.snapshot.version == 3
    assert found.events_after == []
    assert found.fields["balance"] == SetField("10.75", 3, from_snapshot=True)
    assert found.fields["owner"] == SetField("ann", 3, from_snapshot=True)
    assert found.fields["currency"].value == "EUR"


def test_with_the_key_an_encrypted_store_reads_like_a_plain_one(encrypted_store) -> None:
    source = EventsourcingSQLiteSource(encrypted_store.path, cipher_key=encrypted_store.cipher_key)
    try:
        found = fields_as_last_set(source, encrypted_store.ann.hex, 2)
        assert found.fields["amount"] == SetField("10.50", 2)
        assert found.fields["owner"] == SetField("ann", 1)
        assert fields_as_last_set(source, encrypted_store.ann.hex).fields["balance"].value == (
            str(Decimal("10.75"))
        )
    finally:
        source.close()


def test_without_the_key_nothing_is_folded_and_the_skipped_versions_are_named(
    locked, encrypted_store
) -> None:
    found = fields_as_last_set(locked, encrypted_store.ann.hex)
    assert found.fields == {}
    assert found.skipped == [1, 2, 3]
    assert found.snapshot is None
    assert found.unreadable_snapshot == 3
    assert [e.stream_version for e in found.events_after] == [1, 2, 3]
    assert found.as_json()["state"] == {}


@pytest.mark.parametrize("version", [0, -1, 4])
def test_a_version_the_stream_does_not_have_is_missing(library, plain_store, version) -> None:
    with pytest.raises(MissingVersion):
        fields_as_last_set(library, plain_store.ann.hex, version)
    assert issubclass(MissingVersion, LookupError)


def test_a_stream_that_does_not_exist_has_no_fields(library) -> None:
    assert fields_as_last_set(library, uuid.uuid4().hex) is None


def test_a_librarys_stream_holds_the_class_its_topics_name(library, plain_store) -> None:
    events = library.read_all(0, limit=100)
    assert {e.type: aggregate_type(e) for e in events} == {
        "Opened": "Account",
        "Deposited": "Account",
        "Requested": "Transfer",
        "Completed": "Transfer",
    }
    assert stream_kind(library, plain_store.ann.hex) == "Account"
    assert stream_kind(library, plain_store.transfer.hex) == "Transfer"
    assert stream_kind(library, uuid.uuid4().hex) is None


def test_the_topic_names_the_class_even_when_the_payload_is_unreadable(
    locked, encrypted_store
) -> None:
    assert stream_kind(locked, encrypted_store.bob.hex) == "Account"


def _event(stream_id: str, metadata: dict) -> RecordedEvent:
    return RecordedEvent(1, stream_id, 1, uuid.uuid4(), "Opened", 1, {}, metadata, T0)


@pytest.mark.parametrize(
    ("stream_id", "metadata", "expected"),
    [
        ("0f3a", {"topic": "bank.domain:Account.Opened"}, "Account"),
        ("0f3a", {"topic": "bank.domain:Outer.Account.Opened"}, "Account"),
        ("0f3a", {"topic": "bank.domain:Opened"}, None),
        ("account-7", {}, "account"),
        ("transfer-2024-05", {"event_type": "Elixir.Bank.Started"}, "transfer"),
        ("audit", {}, None),
        ("-7", {}, None),
    ],
)
def test_the_aggregate_type_is_the_topics_class_else_the_stream_ids_prefix(
    stream_id, metadata, expected
) -> None:
    assert aggregate_type(_event(stream_id, metadata)) == expected


def test_the_catalog_of_a_library_store_is_inferred_from_its_payloads(library) -> None:
    catalog = infer_catalog(library)
    assert isinstance(catalog, InferredCatalog)
    assert (catalog.sampled, catalog.total, catalog.counted) == (7, 7, True)
    by_name = {t.name: t for t in catalog.types}
    assert list(by_name) == ["Completed", "Deposited", "Opened", "Requested"]
    deposited = by_name["Deposited"]
    assert (deposited.count, deposited.in_sample) == (3, 3)
    assert deposited.fields == {"amount": ["string"], "currency": ["string"]}
    assert deposited.schema_versions == [2]
    assert deposited.aggregate_types == ["Account"]
    assert deposited.first_seen_in_sample.position == 2
    assert deposited.last_seen.position == 6
    assert deposited.example.position == 6
    assert deposited.last_seen.recorded_at == deposited.example.recorded_at
    assert by_name["Opened"].fields == {
        "owner": ["string"],
        "ref": ["string"],
        "opened_on": ["string"],
    }
    assert by_name["Completed"].fields == {}
    assert by_name["Requested"].aggregate_types == ["Transfer"]
    json.dumps(catalog.as_json())


def test_a_sample_sees_only_the_newest_events_but_counts_are_the_whole_logs(library) -> None:
    catalog = infer_catalog(library, sample_size=3)
    assert (catalog.sampled, catalog.total) == (3, 7)
    by_name = {t.name: t for t in catalog.types}
    assert list(by_name) == ["Completed", "Deposited", "Requested"]
    assert by_name["Deposited"].in_sample == 1
    assert by_name["Deposited"].count == 3
    assert by_name["Deposited"].first_seen_in_sample.position == 6


def test_the_catalog_of_unreadable_payloads_has_types_but_no_fields(locked) -> None:
    catalog = infer_catalog(locked)
    by_name = {t.name: t for t in catalog.types}
    assert by_name["Deposited"].fields == {}
    assert by_name["Deposited"].unreadable_in_sample == 3
    assert by_name["Deposited"].aggregate_types == ["Account"]


# --- a Commanded EventStore on PostgreSQL


@pytest.fixture(params=["json", "jsonb"])
def commanded(request, postgresql_url: str):
    """account-7: opened, deposit, renamed (snapshot at 2), deposit; account-8: opened
    without an owner; in `bytea` JSON text or `jsonb`."""
    engine = sa.create_engine(postgresql_url)
    column = "jsonb" if request.param == "jsonb" else "bytea"
    store = CommandedStore(engine, postgresql_url.rsplit("%3D", 1)[1], column).init()
    store.append(
        "account-7",
        [
            ("Elixir.Bank.AccountOpened", {"owner": "ann", "balance": 0}, {}),
            ("Elixir.Bank.MoneyDeposited", {"amount": 10, "balance": 10}, {}),
        ],
        at=T0,
    )
    store.append(
        "account-7", [("Elixir.Bank.AccountRenamed", {"owner": "bea", "note": None}, {})], at=T0
    )
    store.save_snapshot(
        "account-7", 2, "Elixir.Bank.Account", {"owner": "ann", "balance": 10}, at=T0
    )
    store.append(
        "account-7",
        [("Elixir.Bank.MoneyDeposited", {"amount": 5.5, "balance": 15.5}, {})],
        at=T0 + timedelta(hours=1),
    )
    store.append(
        "account-8",
        [("Elixir.Bank.AccountOpened", {"owner": None, "balance": 0}, {})],
        at=T0 + timedelta(hours=2),
    )
    source = CommandedSource(postgresql_url, schema=store.schema)
    yield store, source
    source.close()
    engine.dispose()


def test_fields_after_a_commanded_snapshot_are_set_by_the_events_after_it(commanded) -> None:
    _, source = commanded
    found = fields_as_last_set(source, "account-7")
    assert found.version == 4
    assert found.snapshot is not None
    assert found.snapshot.version == 2
    assert [e.stream_version for e in found.events_after] == [3, 4]
    assert found.fields == {
        "owner": SetField("bea", 3),
        "balance": SetField(15.5, 4),
        "note": SetField(None, 3),
        "amount": SetField(5.5, 4),
    }
    assert found.as_json() == {
        "stream_id": "account-7",
        "version": 4,
        "state": {"owner": "bea", "balance": 15.5, "note": None, "amount": 5.5},
        "kind": "fields_as_last_set",
        "snapshot": {"version": 2, "data": {"owner": "ann", "balance": 10}},
        "set_at": {"owner": 3, "balance": 4, "note": 3, "amount": 4},
    }


def test_before_the_snapshot_the_events_alone_set_the_fields(commanded) -> None:
    _, source = commanded
    found = fields_as_last_set(source, "account-7", 1)
    assert found.snapshot is None
    assert found.fields == {"owner": SetField("ann", 1), "balance": SetField(0, 1)}
    assert found.as_json()["snapshot"] is None


def test_a_snapshot_field_no_later_event_set_keeps_the_snapshots_version(commanded) -> None:
    _, source = commanded
    found = fields_as_last_set(source, "account-7", 3)
    assert found.fields["balance"] == SetField(10, 2, from_snapshot=True)
    assert found.fields["owner"] == SetField("bea", 3)


def test_an_undecodable_commanded_payload_is_skipped(postgresql_url: str) -> None:
    engine = sa.create_engine(postgresql_url)
    store = CommandedStore(engine, postgresql_url.rsplit("%3D", 1)[1], "bytea").init()
    store.append(
        "account-1",
        [
            ("Elixir.Bank.AccountOpened", {"owner": "ann"}, {}),
            ("Elixir.Bank.Garbled", b"\x00\x01", {}),
        ],
        at=T0,
    )
    source = CommandedSource(postgresql_url, schema=store.schema)
    try:
        found = fields_as_last_set(source, "account-1")
        assert found.fields == {"owner": SetField("ann", 1)}
        assert found.skipped == [2]
        garbled = {t.name: t for t in infer_catalog(source).types}["Bank.Garbled"]
        assert (garbled.fields, garbled.unreadable_in_sample) == ({}, 1)
    finally:
        source.close()
        engine.dispose()


def test_the_catalog_of_a_commanded_store_lists_each_fields_json_types(commanded) -> None:
    _, source = commanded
    catalog = infer_catalog(source)
    assert (catalog.sampled, catalog.total, catalog.counted) == (5, 5, True)
    by_name = {t.name: t for t in catalog.types}
    assert list(by_name) == ["Bank.AccountOpened", "Bank.AccountRenamed", "Bank.MoneyDeposited"]
    opened = by_name["Bank.AccountOpened"]
    assert opened.count == 2
    assert opened.fields == {"owner": ["string", "null"], "balance": ["integer"]}
    assert opened.example.stream_id == "account-8"
    assert opened.first_seen_in_sample.recorded_at == T0
    assert opened.last_seen.recorded_at == T0 + timedelta(hours=2)
    assert by_name["Bank.MoneyDeposited"].fields == {
        "amount": ["integer", "number"],
        "balance": ["integer", "number"],
    }
    assert by_name["Bank.AccountRenamed"].fields == {"owner": ["string"], "note": ["null"]}
    assert {t.name: t.aggregate_types for t in catalog.types} == {
        name: ["account"] for name in by_name
    }
    assert stream_kind(source, "account-7") == "account"
    json.dumps(catalog.as_json())


def test_fields_are_inferred_from_the_newest_examples_of_a_type(commanded) -> None:
    _, source = commanded
    catalog = infer_catalog(source, per_type_examples=1)
    by_name = {t.name: t for t in catalog.types}
    assert by_name["Bank.AccountOpened"].fields == {"owner": ["null"], "balance": ["integer"]}


# --- eventscope's own store


@pytest.fixture
def eventscope(db_url: str):
    """account-1 with twelve events setting `n` (and `balance` from the fifth on), a snapshot
    at 4 that also holds `owner`; user-1 with one."""
    store = open_migrated_store(db_url)
    store.append("account-1", [NewEvent("Counted", {"n": i}) for i in range(1, 5)])
    store.save_snapshot(
        Snapshot("account-1", 4, 1, "Account", {"n": 4, "balance": 40, "owner": "ann"})
    )
    store.append(
        "account-1", [NewEvent("Counted", {"n": i, "balance": i * 10}) for i in range(5, 13)]
    )
    store.append("user-1", [NewEvent("UserRegistered", {"name": "Ada"})])
    yield EventscopeSource(store)
    store.close()


def test_a_stream_is_read_in_pages_from_the_snapshot(eventscope, monkeypatch) -> None:
    monkeypatch.setattr(foreign, "PAGE_SIZE", 3)
    found = fields_as_last_set(eventscope, "account-1", 10)
    assert found.snapshot is not None
    assert found.snapshot.version == 4
    assert [e.stream_version for e in found.events_after] == [5, 6, 7, 8, 9, 10]
    assert found.fields == {
        "n": SetField(10, 10),
        "balance": SetField(100, 10),
        "owner": SetField("ann", 4, from_snapshot=True),
    }
    assert not found.truncated


def test_more_events_than_max_events_fold_only_the_newest_and_say_so(eventscope) -> None:
    found = fields_as_last_set(eventscope, "account-1", 10, max_events=3)
    assert found.truncated
    assert [e.stream_version for e in found.events_after] == [8, 9, 10]
    assert found.fields == {"n": SetField(10, 10), "balance": SetField(100, 10)}
    assert found.snapshot is not None
    assert "owner" not in found.fields  # the snapshot at 4 seeds nothing across a gap


def test_the_snapshot_seeds_fields_no_later_event_sets(eventscope) -> None:
    found = fields_as_last_set(eventscope, "account-1", 4)
    assert found.fields == {
        "n": SetField(4, 4, from_snapshot=True),
        "balance": SetField(40, 4, from_snapshot=True),
        "owner": SetField("ann", 4, from_snapshot=True),
    }
    assert found.events_after == []


def test_eventscope_streams_hold_their_ids_prefix_and_types_are_counted(
    eventscope, monkeypatch
) -> None:
    monkeypatch.setattr(foreign, "PAGE_SIZE", 5)
    assert stream_kind(eventscope, "account-1") == "account"
    assert stream_kind(eventscope, "user-1") == "user"
    assert stream_kind(eventscope, "nobody-1") is None
    catalog = infer_catalog(eventscope, sample_size=8)
    assert (catalog.sampled, catalog.total, catalog.counted) == (8, 13, True)
    by_name = {t.name: t for t in catalog.types}
    assert (by_name["Counted"].count, by_name["Counted"].in_sample) == (12, 7)
    assert by_name["Counted"].first_seen_in_sample.position == 6
    assert by_name["UserRegistered"].aggregate_types == ["user"]
    assert by_name["Counted"].fields == {"n": ["integer"], "balance": ["integer"]}
