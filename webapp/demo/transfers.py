"""The transfers context: a transfer between two bank accounts, run by a process manager.

`TransferMoney` opens stream `transfer-<id>` with `TransferRequested`. The process
manager (webapp.demo.transfer_process) then moves the money with the bank's
own commands (WithdrawMoney, DepositMoney) and records each step here. The
Transfer aggregate is the arbiter of the race between a timeout and the credit:
once `TransferCreditStarted` is recorded the transfer can no longer time out, and
once it has timed out the credit can no longer start, so the money is moved
exactly one way (credited to the target, or refunded to the source).

    requested -> debited -> crediting -> completed
        |           |            \\-> failed (target refused; refunded)
        |           \\-> timed_out -> failed (refunded)
        \\-> failed (debit refused; nothing moved)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.demo.bank import ACCOUNT_NUMBER, AMOUNT, EUR
from webapp.domain import (
    INFINITY,
    STOP,
    Aggregate,
    CommandValidationError,
    DomainError,
    Limits,
    Router,
    applies,
    command,
    event,
    handles,
)
from webapp.domain.formats import enum
from webapp.domain.lifespan import Timeout

TRANSFER_ID = Limits(max_length=100, description="the transfer's id")
"""What TransferMoney accepts beyond the bank's own limits; `transfer_summary` sizes its
columns from these."""

# --- commands -------------------------------------------------------------------------


@command("TransferMoney")
@dataclass(frozen=True)
class TransferMoney:
    """Move money from one account to another; refunded if the credit side fails."""

    __formats__ = {"amount": EUR}

    transfer_id: str = TRANSFER_ID.field()
    from_account: str = ACCOUNT_NUMBER.field(description="the account to debit")
    to_account: str = ACCOUNT_NUMBER.field(description="the account to credit")
    amount: int = AMOUNT.field()

    def check(self) -> None:
        if self.from_account == self.to_account:
            msg = "a transfer needs two different accounts"
            raise CommandValidationError("invalid_value", msg, field="to_account")


@command("RecordTransferDebit", internal=True)
@dataclass(frozen=True)
class RecordTransferDebit:
    """Process step: the source account has been debited."""

    transfer_id: str


@command("StartTransferCredit", internal=True)
@dataclass(frozen=True)
class StartTransferCredit:
    """Process step: commit to crediting the target (no timeout after this)."""

    transfer_id: str


@command("CompleteTransfer", internal=True)
@dataclass(frozen=True)
class CompleteTransfer:
    """Process step: the target account has been credited."""

    transfer_id: str


@command("TimeOutTransfer", internal=True)
@dataclass(frozen=True)
class TimeOutTransfer:
    """Fired by the durable timer when a transfer has not settled in time."""

    transfer_id: str


@command("FailTransfer", internal=True)
@dataclass(frozen=True)
class FailTransfer:
    """Process step: the transfer failed; `refunded` cents went back to the source."""

    __formats__ = {"refunded": EUR}

    transfer_id: str
    reason: str
    refunded: int = 0


# --- events ---------------------------------------------------------------------------


@event("TransferRequested")
@dataclass(frozen=True)
class TransferRequested:
    __formats__ = {"amount": EUR}

    transfer_id: str
    from_account: str
    to_account: str
    amount: int


@event("TransferDebited")
@dataclass(frozen=True)
class TransferDebited:
    __formats__ = {"amount": EUR}

    transfer_id: str
    account_number: str
    amount: int


@event("TransferCreditStarted")
@dataclass(frozen=True)
class TransferCreditStarted:
    __formats__ = {"amount": EUR}

    transfer_id: str
    account_number: str
    amount: int


@event("TransferCompleted")
@dataclass(frozen=True)
class TransferCompleted:
    transfer_id: str


@event("TransferTimedOut")
@dataclass(frozen=True)
class TransferTimedOut:
    transfer_id: str


@event("TransferRefunded")
@dataclass(frozen=True)
class TransferRefunded:
    """The compensation: the debited amount went back to the source account."""

    __formats__ = {"amount": EUR}

    transfer_id: str
    account_number: str
    amount: int


@event("TransferFailed")
@dataclass(frozen=True)
class TransferFailed:
    transfer_id: str
    reason: str


# --- the aggregate --------------------------------------------------------------------

SETTLED = frozenset({"completed", "failed"})


STATUSES = ("requested", "debited", "crediting", "completed", "timed_out", "failed")


class Transfer(Aggregate):
    __formats__ = {"amount": EUR, "refunded": EUR, "status": enum(*STATUSES)}

    def __init__(self) -> None:
        self.transfer_id: str | None = None
        self.from_account: str | None = None
        self.to_account: str | None = None
        self.amount = 0
        self.status: str | None = None
        self.reason: str | None = None
        self.refunded = 0

    def _check_exists(self, transfer_id: str) -> None:
        if self.status is None:
            raise DomainError("transfer_not_found", f"no transfer {transfer_id!r}")

    def _refuse(self, step: str) -> DomainError:
        return DomainError(
            "transfer_wrong_state",
            f"transfer {self.transfer_id!r} is {self.status}; cannot {step}",
            status=self.status,
        )

    @handles(TransferMoney, emits=[TransferRequested])
    def transfer_money(self, cmd: TransferMoney) -> TransferRequested:
        if self.status is not None:
            raise DomainError("transfer_exists", f"transfer {cmd.transfer_id!r} already exists")
        return TransferRequested(cmd.transfer_id, cmd.from_account, cmd.to_account, cmd.amount)

    @handles(RecordTransferDebit, emits=[TransferDebited])
    def record_debit(self, cmd: RecordTransferDebit) -> TransferDebited:
        self._check_exists(cmd.transfer_id)
        if self.status != "requested":
            raise self._refuse("record the debit")
        return TransferDebited(cmd.transfer_id, self.from_account or "", self.amount)

    @handles(StartTransferCredit, emits=[TransferCreditStarted])
    def start_credit(self, cmd: StartTransferCredit) -> TransferCreditStarted:
        self._check_exists(cmd.transfer_id)
        if self.status != "debited":
            raise self._refuse("start the credit")
        return TransferCreditStarted(cmd.transfer_id, self.to_account or "", self.amount)

    @handles(CompleteTransfer, emits=[TransferCompleted])
    def complete(self, cmd: CompleteTransfer) -> TransferCompleted | None:
        self._check_exists(cmd.transfer_id)
        if self.status == "completed":
            return None
        if self.status != "crediting":
            raise self._refuse("complete")
        return TransferCompleted(cmd.transfer_id)

    @handles(TimeOutTransfer, emits=[TransferTimedOut])
    def time_out(self, cmd: TimeOutTransfer) -> TransferTimedOut:
        self._check_exists(cmd.transfer_id)
        if self.status not in ("requested", "debited"):
            raise self._refuse("time out")
        return TransferTimedOut(cmd.transfer_id)

    @handles(FailTransfer, emits=[TransferRefunded, TransferFailed])
    def fail(self, cmd: FailTransfer) -> list[object] | None:
        self._check_exists(cmd.transfer_id)
        if self.status == "failed":
            return None
        if self.status == "completed":
            raise self._refuse("fail")
        events: list[object] = []
        if cmd.refunded:
            events.append(TransferRefunded(cmd.transfer_id, self.from_account or "", cmd.refunded))
        events.append(TransferFailed(cmd.transfer_id, cmd.reason))
        return events

    @applies(TransferRequested)
    def _requested(self, ev: TransferRequested) -> None:
        self.transfer_id, self.amount = ev.transfer_id, ev.amount or 0
        self.from_account, self.to_account = ev.from_account, ev.to_account
        self.status = "requested"

    @applies(TransferDebited)
    def _debited(self, ev: TransferDebited) -> None:
        self.status = "debited"

    @applies(TransferCreditStarted)
    def _crediting(self, ev: TransferCreditStarted) -> None:
        self.status = "crediting"

    @applies(TransferCompleted)
    def _completed(self, ev: TransferCompleted) -> None:
        self.status = "completed"

    @applies(TransferTimedOut)
    def _timed_out(self, ev: TransferTimedOut) -> None:
        self.status = "timed_out"

    @applies(TransferRefunded)
    def _refunded(self, ev: TransferRefunded) -> None:
        self.refunded += ev.amount or 0

    @applies(TransferFailed)
    def _failed(self, ev: TransferFailed) -> None:
        self.status, self.reason = "failed", ev.reason


class TransferLifespan:
    """A transfer in flight stays warm for its process manager; a finished one leaves memory."""

    def after_event(self, event: Any) -> Timeout:
        return STOP if isinstance(event, TransferCompleted | TransferFailed) else INFINITY

    def after_command(self, command: Any) -> Timeout:
        return INFINITY

    def after_error(self, error: Exception) -> Timeout:
        return STOP


router = Router("transfers")
router.route(
    [
        TransferMoney,
        RecordTransferDebit,
        StartTransferCredit,
        CompleteTransfer,
        TimeOutTransfer,
        FailTransfer,
    ],
    to=Transfer,
    identity="transfer_id",
    prefix="transfer-",
    lifespan=TransferLifespan(),
)


def seed_transfers(router: object, *, count: int = 6, metadata: dict | None = None) -> list[str]:
    """Request a few demo transfers between seeded accounts; returns their ids.

    Deterministic: between the open accounts with the largest balances, plus one
    into a closed account (its credit is refused, so the process manager refunds
    it: the demo's compensated transfer). The process manager does the rest when
    a worker runs. Skips transfers that exist already, so running it twice is harmless.
    """
    store = router.repository.store  # type: ignore[attr-defined]
    accounts = []
    after = None
    while True:
        page = store.list_streams("account-", after=after, limit=500)
        if not page:
            break
        for info in page:
            state = router.state_at(info.stream_id).state  # type: ignore[attr-defined]
            accounts.append((info.stream_id.removeprefix("account-"), state))
        after = page[-1].stream_id
    open_ = sorted(
        (a for a in accounts if a[1].get("status") == "open"),
        key=lambda a: (-int(a[1].get("balance") or 0), a[0]),
    )
    closed = [a for a in accounts if a[1].get("status") == "closed"]
    if len(open_) < 2:
        return []
    plans: list[tuple[str, str, int]] = []
    for i in range(max(count - 1, 1)):
        source, target = open_[i % len(open_)], open_[(i + 1) % len(open_)]
        amount = max(1, int(source[1].get("balance") or 0) // 10)
        plans.append((source[0], target[0], amount))
    if closed:
        source = open_[0]
        plans.append((source[0], closed[0][0], max(1, int(source[1].get("balance") or 0) // 20)))
    ids = []
    for n, (source, target, amount) in enumerate(plans, start=1):
        transfer_id = f"seed-{n:03d}"
        try:
            router.dispatch(  # type: ignore[attr-defined]
                TransferMoney(transfer_id, source, target, amount),
                metadata={"source": "seed", "actor": "seed", **(metadata or {})},
            )
        except DomainError as err:
            if err.code != "transfer_exists":
                raise
        ids.append(transfer_id)
    return ids
