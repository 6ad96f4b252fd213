"""Views logged off the request's path: queued, written in batches, never lost, always read."""

from __future__ import annotations

import threading
import time

import pytest

from webapp.privacy.access_batches import BatchWriter
from webapp.privacy.access_log import AccessLog

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def written(privacy) -> list[str]:
    """Subject ids in the table itself, oldest first, without flushing the queue."""
    unbatched = AccessLog(privacy.engine, batched=False)
    return [e.subject_id for e in reversed(unbatched.query(limit=500).entries)]


def test_a_view_is_seen_by_a_reader_right_after_it(privacy):
    privacy.record_access("sam", "view", "s1", "GET /api/streams/user-s1/events")

    [entry] = privacy.access_log().entries

    assert (entry.actor, entry.action, entry.subject_id) == ("sam", "view", "s1")


@SQLITE_ONLY
def test_views_are_written_in_the_background_without_a_reader(privacy):
    privacy.record_access("sam", "view", ["s1", "s2"], "api")

    deadline = time.monotonic() + 5
    while written(privacy) != ["s1", "s2"] and time.monotonic() < deadline:
        time.sleep(0.05)

    assert written(privacy) == ["s1", "s2"]


@SQLITE_ONLY
def test_views_queued_at_a_clean_shutdown_are_written(privacy):
    privacy.log.batches.flush_seconds = 60  # nothing would be written before the close
    for n in range(20):
        privacy.record_access("sam", "view", f"s{n}", "api")

    privacy.close()

    assert written(privacy) == [f"s{n}" for n in range(20)]


@SQLITE_ONLY
def test_exports_forgets_and_reveals_are_written_before_the_call_returns(privacy):
    privacy.log.batches.flush_seconds = 60
    privacy.record_access("sam", "view", "s1", "api")
    privacy.record_access("amy", "export", "s1", "cli", purpose="ticket 7")

    assert written(privacy) == ["s1", "s1"]  # the queued view first: the order is kept


@SQLITE_ONLY
def test_views_from_many_threads_are_all_written_in_few_transactions(privacy, monkeypatch):
    batches = []
    insert = privacy.log._insert

    def counted(rows: list[dict]) -> None:
        batches.append(len(rows))
        insert(rows)

    monkeypatch.setattr(privacy.log.batches, "_write", counted)

    def views(thread: int) -> None:
        for n in range(50):
            privacy.record_access("sam", "view", f"t{thread}-{n}", "api")

    threads = [threading.Thread(target=views, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(privacy.access_log(limit=500).entries) == 400
    assert sum(batches) == 400
    assert len(batches) < 400


def test_a_batch_larger_than_one_insert_is_written_whole_and_in_order(privacy):
    privacy.log.batches.flush_seconds = 60
    per_insert = privacy.log._rows_per_insert
    count = 2 * per_insert + 7  # two full statements and a short one
    subjects = [f"s{n:04d}" for n in range(count)]
    purpose = "review\tof ticket\n7 \\ «Zoë» , 'quoted' \"too\""  # what a bulk path escapes
    for subject in subjects:
        privacy.record_access("sam", "view", subject, "api: global log", purpose=purpose)

    privacy.log.flush()

    entries = list(reversed(privacy.access_log(limit=count + 10).entries))
    assert [e.subject_id for e in entries] == subjects
    assert {(e.actor, e.action, e.what, e.purpose) for e in entries} == {
        ("sam", "view", "api: global log", purpose)
    }


def test_a_batch_the_database_refuses_is_kept_and_written_later():
    landed: list[dict] = []
    failures = [RuntimeError("database is locked")]

    def write(rows: list[dict]) -> None:
        if failures:
            raise failures.pop()
        landed.extend(rows)

    batches = BatchWriter(write, flush_seconds=60)
    batches.put([{"n": 1}])
    with pytest.raises(RuntimeError):
        batches.flush()
    assert batches.pending() == 1

    batches.put([{"n": 2}])
    batches.close()

    assert landed == [{"n": 1}, {"n": 2}]


def test_a_full_queue_makes_the_caller_wait_instead_of_dropping_rows():
    landed: list[dict] = []
    release = threading.Event()

    def write(rows: list[dict]) -> None:
        release.wait(5)
        landed.extend(rows)

    batches = BatchWriter(write, flush_seconds=60, capacity=2)
    batches.put([{"n": 1}, {"n": 2}])  # taken at once (half full), its write held
    time.sleep(0.1)
    batches.put([{"n": 3}, {"n": 4}])  # the queue is full now
    fifth = threading.Thread(target=batches.put, args=([{"n": 5}],))
    fifth.start()
    fifth.join(0.3)
    waited = fifth.is_alive()
    release.set()
    fifth.join(5)
    batches.close()

    assert waited
    assert [row["n"] for row in landed] == [1, 2, 3, 4, 5]


def test_rows_put_after_close_are_written_at_once():
    landed: list[dict] = []
    batches = BatchWriter(landed.extend)
    batches.close()

    batches.put([{"n": 1}])

    assert landed == [{"n": 1}]
