"""The bank context: accounts that open, take deposits and withdrawals, and close.

Money is in integer cents. MoneyDeposited was first stored (schema 1) with the
amount as a decimal string in `value`; an upcaster lifts it to schema 2.
Transfers (a process manager in the projections layer) move money with
WithdrawMoney/DepositMoney and give a failed transfer's money back with RefundMoney,
which a closed account also accepts (the money left it; it must be able to return).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from webapp.demo.identity import USER_ID
from webapp.domain import (
    INFINITY,
    STOP,
    Aggregate,
    DomainError,
    Limits,
    Router,
    applies,
    command,
    event,
    handles,
    upcaster,
)
from webapp.domain.formats import enum, money
from webapp.domain.lifespan import Timeout

MAX_CENTS = 2**53 - 1
"""The largest amount, and balance, the bank holds: integer cents a double (and so a JSON
number anywhere) represents exactly; read models keep them in 64-bit integers."""
ACCOUNT_NUMBER = Limits(max_length=100, description="the account's number")
AMOUNT = Limits(minimum=1, maximum=MAX_CENTS, description="cents")
INITIAL_BALANCE = Limits(maximum=MAX_CENTS, description="cents, 0 or more")
"""What the bank's commands accept; `account_summary` sizes its columns from these."""
EUR = money("EUR")
"""How the bank's amounts and balances read: cents of a euro ("€10,208.79")."""

# --- commands -------------------------------------------------------------------------


@command("OpenAccount")
@dataclass(frozen=True)
class OpenAccount:
    """Open a bank account for an owner, with an initial balance in cents."""

    __formats__ = {"initial_balance": EUR}

    account_number: str = ACCOUNT_NUMBER.field()
    owner_id: str = USER_ID.field(description="the owner's user id")
    initial_balance: int = INITIAL_BALANCE.field(default=0)


@command("DepositMoney")
@dataclass(frozen=True)
class DepositMoney:
    """Pay money into an open account; refused if the balance would pass MAX_CENTS."""

    __formats__ = {"amount": EUR}

    account_number: str = ACCOUNT_NUMBER.field()
    amount: int = AMOUNT.field()


@command("WithdrawMoney")
@dataclass(frozen=True)
class WithdrawMoney:
    """Take money out of an open account; refused when funds are short."""

    __formats__ = {"amount": EUR}

    account_number: str = ACCOUNT_NUMBER.field()
    amount: int = AMOUNT.field()


@command("RefundMoney", internal=True)
@dataclass(frozen=True)
class RefundMoney:
    """Process step: return money that left this account for a transfer that failed.

    Accepted even once the account is closed: the refund then stays in the closed
    account's balance, owed to its owner, instead of being lost in between."""

    __formats__ = {"amount": EUR}

    account_number: str = ACCOUNT_NUMBER.field()
    amount: int = AMOUNT.field()
    transfer_id: str = ""


@command("CloseAccount")
@dataclass(frozen=True)
class CloseAccount:
    """Close an account; it takes no more deposits or withdrawals."""

    account_number: str = ACCOUNT_NUMBER.field()


# --- events ---------------------------------------------------------------------------


@event("BankAccountOpened", version=1)
@dataclass(frozen=True)
class BankAccountOpened:
    __formats__ = {"initial_balance": EUR}

    account_number: str
    owner_id: str
    initial_balance: int


@event("MoneyDeposited", version=2)
@dataclass(frozen=True)
class MoneyDeposited:
    __formats__ = {"amount": EUR}

    account_number: str
    amount: int


@event("MoneyWithdrawn", version=1)
@dataclass(frozen=True)
class MoneyWithdrawn:
    __formats__ = {"amount": EUR}

    account_number: str
    amount: int


@event("MoneyRefunded", version=1)
@dataclass(frozen=True)
class MoneyRefunded:
    __formats__ = {"amount": EUR}

    account_number: str
    amount: int
    transfer_id: str = ""


@event("BankAccountClosed", version=1)
@dataclass(frozen=True)
class BankAccountClosed:
    account_number: str


