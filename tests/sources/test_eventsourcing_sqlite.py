"""Stores the `eventsourcing` library wrote, read back through the source port, read-only."""

from __future__ import annotations

import base64
import bz2
import hashlib
import os
import shutil
import sqlite3
import stat
import uuid
import zlib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher

from tests.sources.eventsourcing_stores import (
    OPENED_ON,
    VARIANTS,
    Bank,
    Written,
    environment,
    write_store,
)
from webapp.sources import Capabilities, EventSource, Subscription
from webapp.sources.errors import ForeignStoreError as AnySourcesError
from webapp.sources.eventsourcing import EventsourcingSQLiteSource, ForeignStoreError
from webapp.sources.eventsourcing import sqlite as sqlite_source
from webapp.sources.eventsourcing.payloads import PayloadDecoder
from webapp.sources.eventsourcing.sqlite import EPOCH

PREFIX = "tests.sources.eventsourcing_stores:"


@pytest.fixture(scope="module", params=VARIANTS)
def written(request, tmp_path_factory) -> Written:
    folder = tmp_path_factory.mktemp(request.param)
    return write_store(folder / "bank.db", request.param)


@pytest.fixture
def source(written):
    opened = EventsourcingSQLiteSource(
        written.path,
        cipher_key=written.cipher_key,
        compressor="zlib" if "zlib" in written.variant else None,
    )
    yield opened
    opened.close()


@pytest.fixture
def plain(tmp_path) -> Written:
    return write_store(tmp_path / "plain.db", "plain")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_everything(source: EventsourcingSQLiteSource, written: Written) -> None:
    """Every kind of read the port offers, once."""
    events = source.read_all(0, limit=100)
    source.read_all_backward(None, limit=3, types=["Deposited"], stream_prefix=written.ann.hex)
    source.read_all(0, limit=5, since=OPENED_ON, until=OPENED_ON + timedelta(days=30000))
    source.read_stream(written.ann.hex, None, backward=True)
    source.get_event(3)
    source.get_event_by_id(events[0].event_id)
    source.list_streams(limit=2)
    source.list_streams_by_activity(limit=2)
    source.stream_info(written.bob.hex)
    source.count_by_type(["Opened"])
    source.count_events()
    source.count_streams()
    source.head_position()
    source.read_latest_snapshots([written.ann.hex, written.bob.hex])
    source.list_snapshots(written.ann.hex)
    source.subscriptions()


def test_it_is_a_read_only_source_without_correlations_or_actors(source) -> None:
    assert isinstance(source, EventSource)
    assert source.dialect == "sqlite"
    assert source.capabilities == Capabilities(
        has_correlation_ids=False,
        has_causation_ids=False,
        has_snapshots=True,
        cheap_type_filter=False,
        notifies_live=False,
        has_actor=False,
        writable=False,
    )


def test_the_log_is_the_librarys_notification_log(source, written) -> None:
    events = source.read_all(0, limit=100)
    assert [
        (e.position, e.stream_id, e.stream_version, e.metadata["topic"]) for e in events
    ] == written.notifications
    assert [e.position for e in events] == list(range(1, len(events) + 1))
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
    assert second == first + 1
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


def test_streams_page_by_id_and_by_activity(source, written) -> None:
    ids = sorted([written.ann.hex, written.bob.hex, written.transfer.hex])
    first = source.list_streams(limit=2)
    rest = source.list_streams(after=first[-1].stream_id, limit=2)
    assert [s.stream_id for s in first + rest] == ids
    assert source.list_streams(ids[1][:6]) == [source.stream_info(ids[1])]
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


def test_a_stream_reads_both_ways(source, written) -> None:
    assert [e.stream_version for e in source.read_stream(written.ann.hex, 2)] == [2, 3]
    backward = source.read_stream(written.ann.hex, None, backward=True, limit=2)
    assert [e.stream_version for e in backward] == [3, 2]
    event = source.get_event(5)
    assert source.get_event_by_id(event.event_id) == event
    assert source.get_event_by_id(str(event.event_id)) == event
    assert source.get_event_by_id(uuid.uuid4()) is None
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
    assert [e.position for e in source.read_all_backward(None, limit=2, types="Deposited")] == [
        6,
        4,
    ]
    ann = [e.position for e in source.read_all(0, stream_prefix=written.ann.hex[:10])]
    assert ann == [1, 2, 4]
    events = source.read_all(0)
    middle = events[3].recorded_at
    assert [e.position for e in source.read_all(0, since=middle)] == [4, 5, 6, 7]
    assert [e.position for e in source.read_all(0, until=middle)] == [1, 2, 3]
    naive = middle.replace(tzinfo=None)
    assert [e.position for e in source.read_all_backward(None, since=naive, limit=2)] == [7, 6]
    assert source.count_by_type(["Opened", "Deposited", "Missing"]) == {
        "Opened": 2,
        "Deposited": 3,
        "Missing": 0,
    }


