"""Load the demo history (seed_data/demo.json) and generate synthetic events for scale tests.

The demo history is produced by dispatching commands through the router, so
every event is one the domain really decided; the only exception is the
legacy deposits, appended in their old schema as the system wrote them before
amounts were kept in cents. Business time travels in metadata as `occurred_at`
(the store stamps `recorded_at` itself).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from webapp.demo.bank import (
    CloseAccount,
    DepositMoney,
    OpenAccount,
    WithdrawMoney,
)
from webapp.demo.identity import ChangeEmail, RegisterUser
from webapp.demo.transfers import TransferMoney, seed_transfers
from webapp.domain import CommandRouter, DomainError
from webapp.store.types import NewEvent

Progress = Callable[[int], None]


@dataclass
class SeedReport:
    users: int = 0
    accounts: int = 0
    commands: int = 0
    events: int = 0
    legacy_events: int = 0
    transfers: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return "store is not empty; seed skipped"
        refused = ", ".join(f"{k}={v}" for k, v in sorted(self.refused.items())) or "none"
        return (
            f"seeded {self.events} events ({self.legacy_events} in an old schema) from "
            f"{self.commands} commands: {self.users} users, {self.accounts} accounts, "
            f"{self.transfers} transfers requested; "
            f"refused: {refused}; {self.seconds:.1f} s"
        )


def default_spec_path() -> Path:
    from webapp.resources import resource_dir

    return resource_dir("seed_data") / "demo.json"


def load_spec(path: Path | None = None) -> dict[str, Any]:
    return json.loads((path or default_spec_path()).read_text(encoding="utf-8"))


@dataclass(order=True)
class _Action:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    args: dict[str, Any] = field(compare=False, default_factory=dict)


def plan(spec: dict[str, Any]) -> list[_Action]:
    """The demo's commands in business-time order, from the spec and its fixed seed."""
    rng = random.Random(spec["seed"])
    start = datetime.fromisoformat(spec["start"])
    days = spec["days"]
    end = start + timedelta(days=days)
    seq = iter(range(10**9))
    actions: list[_Action] = []

    def at_between(lo: datetime, hi: datetime) -> datetime:
        span = max(1.0, (hi - lo).total_seconds())
        return lo + timedelta(seconds=rng.uniform(0, span))

    users = []
    used_names: set[tuple[str, str]] = set()
    for i in range(1, spec["users"] + 1):
        while True:
            first, last = rng.choice(spec["first_names"]), rng.choice(spec["last_names"])
            if (first, last) not in used_names:
                used_names.add((first, last))
                break
        user_id = f"u{i:03d}"
        email = f"{first}.{last}@{rng.choice(spec['email_domains'])}".lower()
        registered = at_between(start, start + timedelta(days=days // 3))
        users.append((user_id, registered))
        actions.append(
            _Action(
                registered,
                next(seq),
                "register",
                {"user_id": user_id, "name": f"{first} {last}", "email": email},
            )
        )
    for user_id, registered in rng.sample(users, spec["email_changes"]):
        first_last = f"{user_id}.{rng.randrange(100, 999)}"
        actions.append(
            _Action(
                at_between(registered + timedelta(days=1), end),
                next(seq),
                "change_email",
                {"user_id": user_id, "email": f"{first_last}@{rng.choice(spec['email_domains'])}"},
            )
        )

    n_accounts = spec["accounts"]
    long_ones = set(rng.sample(range(n_accounts), spec["long_accounts"]))
    closing = set(rng.sample(sorted(set(range(n_accounts)) - long_ones), spec["closed_accounts"]))
    legacy_until = start + timedelta(days=spec["legacy_deposit_days"])
    for i in range(n_accounts):
        account = f"{10001 + i}"
        owner_id, registered = users[i] if i < len(users) else rng.choice(users)
        opened = at_between(registered + timedelta(hours=1), registered + timedelta(days=20))
        actions.append(
            _Action(
                opened,
                next(seq),
                "open",
                {
                    "account_number": account,
                    "owner_id": owner_id,
                    "initial_balance": rng.randrange(0, 5000) * 10,
                },
            )
        )
        lo, hi = spec["long_account_events"] if i in long_ones else spec["events_per_account"]
        count = rng.randint(lo, hi)
        last_at = opened
        times = sorted(at_between(opened + timedelta(minutes=5), end) for _ in range(count))
        if i in closing:
            times = times[: max(1, count * 2 // 3)]
        for t in times:
            last_at = t
            roll = rng.random()
            if roll < spec["overdraw_rate"]:
                args = {"account_number": account, "amount": rng.randrange(500_000, 2_000_000)}
                actions.append(_Action(t, next(seq), "withdraw", args))
            elif roll < 0.58:
                amount = rng.randrange(100, 60_000)
                kind = "legacy_deposit" if t < legacy_until else "deposit"
                actions.append(
                    _Action(t, next(seq), kind, {"account_number": account, "amount": amount})
                )
            else:
                args = {"account_number": account, "amount": rng.randrange(100, 25_000)}
                actions.append(_Action(t, next(seq), "withdraw", args))
        if i in closing:
            closed_at = at_between(last_at, min(end, last_at + timedelta(days=10)))
            actions.append(_Action(closed_at, next(seq), "close", {"account_number": account}))
            late = closed_at + timedelta(days=rng.randint(1, 5))
            actions.append(
                _Action(late, next(seq), "deposit", {"account_number": account, "amount": 1000})
            )
    actions.sort()
    return actions


_COMMANDS = {
    "register": RegisterUser,
    "change_email": ChangeEmail,
    "open": OpenAccount,
    "deposit": DepositMoney,
    "withdraw": WithdrawMoney,
    "close": CloseAccount,
}


def load_seed(
    router: CommandRouter,
    *,
    spec: dict[str, Any] | None = None,
    progress: Progress | None = None,
    only_if_empty: bool = True,
) -> SeedReport:
    """Dispatch the demo history into the router's store. Skips a store that already has events."""
    spec = spec or load_spec()
    store = router.repository.store
    report = SeedReport()
    if only_if_empty and store.head_position() > 0:
        report.skipped = True
        return report
    started = time.perf_counter()
    rng = random.Random(spec["seed"] + 1)
    actors = spec["actors"]
    last_at: datetime | None = None
    for action in plan(spec):
        last_at = action.at
        metadata = {
            "occurred_at": action.at.isoformat(),
            "actor": rng.choice(actors),
            "source": "seed",
        }
        report.commands += 1
        if action.kind == "legacy_deposit":
            report.legacy_events += _append_legacy_deposit(router, action.args, metadata)
            report.events += 1
        else:
            try:
                result = router.dispatch(_COMMANDS[action.kind](**action.args), metadata=metadata)
            except DomainError as err:
                report.refused[err.code] += 1
            else:
                report.events += len(result.events)
                report.users += action.kind == "register"
                report.accounts += action.kind == "open"
        if progress is not None:
            progress(1)
    if router.is_routed(TransferMoney):
        # a few transfers, one into a closed account: the process manager refunds it
        at = {"occurred_at": (last_at + timedelta(hours=1)).isoformat()} if last_at else {}
        report.transfers = len(seed_transfers(router, metadata={"source": "seed", **at}))
    report.seconds = time.perf_counter() - started
    return report


def _append_legacy_deposit(
    router: CommandRouter, args: dict[str, Any], metadata: dict[str, Any]
) -> int:
    """Append a MoneyDeposited in its first schema (amount as a decimal string in `value`)."""
    stream_id = f"account-{args['account_number']}"
    registry, repository = router.registry, router.repository
    entry = registry.peek(stream_id)
    version = entry.version if entry is not None else _stream_version(repository.store, stream_id)
    cents = args["amount"]
    legacy = NewEvent(
        type="MoneyDeposited",
        schema_version=1,
        data={
            "account_number": args["account_number"],
            "value": f"{cents // 100}.{cents % 100:02d}",
        },
        metadata={
            **metadata,
            "correlation_id": str(uuid.uuid4()),
            "command": "DepositMoney",
            "schema_note": "written before amounts were kept in cents",
        },
    )
    repository.append(stream_id, [legacy], version)
    registry.evict(stream_id)  # the live copy did not see it: reload on next use
    return 1


def _stream_version(store: Any, stream_id: str) -> int:
    info = store.stream_info(stream_id)
    return info.version if info is not None else 0


# --- synthetic scale data --------------------------------------------------------------


def generate_synthetic(
    router: CommandRouter,
    count: int,
    *,
    events_per_stream: int = 200,
    seed: int = 7,
    progress: Progress | None = None,
) -> int:
    """Append `count` valid bank events in batches (one append per account stream).

    Accounts are named `account-syn<run>-<n>` so repeated runs never collide.
    Returns the number of events appended.
    """
    if count <= 0:
        return 0
    rng = random.Random(seed)
    repository = router.repository
    run = uuid.uuid4().hex[:6]
    start = datetime.fromisoformat("2024-01-01T00:00:00+00:00")
    written, n = 0, 0
    while written < count:
        n += 1
        account = f"syn{run}-{n:06d}"
        size = min(events_per_stream, count - written)
        correlation = str(uuid.uuid4())
        at = start + timedelta(minutes=n)
        balance = rng.randrange(0, 10_000)
        events = [
            _synthetic_event(
                "BankAccountOpened",
                {
                    "account_number": account,
                    "owner_id": f"syn-{n % 997}",
                    "initial_balance": balance,
                },
                "OpenAccount",
                correlation,
                at,
            )
        ]
        for k in range(1, size):
            amount = rng.randrange(1, 5_000)
            when = at + timedelta(seconds=k)
            if balance >= amount and rng.random() < 0.4:
                balance -= amount
                events.append(
                    _synthetic_event(
                        "MoneyWithdrawn",
                        {"account_number": account, "amount": amount},
                        "WithdrawMoney",
                        correlation,
                        when,
                    )
                )
            else:
                balance += amount
                events.append(
                    _synthetic_event(
                        "MoneyDeposited",
                        {"account_number": account, "amount": amount},
                        "DepositMoney",
                        correlation,
                        when,
                        schema_version=2,
                    )
                )
        repository.append(f"account-{account}", events, 0)
        written += len(events)
        if progress is not None:
            progress(len(events))
    return written


def _synthetic_event(
    type_name: str,
    data: dict[str, Any],
    command_name: str,
    correlation: str,
    at: datetime,
    schema_version: int = 1,
) -> NewEvent:
    return NewEvent(
        type=type_name,
        data=data,
        schema_version=schema_version,
        metadata={
            "correlation_id": correlation,
            "causation_id": correlation,
            "command": command_name,
            "actor": "synthetic",
            "occurred_at": at.isoformat(),
        },
    )


class DemoSeeder:
    """The demo's data for `eventscope demo` and `eventscope seed`, over one router."""

    def __init__(self, router: CommandRouter) -> None:
        self.router = router

    def planned_commands(self) -> int:
        """How many commands loading the seed data dispatches (for a progress bar)."""
        return len(plan(load_spec()))

    def load(self, progress: Progress | None = None) -> SeedReport:
        """Dispatch the demo history into an empty store (a store with events is skipped)."""
        return load_seed(self.router, progress=progress)

    def synthetic(
        self, count: int, *, events_per_stream: int = 200, progress: Progress | None = None
    ) -> int:
        """Append `count` valid synthetic bank events; returns how many were appended."""
        return generate_synthetic(
            self.router, count, events_per_stream=events_per_stream, progress=progress
        )
