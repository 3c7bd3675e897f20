"""Settling a payout: one conditional write, its event through the outbox, and its budget given back
when it failed for sure (once: the hold records it)."""

from __future__ import annotations

from datetime import timedelta

from mpesa.clock import now_utc
from mpesa.flows.b2c.ports import B2cDeps
from mpesa.records.model import Kind, Record, Settlement, SettleResult, Status
from mpesa.telemetry import logger


class PayoutSettler:
    def __init__(self, deps: B2cDeps) -> None:
        self._deps = deps

    def settle(self, payout_id: str, settlement: Settlement) -> SettleResult:
        result = self._deps.store.settle(payout_id, settlement)
        if result.changed and result.record.status is Status.FAILED:
            self.release_budget(result.record)
        if result.late_success:
            logger.error("a payout reported failed has succeeded; its budget was given back: review it")
        self._deps.outbox.announce(result)
        return result

    def mark_unknown(self, payout_id: str, reason: str, recheck_after_s: int) -> SettleResult:
        """PENDING → UNKNOWN (not final: Transaction Status or reconciliation settles it), announced once.
        The payout keeps its budget: it may have been paid."""
        store = self._deps.store
        result = store.mark_unknown(Kind.B2C, payout_id, reason, now_utc() + timedelta(seconds=recheck_after_s))
        if result.changed:
            self._deps.outbox.settled(result.record)
        return result

    def release_budget(self, record: Record) -> None:
        """Give a failed payout's budget back. If that fails the budget stays taken until its day ends:
        the guard-rail errs on the side of paying less, never more."""
        try:
            released = self._deps.budgets.release(record.transaction_id)
        except Exception:
            logger.exception("budget release failed; the reservation stays until the day ends")
            return
        if released:
            logger.info("budget given back", extra={"amount": record.amount})
