"""Snapshots, and waiting for new events (LISTEN/NOTIFY on PostgreSQL, polling on SQLite)."""

from __future__ import annotations

import threading
import time

import pytest

from webapp.store import EventStore, InvalidAppend, NewEvent, Snapshot, open_store


def test_the_newest_snapshot_at_or_below_a_version(store: EventStore) -> None:
    for version in (2, 5, 9):
        store.save_snapshot(Snapshot("acc-1", version, 1, "Account", {"balance": version * 10}))
    store.save_snapshot(Snapshot("acc-2", 1, 1, "Account", {"balance": 0}))

    assert store.read_snapshot("acc-1").version == 9
    assert store.read_snapshot("acc-1", max_version=8).data == {"balance": 50}
    assert store.read_snapshot("acc-1", max_version=1) is None
    assert store.read_snapshot("missing") is None
    assert [s.version for s in store.list_snapshots("acc-1")] == [2, 5, 9]
    assert store.read_snapshot("acc-1").taken_at is not None


def test_the_newest_snapshots_of_many_streams_come_in_one_read(store: EventStore) -> None:
    for version in (2, 5, 9):
        store.save_snapshot(Snapshot("acc-1", version, 1, "Account", {"balance": version}))
    store.save_snapshot(Snapshot("acc-2", 1, 1, "Account", {"balance": 0}))
    many = [f"acc-{n}" for n in range(3, 1203)]  # more ids than one query takes
    store.save_snapshot(Snapshot("acc-1202", 4, 1, "Account", {"balance": 4}))

    latest = store.read_latest_snapshots(["acc-1", "acc-2", "missing", "acc-1", *many])

    assert sorted(latest) == ["acc-1", "acc-1202", "acc-2"]
    assert latest["acc-1"].version == 9 and latest["acc-1"].data == {"balance": 9}
    assert latest["acc-1202"] == store.read_snapshot("acc-1202")
    assert store.read_latest_snapshots([]) == {}


def test_a_snapshot_at_the_same_version_replaces_the_old_one(store: EventStore) -> None:
    store.save_snapshot(Snapshot("acc-1", 3, 1, "Account", {"old": True}))
    store.save_snapshot(Snapshot("acc-1", 3, 2, "Account", {"new": True}))

    (only,) = store.list_snapshots("acc-1")
    assert (only.snapshot_version, only.data) == (2, {"new": True})


def test_deleting_snapshots(store: EventStore) -> None:
    store.save_snapshot(Snapshot("acc-1", 1, 1, "Account", {}))
    store.save_snapshot(Snapshot("acc-1", 2, 1, "Account", {}))
    store.save_snapshot(Snapshot("acc-2", 2, 1, "Account", {}))

    assert store.delete_snapshots("acc-1") == 2
    assert store.list_snapshots("acc-1") == []
    assert len(store.list_snapshots("acc-2")) == 1


@pytest.mark.parametrize(
    "snapshot",
    [
        Snapshot("", 1, 1, "T", {}),
        Snapshot("s", 0, 1, "T", {}),
        Snapshot("s", 1, 1, "T", {"x": object()}),
    ],
    ids=["empty stream id", "version 0", "non-JSON data"],
)
def test_bad_snapshots_are_refused(store: EventStore, snapshot: Snapshot) -> None:
    with pytest.raises(InvalidAppend):
        store.save_snapshot(snapshot)
    assert store.list_snapshots(snapshot.stream_id or "s") == []


def test_wait_returns_at_once_when_events_are_already_there(store: EventStore) -> None:
    store.append("s", [NewEvent("A", {})])
    started = time.monotonic()
    assert store.wait_for_events(0, timeout=5) == store.head_position()
    assert time.monotonic() - started < 1


def test_wait_times_out_without_new_events(store: EventStore) -> None:
    store.append("s", [NewEvent("A", {})])
    head = store.head_position()
    started = time.monotonic()

    assert store.wait_for_events(head, timeout=0.3) == head
    assert 0.25 <= time.monotonic() - started < 2


def test_wait_wakes_on_an_append_from_another_store(db_url: str, store: EventStore) -> None:
    writer = open_store(db_url)
    try:
        head = store.head_position()
        timer = threading.Timer(0.2, lambda: writer.append("s", [NewEvent("A", {})]))
        started = time.monotonic()
        timer.start()

        new_head = store.wait_for_events(head, timeout=10)
        waited = time.monotonic() - started
        timer.join()

        assert new_head > head
        assert waited < 0.9  # woken by the notification / poll, not by the 1 s safety net
    finally:
        writer.close()
