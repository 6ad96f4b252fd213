"""Rehydration: load one aggregate of 10,000 events cold, with and without snapshots,
and against the `eventsourcing` library loading the same history.

    python bench/rehydrate.py [--events 10000] [--every 100]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
from pathlib import Path

from _domain_common import best_of, sqlite_url

from webapp.bootstrap import open_migrated_store, open_privacy
from webapp.config import Settings
from webapp.demo.bank import BankAccount
from webapp.domain import Repository
from webapp.domain.messages import from_data
from webapp.store import NewEvent


def build_history(store, stream_id: str, events: int, every: int) -> None:
    opened = NewEvent(
        "BankAccountOpened", {"account_number": "1", "owner_id": "u1", "initial_balance": 0}
    )
    batch = [opened] + [
        NewEvent("MoneyDeposited", {"account_number": "1", "amount": 1 + i % 97}, schema_version=2)
        for i in range(events - 1)
    ]
    for start in range(0, len(batch), 1000):
        store.append(stream_id, batch[start : start + 1000])
    repo = Repository(store, snapshots=False)
    agg = BankAccount()
    for recorded in store.read_stream(stream_id, limit=events):
        agg.apply(from_data(recorded.type, recorded.data))
        if recorded.stream_version % every == 0:
            repo.save_snapshot(agg, stream_id, recorded.stream_version)


class Every(BankAccount):
    aggregate_type = "BankAccount"


def eventsourcing_load(folder: Path, events: int) -> tuple[float, float, int]:
    """Time the eventsourcing library (SQLite) loading a 10,000-event aggregate."""
    os.environ["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
    os.environ["SQLITE_DBNAME"] = str(folder / "es.db")
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Account(Aggregate):
        @event("Opened")
        def __init__(self, owner_id: str, initial_balance: int) -> None:
            self.owner_id = owner_id
            self.balance = initial_balance

        @event("Deposited")
        def deposit(self, amount: int) -> None:
            self.balance += amount

    app = Application()
    account = Account("u1", 0)
    for i in range(events - 1):
        account.deposit(1 + i % 97)
    app.save(account)
    best, median = best_of(lambda: app.repository.get(account.id), repeat=5)
    balance = app.repository.get(account.id).balance
    return best, median, balance


ES_VERSION = __import__("importlib.metadata").metadata.version("eventsourcing")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()
    Every.snapshot_every = args.every
    folder = Path(tempfile.mkdtemp(prefix="eventscope-rehydrate-"))
    url = sqlite_url(folder, "store.db")
    store = open_migrated_store(url)
    stream = "account-1"
    build_history(store, stream, args.events, args.every)

    full = Repository(store, snapshots=False)
    snap = Repository(store)
    replay_best, replay_median = best_of(lambda: full.load(Every, stream), repeat=7)
    # the production codec (field encryption) in front of the same replay

    key = base64.b64encode(os.urandom(32)).decode()
    privacy = open_privacy(Settings(db_url=url, master_key=key), store=store)
    private = Repository(store, codec=privacy.codec, snapshots=False)
    private_best, private_median = best_of(lambda: private.load(Every, stream), repeat=7)
    snap_best, snap_median = best_of(lambda: snap.load(Every, stream), repeat=50)
    worst_v = args.events - 1
    worst_best, worst_median = best_of(
        lambda: snap.load(Every, stream, max_version=worst_v), repeat=50
    )
    _, _, report = snap.load(Every, stream, max_version=worst_v)
    a_full, _, _ = full.load(Every, stream)
    a_snap, _, _ = snap.load(Every, stream)
    assert a_full.balance == a_snap.balance

    raw = store.read_stream(stream, limit=args.events)
    up, codec = full.upcasters, full.codec

    def fold() -> None:
        agg = Every()
        for recorded in raw:
            ev = up.upcast(codec.decode(recorded))
            agg.apply(from_data(ev.type, ev.data))

    fold_s, fold_median = best_of(fold, repeat=7)

    es_best, es_median, es_balance = eventsourcing_load(folder, args.events)
    assert es_balance == a_full.balance

    n = args.events
    es_version = ES_VERSION
    rows = [
        ("full replay (store read + fold)", replay_best, replay_median, n / replay_best),
        ("full replay through PrivacyCodec", private_best, private_median, n / private_best),
        ("fold only, in memory", fold_s, fold_median, n / fold_s),
        (f"from snapshot at {n}, 0 replayed", snap_best, snap_median, None),
        (
            f"snapshot at {report.snapshot_version}, {report.events_replayed} replayed",
            worst_best,
            worst_median,
            None,
        ),
        (f"eventsourcing {es_version} repository.get", es_best, es_median, n / es_best),
    ]
    print(f"aggregate with {n} events, snapshot_every={args.every} (SQLite file, cold loads)")
    for label, best, median, rate in rows:
        per_s = f"{rate:12,.0f} events/s" if rate else ""
        print(f"  {label:<40} best {best * 1000:9.3f} ms  median {median * 1000:9.3f} ms {per_s}")
    print(f"  full replay, median rate {n / replay_median:12,.0f} events/s   (target >= 100,000)")
    print("ratios (medians)")
    print(
        f"  full replay / snapshot load       {replay_median / snap_median:8.1f}x   (target >= 20x)"
    )
    print(f"  full replay / worst-case snapshot {replay_median / worst_median:8.1f}x")
    print(f"  eventsourcing / our full replay   {es_median / replay_median:8.2f}x   (target >= 2x)")
    print(f"  eventsourcing / our full replay, best of each {es_best / replay_best:5.2f}x")
    privacy.close()
    store.close()


if __name__ == "__main__":
    main()
