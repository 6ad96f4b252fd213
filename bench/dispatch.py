"""Dispatch throughput to warm aggregates on SQLite, against the `eventsourcing` library's
command-and-save loop (repository.get -> method -> save) on the same durability.

    python bench/dispatch.py [--commands 3000] [--accounts 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _domain_common import sqlite_url
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from webapp.bootstrap import open_migrated_store
from webapp.demo import build_demo_domain
from webapp.demo.bank import DepositMoney, OpenAccount


class Account(Aggregate):
    @event("Opened")
    def __init__(self, owner_id: str, initial_balance: int) -> None:
        self.owner_id = owner_id
        self.balance = initial_balance

    @event("Deposited")
    def deposit(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError("amount")
        self.balance += amount


class Bank(Application):
    def open_account(self) -> object:
        account = Account("u1", 0)
        self.save(account)
        return account.id

    def deposit_money(self, account_id: object, amount: int) -> None:
        account = self.repository.get(account_id)
        account.deposit(amount)
        self.save(account)


def eventscope_rate(folder: Path, commands: int, accounts: int) -> tuple[float, dict]:
    store = open_migrated_store(sqlite_url(folder, "d.db"))
    registry, router = build_demo_domain(store, start_reaper=False)
    for a in range(accounts):
        router.dispatch(OpenAccount(f"{a}", "u1", 0))
    started = time.perf_counter()
    for i in range(commands):
        router.dispatch(DepositMoney(f"{i % accounts}", 1 + i % 50), metadata={"actor": "bench"})
    elapsed = time.perf_counter() - started
    stats = registry.stats().to_dict()
    store.close()
    return commands / elapsed, stats


def eventsourcing_rate(folder: Path, commands: int, accounts: int, cache: bool) -> float:
    os.environ["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
    os.environ["SQLITE_DBNAME"] = str(folder / f"es-{cache}-{time.time_ns()}.db")
    if cache:
        os.environ["AGGREGATE_CACHE_MAXSIZE"] = "1000"
    else:
        os.environ.pop("AGGREGATE_CACHE_MAXSIZE", None)
    from eventsourcing.sqlite import SQLiteConnectionPool

    original = SQLiteConnectionPool._create_connection

    def same_durability(pool):  # eventscope's SQLite default is synchronous=NORMAL
        connection = original(pool)
        connection._sqlite_conn.execute("PRAGMA synchronous = NORMAL")
        return connection

    SQLiteConnectionPool._create_connection = same_durability

    try:
        app = Bank()
        ids = [app.open_account() for _ in range(accounts)]
        started = time.perf_counter()
        for i in range(commands):
            app.deposit_money(ids[i % accounts], 1 + i % 50)
        return commands / (time.perf_counter() - started)
    finally:
        SQLiteConnectionPool._create_connection = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=3000)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best = {
        "eventscope router.dispatch (warm registry)": 0.0,
        "eventsourcing get+save, aggregate cache": 0.0,
        "eventsourcing get+save, no cache": 0.0,
    }
    stats: dict = {}
    for _ in range(args.rounds):
        folder = Path(tempfile.mkdtemp(prefix="eventscope-dispatch-"))
        rate, stats = eventscope_rate(folder, args.commands, args.accounts)
        best["eventscope router.dispatch (warm registry)"] = max(
            best["eventscope router.dispatch (warm registry)"], rate
        )
        for cache, key in (
            (True, "eventsourcing get+save, aggregate cache"),
            (False, "eventsourcing get+save, no cache"),
        ):
            best[key] = max(
                best[key], eventsourcing_rate(folder, args.commands, args.accounts, cache)
            )
    print(
        f"{args.commands} deposits round-robin over {args.accounts} accounts, SQLite WAL "
        f"synchronous=NORMAL, best of {args.rounds}"
    )
    base = best["eventsourcing get+save, aggregate cache"]
    for name, rate in best.items():
        print(f"  {name:<45} {rate:8,.0f} commands/s  {rate / base:5.2f}x eventsourcing (cache)")
    print(f"  registry: hits {stats['hits']}, loads {stats['loads']}")


if __name__ == "__main__":
    main()
