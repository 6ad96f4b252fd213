"""Several processes writing one store: no lost or doubled write, and a safe global order."""

from __future__ import annotations

import importlib
import multiprocessing
import time
from pathlib import Path

import pytest

from webapp.store import EventStore

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch):
    """The worker module, importable by name in spawned children (they inherit sys.path)."""
    monkeypatch.syspath_prepend(str(HERE))
    return importlib.import_module("store_workers")


def test_writers_racing_on_one_stream_land_every_event_once(
    db_url: str, store: EventStore, workers
) -> None:
    processes, appends = 3, 30
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = [
            pool.apply_async(workers.append_with_retries, (db_url, "counter", w, appends))
            for w in range(processes)
        ]
        conflicts = [r.get(timeout=120) for r in results]
    assert all(c >= 0 for c in conflicts)

    events = store.read_stream("counter")
    assert [e.stream_version for e in events] == list(range(1, processes * appends + 1))
    written = sorted((e.data["writer"], e.data["n"]) for e in events)
    assert written == [(w, n) for w in range(processes) for n in range(appends)]
    for w in range(processes):  # each writer's events keep their own order
        mine = [e.data["n"] for e in events if e.data["writer"] == w]
        assert mine == list(range(appends))
    assert store.stream_info("counter").version == processes * appends
    assert store.count_events() == processes * appends


def test_a_follower_never_sees_the_global_order_go_back_or_skip(
    db_url: str, store: EventStore, workers
) -> None:
    processes, batches = 3, 25
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=workers.append_batches, args=(db_url, w, batches, w))
        for w in range(processes)
    ]
    for child in children:
        child.start()

    seen: list[int] = []
    after = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = any(child.is_alive() for child in children)
        page = store.read_all(after, limit=7)
        for event in page:
            assert event.position > after, "the global order went back"
            after = event.position
            seen.append(event.position)
        if not page:
            if not running:
                break
            store.wait_for_events(after, timeout=0.05)
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0

    everything = [e.position for e in store.read_all(0, limit=100_000)]
    assert seen == everything, "the follower missed an event committed below one it had seen"
    assert len(everything) == store.count_events() >= processes * batches


def test_threads_sharing_one_store_and_its_pool_lose_no_write(store: EventStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from webapp.store import NewEvent, WrongExpectedVersion

    def write(worker: int) -> None:
        for n in range(20):
            event = NewEvent("Counted", {"worker": worker, "n": n})
            while True:
                info = store.stream_info("shared")
                try:
                    store.append("shared", [event], info.version if info else 0)
                    break
                except WrongExpectedVersion:
                    continue

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))

    events = store.read_stream("shared")
    assert [e.stream_version for e in events] == list(range(1, 81))
    assert sorted((e.data["worker"], e.data["n"]) for e in events) == [
        (w, n) for w in range(4) for n in range(20)
    ]


def test_processes_starting_together_on_a_new_store_migrate_it_once(db_url: str, workers) -> None:
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        versions = pool.starmap(workers.migrate_and_append, [(db_url, w) for w in range(3)])

    assert versions == [1, 1, 1]
    from webapp.migrate import current_heads
    from webapp.store import open_store

    assert "store_0004" in current_heads(db_url)
    with open_store(db_url) as store:
        assert store.count_events() == 3
