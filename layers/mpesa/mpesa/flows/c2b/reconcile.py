"""The C2B flow's part in the daily reconciliation (mpesa.reconciliation.daily.FlowReconciler).

A C2B payment is final when it is recorded, so no C2B record is ever open. What the statement adds is
the payments whose confirmation Daraja never delivered: a customer's Pay Bill or Buy Goods line on one of
our C2B shortcodes that no record holds (and that no open STK push took) is recorded as the confirmation
would have recorded it, flagged FROM_STATEMENT and `settled_by reconciliation`, matched to its expected
payment, and announced (`c2b.received`). Its TransID is its key: a re-run, or the confirmation arriving
late, finds it and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from mpesa.flows.c2b.confirmation import C2BConfirmations
from mpesa.flows.c2b.model import C2BFlag, NewC2BPayment
from mpesa.flows.c2b.ports import C2BDeps, Written
from mpesa.reconciliation.findings import Discrepancy, Resolution, ResolutionKind
from mpesa.reconciliation.statement import StatementLine
from mpesa.records.model import Kind, Record, SettledBy
from mpesa.telemetry import logger

# Money a customer paid in (Pull Transactions' `transactiontype`: "c2b-pay-bill-debit", "Pay Bill", …);
# payouts, reversals and charges are never recorded as customer payments.
PAID_IN = ("pay-bill", "pay bill", "paybill", "buy-goods", "buy goods", "buygoods")
NOT_PAID_IN = ("reversal", "b2c", "charge", "withdraw")


def is_paid_in(transaction_type: str) -> bool:
    kind = transaction_type.strip().lower()
    return any(word in kind for word in PAID_IN) and not any(word in kind for word in NOT_PAID_IN)


class C2BReconciler:
    kind = Kind.C2B

    def __init__(self, deps: C2BDeps, confirmations: C2BConfirmations) -> None:
        self._deps = deps
        self._confirmations = confirmations

    def short_codes(self) -> Iterable[str]:
        return self._deps.config.short_codes

    def is_open(self, record: Record, now: datetime) -> bool:
        return False  # recorded from a confirmation (or a statement line): final from the start

    def may_be(self, line: StatementLine, record: Record) -> bool:
        return False

    def settle_from(self, record: Record, line: StatementLine) -> Resolution | Discrepancy:
        raise AssertionError("a C2B record is never open")  # is_open is False: never offered a line

    def close(self, record: Record, window_closed: bool) -> Resolution | Discrepancy | None:
        return None

    def create_missing(self, line: StatementLine) -> Resolution | None:
        if line.short_code not in self._deps.config.short_codes or not is_paid_in(line.transaction_type):
            return None
        payment = NewC2BPayment(
            trans_id=line.receipt,
            amount=line.amount,
            msisdn=line.party,  # as M-Pesa's statement shows it (masked or hashed)
            short_code=line.short_code,
            account_reference=line.bill_reference.strip(),
            transaction_type=line.transaction_type.strip(),
            paid_at=line.completed_at,
            extra={},
            flags=(C2BFlag.FROM_STATEMENT.value,),
            settled_by=SettledBy.RECONCILIATION,
        )
        confirmation = self._confirmations.record(payment, raw_body="", source_ip="")
        if confirmation.written is Written.DUPLICATE:
            return None
        logger.warning("a C2B payment M-Pesa lists had no confirmation: recorded from the statement")
        return Resolution(ResolutionKind.CREATED, self.kind.value, line.receipt, line.receipt)