@upcaster("MoneyDeposited", from_version=1)
def deposit_value_to_cents(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 kept a decimal string `value` ("12.34"); schema 2 has `amount` in cents."""
    out = {k: v for k, v in data.items() if k != "value"}
    try:
        out["amount"] = int((Decimal(str(data.get("value"))) * 100).to_integral_value())
    except (InvalidOperation, ValueError, TypeError):
        out["amount"] = 0
    return out


# --- the aggregate --------------------------------------------------------------------


class BankAccount(Aggregate):
    __formats__ = {"balance": EUR, "status": enum("open", "closed")}
    __charted__ = ("balance",)

    snapshot_every = 100
    snapshot_version = 1

    def __init__(self) -> None:
        self.account_number: str | None = None
        self.owner_id: str | None = None
        self.balance = 0
        self.status: str | None = None

    def check_open(self, account_number: str) -> None:
        if self.status is None:
            raise DomainError("account_not_found", f"no account {account_number!r}")
        if self.status == "closed":
            raise DomainError("account_closed", f"account {account_number!r} is closed")

    @handles(OpenAccount, emits=[BankAccountOpened])
    def open_account(self, cmd: OpenAccount) -> BankAccountOpened:
        if self.status is not None:
            raise DomainError("account_already_opened", f"account {cmd.account_number!r} exists")
        if cmd.initial_balance < 0:
            raise DomainError("invalid_initial_balance", "the initial balance cannot be negative")
        return BankAccountOpened(cmd.account_number, cmd.owner_id, cmd.initial_balance)

    @handles(DepositMoney, emits=[MoneyDeposited])
    def deposit_money(self, cmd: DepositMoney) -> MoneyDeposited:
        self.check_open(cmd.account_number)
        if self.balance + cmd.amount > MAX_CENTS:
            raise DomainError.worded(
                "balance_out_of_range",
                "account {account_number!r} holds {balance}; a deposit of {amount} would "
                "take it past the largest balance, {largest}",
                account_number=cmd.account_number,
                balance=self.balance,
                amount=cmd.amount,
                largest=MAX_CENTS,
                reads={"largest": EUR},
            )
        return MoneyDeposited(cmd.account_number, cmd.amount)

    @handles(WithdrawMoney, emits=[MoneyWithdrawn])
    def withdraw_money(self, cmd: WithdrawMoney) -> MoneyWithdrawn:
        self.check_open(cmd.account_number)
        if cmd.amount > self.balance:
            raise DomainError.worded(
                "insufficient_funds",
                "account {account_number!r} holds {balance}, cannot withdraw {amount}",
                account_number=cmd.account_number,
                balance=self.balance,
                amount=cmd.amount,
            )
        return MoneyWithdrawn(cmd.account_number, cmd.amount)

    @handles(RefundMoney, emits=[MoneyRefunded])
    def refund_money(self, cmd: RefundMoney) -> MoneyRefunded:
        if self.status is None:
            raise DomainError("account_not_found", f"no account {cmd.account_number!r}")
        return MoneyRefunded(cmd.account_number, cmd.amount, cmd.transfer_id)

    @handles(CloseAccount, emits=[BankAccountClosed])
    def close_account(self, cmd: CloseAccount) -> BankAccountClosed | None:
        if self.status is None:
            raise DomainError("account_not_found", f"no account {cmd.account_number!r}")
        if self.status == "closed":
            return None  # closing a closed account changes nothing
        return BankAccountClosed(cmd.account_number)

    @applies(BankAccountOpened)
    def _opened(self, ev: BankAccountOpened) -> None:
        self.account_number, self.owner_id = ev.account_number, ev.owner_id
        self.balance = ev.initial_balance or 0
        self.status = "open"

    @applies(MoneyDeposited, MoneyRefunded)
    def _credited(self, ev: MoneyDeposited | MoneyRefunded) -> None:
        self.balance += ev.amount or 0

    @applies(MoneyWithdrawn)
    def _withdrawn(self, ev: MoneyWithdrawn) -> None:
        self.balance -= ev.amount or 0

    @applies(BankAccountClosed)
    def _closed(self, ev: BankAccountClosed) -> None:
        self.status = "closed"


class BankAccountLifespan:
    """Deposits keep an account warm for an hour; closing drops it; refusals drop it,
    except a bad opening balance, kept five minutes for the retry."""

    def after_event(self, event: Any) -> Timeout:
        if isinstance(event, MoneyDeposited | MoneyRefunded):
            return timedelta(hours=1)
        if isinstance(event, BankAccountClosed):
            return STOP
        return INFINITY

    def after_command(self, command: Any) -> Timeout:
        return STOP if isinstance(command, CloseAccount) else INFINITY

    def after_error(self, error: Exception) -> Timeout:
        if getattr(error, "code", None) == "invalid_initial_balance":
            return timedelta(minutes=5)
        return STOP


router = Router("bank")
router.route(
    [OpenAccount, DepositMoney, WithdrawMoney, RefundMoney, CloseAccount],
    to=BankAccount,
    identity="account_number",
    prefix="account-",
    lifespan=BankAccountLifespan(),
)