@pytest.mark.parametrize(
    "refused",
    [
        {"correlation_id": "c-1"},
        {"correlation_prefix": "3f2a9c1b"},
        {"actor": "ann"},
        {"data_equals": ("owner", "ann")},
    ],
)
def test_the_filters_it_cannot_serve_are_refused(source, refused) -> None:
    with pytest.raises(ValueError, match="cannot filter an eventsourcing store"):
        source.read_all(0, **refused)
    with pytest.raises(ValueError, match="cannot filter"):
        source.read_all_backward(None, **refused)


def test_an_unknown_filter_is_a_type_error_and_correlations_are_refused(source) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        source.read_all(0, colour="red")
    with pytest.raises(ValueError, match="no correlation ids"):
        source.read_correlated("c-1", limit=5)


def test_snapshots_decode_with_the_aggregate_type(source, written) -> None:
    ann = source.list_snapshots(written.ann.hex)
    assert [(s.version, s.type) for s in ann] == [(3, "Account")]
    assert ann[0].data["balance"] == "10.75"
    assert ann[0].data["ref"] == str(written.ann_ref)
    assert ann[0].snapshot_version == 1
    assert ann[0].taken_at is not None
    assert source.read_snapshot(written.ann.hex, max_version=2) is None
    assert source.read_snapshot(written.bob.hex).version == 2
    latest = source.read_latest_snapshots([written.ann.hex, written.transfer.hex])
    assert list(latest) == [written.ann.hex]


def test_tracking_rows_are_subscriptions(source) -> None:
    assert source.subscriptions() == [Subscription("Upstream", 4, 3)]


@pytest.mark.parametrize("variant", ["encrypted", "encrypted_zlib"])
def test_without_the_key_or_with_a_wrong_one_rows_still_list(variant, tmp_path) -> None:
    written = write_store(tmp_path / "bank.db", variant)
    keyed = EventsourcingSQLiteSource(written.path, cipher_key=written.cipher_key)
    expected = [(e.position, e.stream_id, e.stream_version, e.type) for e in keyed.read_all(0)]
    keyed.close()
    for key in (None, AESCipher.create_key(num_bytes=32)):
        source = EventsourcingSQLiteSource(written.path, cipher_key=key)
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
        source.close()


