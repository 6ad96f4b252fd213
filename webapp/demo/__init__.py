"""The demo domain: a bank with identity, accounts and transfers, and its read side.

Only the composition root (`webapp.bootstrap`) wires it in; no other layer imports it.
To start a domain of your own, copy this package and change what it declares:

- `routers()`: each bounded context's routing table (commands to aggregates);
- `projections()` and `read_models()`: its read models and how the dashboard finds rows;
- `process_managers(settings)`: long-running processes (here: a transfer with
  compensation);
- `seeder(router)`: the demo data `eventscope demo` loads into an empty store;
- `checks()`: read models `eventscope db check` compares with a replay of the log;
- `references()`: payload fields that name another stream (`owner_id` -> `user-`), which
  the dashboard links.
"""

from __future__ import annotations

from typing import Any

from webapp.config import Settings
from webapp.demo import bank, identity, transfers
from webapp.demo.checks import AccountBalances
from webapp.demo.read_models import accounts, users
from webapp.demo.read_models import transfers as transfer_rows
from webapp.demo.read_models.accounts import AccountSummary
from webapp.demo.read_models.transfers import TransferSummary
from webapp.demo.read_models.users import UserDirectory
from webapp.demo.seed import DemoSeeder
from webapp.demo.transfer_process import DEFAULT_TIMEOUT_SECONDS, TransferProcess
from webapp.domain import AggregateRegistry, CommandRouter, PayloadCodec, Router, build_domain
from webapp.domain.references import References
from webapp.projections import ProcessManager, Projection
from webapp.projections.checks import ReadModelCheck
from webapp.projections.lookups import ReadModelLookup


def context_routers() -> list[Router]:
    """The routing tables of the identity and bank contexts."""
    return [identity.router, bank.router]


def routers() -> list[Router]:
    """Every context's routing table, transfers included."""
    return [*context_routers(), transfers.router]


def projections() -> list[Projection]:
    """The demo's read models: account balances, the people directory, transfers."""
    return [AccountSummary(), UserDirectory(), TransferSummary()]


def process_managers(settings: Settings) -> list[ProcessManager]:
    """TransferMoney: debit, credit, and a refund when the credit fails or times out
    (after `transfer_timeout` seconds, 60 unless the settings say otherwise)."""
    timeout = settings.extra.get("transfer_timeout", DEFAULT_TIMEOUT_SECONDS)
    return [TransferProcess(timeout_seconds=float(timeout))]  # type: ignore[arg-type]


def read_models() -> list[ReadModelLookup]:
    """What the dashboard may look up: an account by number, a person by id, a transfer by
    id; each also pages in key order, so each can be reported as CSV."""
    return [
        ReadModelLookup(
            "accounts",
            AccountSummary.name,
            accounts.get_account_summary,
            accounts.list_accounts,
            key="account_number",
            columns=accounts.COLUMNS,
        ),
        ReadModelLookup(
            "users",
            UserDirectory.name,
            users.get_user,
            users.list_users,
            key="user_id",
            columns=users.COLUMNS,
        ),
        ReadModelLookup(
            "transfers",
            TransferSummary.name,
            transfer_rows.get_transfer,
            transfer_rows.page_transfers,
            key="transfer_id",
            columns=transfer_rows.COLUMNS,
        ),
    ]


def checks() -> list[ReadModelCheck]:
    """Account balances and statuses against a replay of each account's events."""
    return [AccountBalances()]


def references() -> References:
    """Fields that name another stream: a user by id, an account by number, a transfer; a
    user's stream is a data subject's."""
    return References(
        {
            "user_id": "user-",
            "owner_id": "user-",
            "account_number": "account-",
            "from_account": "account-",
            "to_account": "account-",
            "transfer_id": "transfer-",
        },
        subjects="user-",
    )


def seeder(router: CommandRouter) -> DemoSeeder:
    """The demo history (`seed_data/`) and synthetic bank events, dispatched through `router`."""
    return DemoSeeder(router)


def build_demo_domain(
    store: Any, *, codec: PayloadCodec | None = None, **options: Any
) -> tuple[AggregateRegistry, CommandRouter]:
    """The identity and bank contexts over `store` (for tests and benchmarks of the domain)."""
    return build_domain(store, context_routers(), codec=codec, **options)
