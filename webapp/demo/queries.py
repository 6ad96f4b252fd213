"""Questions about the bank asked of its read models (live generation of each projection)."""

from __future__ import annotations

from typing import Any

from webapp.demo.read_models import accounts, transfers, users
from webapp.projections import Projections

Row = dict[str, Any]


def get_account_summary(projections: Projections, account_number: str) -> Row | None:
    return projections.query(
        "account_summary", lambda c, t: accounts.get_account_summary(c, t, str(account_number))
    )


def list_accounts(projections: Projections, **filters: Any) -> list[Row]:
    return projections.query(
        "account_summary", lambda c, t: accounts.list_accounts(c, t, **filters)
    )


def total_balance(projections: Projections) -> int:
    """The money held in every account together, in cents."""
    return projections.query("account_summary", accounts.total_balance)


def get_user(projections: Projections, user_id: str) -> Row | None:
    return projections.query("user_directory", lambda c, t: users.get_user(c, t, str(user_id)))


def list_users(projections: Projections, **filters: Any) -> list[Row]:
    return projections.query("user_directory", lambda c, t: users.list_users(c, t, **filters))


def get_transfer(projections: Projections, transfer_id: str) -> Row | None:
    return projections.query(
        "transfer_summary", lambda c, t: transfers.get_transfer(c, t, str(transfer_id))
    )


def list_transfers(projections: Projections, **filters: Any) -> list[Row]:
    return projections.query(
        "transfer_summary", lambda c, t: transfers.list_transfers(c, t, **filters)
    )
