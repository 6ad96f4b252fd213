"""TransferMoney as a process manager: debit the source, credit the target, refund on failure.

Money only moves through the bank's own commands (WithdrawMoney, DepositMoney),
so balances stay correct for every reader; the transfer stream records each
step. Compensation: when the target refuses the credit (closed, unknown) or the
transfer times out after the debit, the amount is paid back into the source and
`TransferRefunded` + `TransferFailed` are recorded. The refund is the bank's
RefundMoney, which a source account closed in the meantime also accepts, so a
refund cannot be refused. Money is never created or lost.
"""

from __future__ import annotations

from typing import Any, ClassVar

from webapp.demo.bank import DepositMoney, RefundMoney, WithdrawMoney
from webapp.demo.transfers import (
    CompleteTransfer,
    FailTransfer,
    RecordTransferDebit,
    StartTransferCredit,
    TimeOutTransfer,
)
from webapp.domain import DomainError
from webapp.projections.process_manager import ProcessContext, ProcessManager
from webapp.store.types import RecordedEvent

DEFAULT_TIMEOUT_SECONDS = 60.0


class TransferProcess(ProcessManager):
    name: ClassVar[str] = "transfer_money"
    starts = frozenset({"TransferRequested"})
    continues = frozenset({"TransferDebited", "TransferTimedOut"})
    stops = frozenset({"TransferCompleted", "TransferFailed"})

    def __init__(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.timeout_seconds = timeout_seconds

    def instance_id(self, event: RecordedEvent) -> str | None:
        value = event.data.get("transfer_id")
        return str(value) if value is not None else None

    def initial_state(self) -> dict[str, Any]:
        return {"status": "requested", "debited": False, "credited": False, "refunded": False}

    def failure(self, state: dict[str, Any]) -> str | None:
        """A transfer that failed, and whether the debit was refunded."""
        if state.get("status") != "failed":
            return None
        return "failed, debit refunded" if state.get("refunded") else "failed"

    def handle(
        self, ctx: ProcessContext, state: dict[str, Any], event: RecordedEvent
    ) -> dict[str, Any]:
        state = dict(state)
        data = event.data
        if event.type == "TransferRequested":
            return self._debit_source(ctx, state, data)
        if event.type == "TransferDebited":
            return self._credit_target(ctx, state)
        if event.type == "TransferTimedOut":
            return self._give_up(ctx, state, "timed_out")
        if event.type in ("TransferCompleted", "TransferFailed"):
            state["status"] = "completed" if event.type == "TransferCompleted" else "failed"
        return state

    def _debit_source(
        self, ctx: ProcessContext, state: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        transfer_id = str(data["transfer_id"])
        state.update(
            transfer_id=transfer_id,
            from_account=str(data["from_account"]),
            to_account=str(data["to_account"]),
            amount=int(data["amount"]),
        )
        ctx.schedule_timeout("settle", TimeOutTransfer(transfer_id), after=self.timeout_seconds)
        try:
            ctx.dispatch(WithdrawMoney(state["from_account"], state["amount"]), step="debit")
        except DomainError as refused:
            ctx.dispatch(FailTransfer(transfer_id, f"debit refused: {refused.code}"), step="fail")
            state["status"] = "failed"
            return state
        state["debited"] = True
        try:
            ctx.dispatch(RecordTransferDebit(transfer_id), step="record-debit")
            state["status"] = "debited"
        except DomainError:
            pass  # already timed out: the TransferTimedOut event brings the refund
        return state

    def _credit_target(self, ctx: ProcessContext, state: dict[str, Any]) -> dict[str, Any]:
        transfer_id = state["transfer_id"]
        try:
            ctx.dispatch(StartTransferCredit(transfer_id), step="start-credit")
        except DomainError:
            return state  # timed out first: the timeout's handler refunds
        ctx.cancel_timeout("settle")
        try:
            ctx.dispatch(DepositMoney(state["to_account"], state["amount"]), step="credit")
        except DomainError as refused:
            return self._refund(ctx, state, f"credit refused: {refused.code}")
        state["credited"] = True
        ctx.dispatch(CompleteTransfer(transfer_id), step="complete")
        state["status"] = "completed"
        return state

    def _give_up(self, ctx: ProcessContext, state: dict[str, Any], reason: str) -> dict[str, Any]:
        if state.get("credited") or state.get("status") in ("completed", "failed"):
            return state
        if state.get("debited"):
            return self._refund(ctx, state, reason)
        ctx.dispatch(FailTransfer(state["transfer_id"], reason), step="fail")
        state["status"] = "failed"
        return state

    def _refund(self, ctx: ProcessContext, state: dict[str, Any], reason: str) -> dict[str, Any]:
        refund = RefundMoney(state["from_account"], state["amount"], state["transfer_id"])
        ctx.dispatch(refund, step="refund")
        state["refunded"] = True
        ctx.dispatch(
            FailTransfer(state["transfer_id"], reason, refunded=state["amount"]), step="fail"
        )
        state["status"] = "failed"
        return state
