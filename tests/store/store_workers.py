"""Process bodies for the multi-process tests (imported by spawned children by name)."""

from __future__ import annotations

import random

from webapp.bootstrap import open_migrated_store
from webapp.store import NewEvent, WrongExpectedVersion, open_store


def append_with_retries(url: str, stream_id: str, writer: int, count: int) -> int:
    """Append `count` single events to one shared stream with exact expected versions,
    re-reading the version and retrying on every conflict; return how many conflicts."""
    store = open_store(url)
    conflicts = 0
    try:
        for n in range(count):
            event = NewEvent("Counted", {"writer": writer, "n": n})
            while True:
                info = store.stream_info(stream_id)
                try:
                    store.append(stream_id, [event], info.version if info else 0)
                    break
                except WrongExpectedVersion:
                    conflicts += 1
    finally:
        store.close()
    return conflicts


def append_batches(url: str, writer: int, batches: int, seed: int) -> None:
    """Append batches of 1-5 events to a few streams of this writer's own."""
    rng = random.Random(seed)
    store = open_store(url)
    try:
        for n in range(batches):
            size = rng.randint(1, 5)
            store.append(
                f"w{writer}-{rng.randint(1, 3)}",
                [NewEvent("Written", {"writer": writer, "batch": n, "i": i}) for i in range(size)],
            )
    finally:
        store.close()


def migrate_and_append(url: str, writer: int) -> int:
    """Open a possibly brand-new store with migrate=True (as every worker does at start)
    and append one event; return the stream version written."""
    store = open_migrated_store(url)
    try:
        return store.append(f"starter-{writer}", [NewEvent("Started", {"writer": writer})]).version
    finally:
        store.close()
