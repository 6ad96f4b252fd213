"""The demo's read models checked against the log, for `eventscope db check`.

`AccountBalances` replays each account's events through the `BankAccount` aggregate (the
same fold commands decide on) and compares balance and status with its `account_summary`
row. A row reflects the events up to the projection's checkpoint, or up to its own
`last_position` when the projection moved on while the check read, so a projection that
is behind is not a divergence; one that skipped an event is.

By default a random sample of `SAMPLE_SIZE` accounts is checked; `--full` checks every
account and also lists rows of accounts the log does not hold.
"""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

from webapp.demo.bank import BankAccount
from webapp.demo.read_models._rows import load_rows
from webapp.demo.read_models.accounts import AccountSummary
from webapp.domain import from_data
from webapp.projections import Projections
from webapp.projections.checks import ReadModelReport, read_live
from webapp.projections.projection import Tables
from webapp.store import EventStore
from webapp.store.integrity import MAX_PROBLEMS, Problem

SAMPLE_SIZE = 100
"""Accounts `eventscope db check` compares without `--full`."""
PREFIX = "account-"


class AccountBalances:
    """Each account's balance and status in `account_summary` against a replay of its
    events."""

    name = AccountSummary.name

    def run(self, projections: Projections, *, full: bool) -> ReadModelReport:
        report = ReadModelReport(self.name, "account")
        streams = account_streams(projections.store)
        chosen = (
            streams if full or len(streams) <= SAMPLE_SIZE else random.sample(streams, SAMPLE_SIZE)
        )
        numbers = [stream_id.removeprefix(PREFIX) for stream_id in chosen]

        def rows_of(conn: sa.Connection, tables: Tables) -> dict[Any, dict[str, Any]]:
            table = tables["accounts"]
            if full:
                return {
                    r["account_number"]: dict(r) for r in conn.execute(sa.select(table)).mappings()
                }
            return load_rows(conn, table, "account_number", numbers)

        read = read_live(projections, self.name, rows_of)
        if read is None:
            report.built = False
            return report
        report.checked, report.total = len(chosen), len(streams)
        for number in sorted(numbers):
            what = self._divergence(projections, number, read.rows.get(number), read.checkpoint)
            if what is not None:
                report.problems.append(Problem(f"account {number}", what))
        if full:
            held = set(numbers)
            for number in sorted(set(read.rows) - held):
                report.problems.append(
                    Problem(f"account {number}", "in the read model, but not in the log")
                )
        del report.problems[MAX_PROBLEMS:]
        return report

    def _divergence(
        self, projections: Projections, number: str, row: dict[str, Any] | None, checkpoint: int
    ) -> str | None:
        reflected = max(checkpoint, int(row["last_position"]) if row is not None else 0)
        events = [
            e for e in projections.store.read_stream(PREFIX + number) if e.position <= reflected
        ]
        if not events:
            return None  # the projection has not reached the account yet
        account = BankAccount()
        for event in events:
            prepared = projections.upcast(event) if projections.upcast is not None else event
            account.apply(from_data(prepared.type, prepared.data))
        if account.status is None:
            return None  # no opening event: nothing the read model should hold
        replayed = f"replaying its {counted(len(events), 'event')} gives"
        if row is None:
            opened = events[0].position
            return f"missing, but the log has it (opened at position {opened})"
        if int(row["balance"]) != account.balance:
            return f"balance {int(row['balance']):,}, but {replayed} {account.balance:,}"
        if row["status"] != account.status:
            return f"status {row['status']}, but {replayed} {account.status}"
        return None


def counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def account_streams(store: EventStore, page: int = 1000) -> list[str]:
    """Every account's stream id, in order."""
    found: list[str] = []
    after: str | None = None
    while True:
        streams = store.list_streams(PREFIX, after=after, limit=page)
        found += [s.stream_id for s in streams]
        if len(streams) < page:
            return found
        after = streams[-1].stream_id