def test_a_corrupt_payload_lists_with_its_reason(plain, tmp_path) -> None:
    broken = tmp_path / "broken.db"
    shutil.copy(plain.path, broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 2", [b'{"timestamp":'])
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 4", [b"x\x9c\x01\x02"])
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 5", [b"[1, 2]"])
    conn.close()
    source = EventsourcingSQLiteSource(broken)
    events = source.read_all(0)
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
    assert source.stream_info(plain.ann.hex).updated_at == EPOCH
    source.close()


def test_the_decoder_unwraps_what_it_knows_and_keeps_the_rest() -> None:
    blob = (
        b'{"u":{"_type_":"uuid_hex","_data_":"12345678123456781234567812345678"},'
        b'"odd":{"_type_":"frozenset","_data_":[1]},"l":[{"_type_":"decimal_str","_data_":"1"}]}'
    )
    state = PayloadDecoder().decode(zlib.compress(blob)).state
    assert state == {
        "u": "12345678-1234-5678-1234-567812345678",
        "odd": {"_type_": "frozenset", "_data_": [1]},
        "l": ["1"],
    }
    with pytest.raises(ValueError, match="unknown compressor"):
        PayloadDecoder(compressor="lzma")
    with pytest.raises(ValueError, match="not base64"):
        PayloadDecoder(cipher_key="not a key!")


def test_a_file_that_is_not_such_a_store_is_refused(tmp_path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database\n" * 20)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)")
    conn.close()
    for path, reason in (
        (text, "not a SQLite database"),
        (other, "no eventsourcing events table"),
        (tmp_path / "missing.db", "is not a file"),
        (tmp_path, "is not a file"),
    ):
        with pytest.raises(ForeignStoreError, match=reason) as caught:
            EventsourcingSQLiteSource(path)
        assert "\n" not in str(caught.value)


def test_tables_are_found_by_their_columns(plain, tmp_path) -> None:
    renamed = tmp_path / "renamed.db"
    shutil.copy(plain.path, renamed)
    with sqlite3.connect(renamed) as conn:
        conn.execute("ALTER TABLE stored_events RENAME TO bank_events")
        conn.execute("ALTER TABLE stored_snapshots RENAME TO bank_snapshots")
        conn.execute("DROP TABLE tracking")
    conn.close()
    source = EventsourcingSQLiteSource(renamed)
    assert (source.tables.events, source.tables.snapshots) == ("bank_events", "bank_snapshots")
    assert len(source.read_all(0)) == 7
    assert source.list_snapshots(plain.ann.hex)[0].type == "Account"
    assert source.subscriptions() == []
    source.close()


def test_every_read_leaves_the_file_and_its_folder_as_they_were(plain) -> None:
    folder = plain.path.parent
    header = plain.path.read_bytes()[18:20]
    assert header == b"\x02\x02", "the library leaves its file in WAL mode"
    before_files, before_hash = sorted(os.listdir(folder)), sha256(plain.path)
    source = EventsourcingSQLiteSource(plain.path)
    read_everything(source, plain)
    assert sorted(os.listdir(folder)) == before_files
    source.close()
    assert sorted(os.listdir(folder)) == before_files == ["plain.db"]
    assert sha256(plain.path) == before_hash


def test_it_reads_from_a_read_only_folder(plain) -> None:
    folder = plain.path.parent
    before_hash = sha256(plain.path)
    plain.path.chmod(0o444)
    folder.chmod(0o555)
    try:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o555
        source = EventsourcingSQLiteSource(plain.path)
        read_everything(source, plain)
        assert len(source.read_all(0)) == 7
        source.close()
        assert os.listdir(folder) == ["plain.db"]
        assert sha256(plain.path) == before_hash
    finally:
        folder.chmod(0o755)
        plain.path.chmod(0o644)


def test_a_read_only_open_without_immutable_would_leave_side_files(plain) -> None:
    """The trap the adapter avoids: `mode=ro` on a WAL file writes `-wal`/`-shm` beside it."""
    conn = sqlite3.connect(f"file:{plain.path}?mode=ro", uri=True)
    conn.execute("SELECT count(*) FROM stored_events").fetchall()
    conn.close()
    assert {p.name for p in plain.path.parent.iterdir()} > {"plain.db"}


def test_a_filtered_read_stops_at_its_scan_budget(source, monkeypatch) -> None:
    monkeypatch.setattr(sqlite_source, "SCAN_BUDGET", 3)
    assert source.read_all(0, types="Completed") == []
    assert [e.position for e in source.read_all(3, types="Completed")] == []
    assert [e.position for e in source.read_all(6, types="Completed")] == [7]
    assert [e.position for e in source.read_all(0, types="Deposited")] == [2]
    assert [e.position for e in source.read_all_backward(None, types="Opened")] == []
    assert [e.position for e in source.read_all_backward(5, types="Opened")] == [3]
    assert len(source.read_all(0)) == 7, "an unfiltered read has no budget"


@pytest.mark.parametrize("budget", [1, 2, 100])
def test_streams_by_activity_are_the_same_pages_whatever_the_scan_budget(
    source, written, monkeypatch, budget
) -> None:
    """The newest rows are walked down at most `SCAN_BUDGET` rowids; a walk that ends
    short of a page groups the whole table instead."""
    monkeypatch.setattr(sqlite_source, "SCAN_BUDGET", budget)
    order = [written.transfer.hex, written.bob.hex, written.ann.hex]
    assert source.list_streams_by_activity() == [source.stream_info(oid) for oid in order]
    paged, cursor = [], None
    while page := source.list_streams_by_activity(before=cursor, limit=1):
        paged += page
        cursor = (page[-1].updated_at, page[-1].stream_id)
    assert [s.stream_id for s in paged] == order
    bob = written.bob.hex
    assert [s.stream_id for s in source.list_streams_by_activity(prefix=bob[:8])] == [bob]


def test_an_activity_cursor_naming_no_stream_compares_times(source, written) -> None:
    newest = source.list_streams_by_activity(limit=1)[0]
    page = source.list_streams_by_activity(before=(newest.updated_at, ""), limit=5)
    assert [s.stream_id for s in page] == [written.bob.hex, written.ann.hex]
    page = source.list_streams_by_activity(before=(newest.updated_at, "~"), limit=2)
    assert [s.stream_id for s in page] == [written.transfer.hex, written.bob.hex]
    naive = (newest.updated_at.replace(tzinfo=None), "")  # naive times are UTC
    assert [s.stream_id for s in source.list_streams_by_activity(before=naive)] == [
        written.bob.hex,
        written.ann.hex,
    ]


def test_a_version_1_row_reads_as_stored_and_the_library_upcasts_it(plain, tmp_path) -> None:
    """The adapter shows the stored schema version; upcasting is the reader's business."""
    old = tmp_path / "old.db"
    shutil.copy(plain.path, old)
    with sqlite3.connect(old) as conn:
        (state,) = conn.execute("SELECT state FROM stored_events WHERE rowid = 2").fetchone()
        v1 = state.replace(b',"currency":"EUR"', b"").replace(b',"class_version":2', b"")
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 2", [v1])
    conn.close()
    source = EventsourcingSQLiteSource(old)
    deposit = source.get_event(2)
    assert (deposit.schema_version, deposit.data) == (1, {"amount": "10.50"})
    source.close()
    app = Bank(env=environment(old, "plain", None))
    assert app.repository.get(plain.ann).balance == Decimal("10.75")
    deposited = list(app.repository.event_store.get(plain.ann))[1]
    assert (deposited.amount, deposited.currency) == (Decimal("10.50"), "EUR")
    app.close()


def test_a_path_with_uri_characters_opens(plain, tmp_path) -> None:
    odd = tmp_path / "a folder #1 ?x=y%20" / "bank store.db"
    odd.parent.mkdir()
    shutil.copy(plain.path, odd)
    source = EventsourcingSQLiteSource(odd)
    assert source.head_position() == 7
    source.close()
    assert os.listdir(odd.parent) == ["bank store.db"]


def test_the_decoder_reads_bz2_and_the_aes_gcm_layout() -> None:
    state = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2024-05-01T09:30:00+00:00"}}'
    assert PayloadDecoder(compressor="bz2").decode(bz2.compress(state)).state == {
        "timestamp": "2024-05-01T09:30:00+00:00"
    }
    key = AESCipher.create_key(num_bytes=16)
    nonce = os.urandom(12)
    sealed = AESGCM(base64.b64decode(key)).encrypt(nonce, zlib.compress(state), None)
    blob = nonce + sealed[-16:] + sealed[:-16]
    assert PayloadDecoder(cipher_key=key).decode(blob).state == {
        "timestamp": "2024-05-01T09:30:00+00:00"
    }
    assert PayloadDecoder().decode(blob).marker == {"encrypted": True, "bytes": len(blob)}
    assert PayloadDecoder(cipher_key=key).decode(b"short").marker["undecodable"]


def test_commits_still_in_a_live_writers_wal_are_not_shown_and_it_says_so(plain) -> None:
    app = Bank(env=environment(plain.path, "plain", None))
    account = app.repository.get(plain.ann)
    account.deposit(Decimal("1"))
    app.save(account)
    try:
        source = EventsourcingSQLiteSource(plain.path)
        assert source.wal_pending is True
        assert source.head_position() == 7, "the eighth event is in the WAL only"
        source.close()
    finally:
        app.close()
    source = EventsourcingSQLiteSource(plain.path)
    assert source.wal_pending is False
    assert source.head_position() == 8
    assert source.get_event(8).data == {"amount": "1", "currency": "EUR"}
    source.close()


def test_its_refusal_is_every_sources_foreign_store_error(tmp_path) -> None:
    with pytest.raises(AnySourcesError):
        EventsourcingSQLiteSource(tmp_path / "missing.db")
