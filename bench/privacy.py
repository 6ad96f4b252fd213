"""Privacy benchmarks: the cost of field encryption on append, and the time to forget a subject.

    python bench/privacy.py [--events 3000] [--subjects 100] [--forget-events 10000] [--repeat 3]

1. Append overhead: the same events (two personal fields: name and email) appended
   one per call, once through the privacy codec and once as they are, into separate
   streams of one fresh SQLite store, alternating in small chunks. Target: at most 1.3x.
   Creating a subject's key (once per subject) is timed separately.
2. Forget: a subject with 10,000 events (spread over 20 streams, with snapshots),
   forgotten on SQLite, including emptying both write-ahead logs. Target: under 1 s.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp.bootstrap import open_migrated_store, open_privacy
from webapp.config import Settings  # noqa: E402
from webapp.store.types import NewEvent, Snapshot  # noqa: E402

FIELDS = {"ProfileUpdated": {"name": "person_id", "email": "person_id"}}


def _events(count: int, subjects: int) -> list[tuple[str, NewEvent]]:
    out = []
    for n in range(count):
        person = f"p{n % subjects}"
        data = {
            "person_id": person,
            "name": f"Person Number {n % subjects} the {n}th",
            "email": f"person{n % subjects}@example.org",
            "plan": "gold",
            "visits": n,
        }
        out.append((f"profile-{person}", NewEvent("ProfileUpdated", data)))
    return out


class Deployment:
    def __init__(self, name: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"eventscope-bench-{name}-"))
        url = f"sqlite:///{self.folder / 'eventscope.db'}"
        key = base64.b64encode(os.urandom(32)).decode()
        self.store = open_migrated_store(url)
        self.privacy = open_privacy(
            Settings(db_url=url, master_key=key), store=self.store, personal_fields=FIELDS.get
        )

    def close(self) -> None:
        self.privacy.close()
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def bench_append(count: int, subjects: int, chunk: int = 50) -> tuple[float, float, float]:
    """Seconds for `count` single-event appends: (plain, encrypted, first-use key creation).

    Plain and encrypted appends alternate in chunks of `chunk` events (order flipping each
    chunk) so that load from other processes on the machine falls on both alike. Each
    subject's key is created (and timed) before the measured appends.
    """
    dep = Deployment("append")
    plain_time = secret_time = 0.0
    store, encode = dep.store, dep.privacy.codec.encode
    try:
        started = time.perf_counter()
        for n in range(subjects):
            dep.privacy.keys.key_for_writing(f"p{n}")
        key_time = time.perf_counter() - started
        for (stream_id, event), (_, twin) in zip(  # create the streams
            _events(subjects, subjects), _events(subjects, subjects), strict=True
        ):
            store.append("plain-" + stream_id, [event])
            store.append(stream_id, [encode(stream_id, twin)])
        plain_batch = _events(count, subjects)
        secret_batch = _events(count, subjects)
        for i, at in enumerate(range(0, count, chunk)):
            for kind in ("plain", "secret") if i % 2 == 0 else ("secret", "plain"):
                if kind == "plain":
                    started = time.perf_counter()
                    for stream_id, event in plain_batch[at : at + chunk]:
                        store.append("plain-" + stream_id, [event])
                    plain_time += time.perf_counter() - started
                else:
                    started = time.perf_counter()
                    for stream_id, event in secret_batch[at : at + chunk]:
                        store.append(stream_id, [encode(stream_id, event)])
                    secret_time += time.perf_counter() - started
    finally:
        dep.close()
    return plain_time, secret_time, key_time


def bench_forget(events: int, streams: int = 20) -> tuple[float, int]:
    dep = Deployment("forget")
    try:
        encode = dep.privacy.codec.encode
        per_stream = events // streams
        for s in range(streams):
            stream_id = f"profile-target-{s}"
            for start in range(0, per_stream, 500):
                batch = [
                    encode(
                        stream_id,
                        NewEvent(
                            "ProfileUpdated",
                            {
                                "person_id": "target",
                                "name": "Target Person",
                                "email": "target@example.org",
                                "visits": start + i,
                            },
                        ),
                    )
                    for i in range(min(500, per_stream - start))
                ]
                dep.store.append(stream_id, batch)
            dep.store.save_snapshot(Snapshot(stream_id, per_stream, 1, "Profile", {"n": s}))
        written = dep.store.count_events()
        started = time.perf_counter()
        result = dep.privacy.forget("target", reason="bench", actor="bench", role="admin")
        elapsed = time.perf_counter() - started
        assert result.snapshots_deleted == streams
        assert result.files_scrubbed
        return elapsed, written
    finally:
        dep.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--subjects", type=int, default=100)
    parser.add_argument("--forget-events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="append runs (median reported)")
    args = parser.parse_args()

    print(
        f"append {args.events} events one per call, two personal fields, "
        f"{args.subjects} subjects; median of {args.repeat} runs"
    )
    runs = sorted(
        (bench_append(args.events, args.subjects) for _ in range(args.repeat)),
        key=lambda r: r[1] / r[0],
    )
    for n, (p, e, _) in enumerate(runs, 1):
        print(f"  run {n}: plain {p:.3f} s, encrypted {e:.3f} s, ratio {e / p:.2f}x")
    plain, secret, key_time = runs[len(runs) // 2]
    ratio = secret / plain
    print(f"  median: plain {plain:.3f} s ({args.events / plain:,.0f} events/s)")
    print(f"          encrypted {secret:.3f} s ({args.events / secret:,.0f} events/s)")
    print(f"          ratio {ratio:.2f}x (target <= 1.30x) {'OK' if ratio <= 1.3 else 'OVER'}")
    print(
        f"  first use: {args.subjects} subject keys created in {key_time:.3f} s "
        f"({key_time / args.subjects * 1000:.2f} ms each, once per subject)"
    )

    elapsed, written = bench_forget(args.forget_events)
    print(f"forget a subject with {written} events over 20 streams (SQLite, WAL emptied)")
    print(f"  {elapsed * 1000:.0f} ms (target < 1000 ms) {'OK' if elapsed < 1 else 'OVER'}")


if __name__ == "__main__":
    main()
