"""The STK flow's part in the daily reconciliation (mpesa.reconciliation.daily.FlowReconciler).

An open STK record is one the statement can still teach something: UNKNOWN (the push's answer was lost,
or no final answer came in time), PENDING long past its timeout flow, or a success settled by query,
which carries no receipt. A statement line no record holds is taken as an open record's payment when
everything M-Pesa shows agrees: the amount, the bill reference (our account reference), the party
(masked or hashed by M-Pesa), and a completion soon after the push. Once the day's window is closed, an
UNKNOWN push the statement does not list was never paid: it is resolved FAILED, settled by
reconciliation (`NOT_IN_STATEMENT`), so nothing stays unknown for ever.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from mpesa.flows.stk.ports import StkDeps
from mpesa.reconciliation.findings import Discrepancy, DiscrepancyKind, Resolution, ResolutionKind
from mpesa.reconciliation.statement import StatementLine
from mpesa.records.model import Kind, Record, SettledBy, Settlement, Status

COMPLETES_WITHIN = timedelta(minutes=30)  # a push's payment completes this soon after it, or never
EARLY_TOLERANCE = timedelta(minutes=1)  # clocks: M-Pesa's completion time may precede our record's stamp
NOT_IN_STATEMENT = "NOT_IN_STATEMENT"


class StkReconciler:
    kind = Kind.STK

    def __init__(self, deps: StkDeps, *, fail_absent: bool = True) -> None:
        self._deps = deps
        self._fail_absent = fail_absent

    def short_codes(self) -> Iterable[str]:
        settings = self._deps.settings
        yield settings.business_short_code
        if settings.till_number:
            yield settings.till_number

    def is_open(self, record: Record, now: datetime) -> bool:
        if record.status is Status.UNKNOWN:
            return True
        if record.status is Status.PENDING:
            return record.created + timedelta(seconds=self._deps.timing.horizon_s) + COMPLETES_WITHIN < now
        return record.status is Status.SUCCESS and record.receipt is None

    def may_be(self, line: StatementLine, record: Record) -> bool:
        created = record.created
        reference = record.details.get("account_reference", "")
        return (
            line.amount == record.amount
            and (not line.bill_reference or line.bill_reference.strip().upper() == reference.upper())
            and line.party_may_be(record.msisdn)
            and created - EARLY_TOLERANCE <= line.completed_at <= created + COMPLETES_WITHIN
        )

    def settle_from(self, record: Record, line: StatementLine) -> Resolution | Discrepancy:
        settled = self._deps.store.settle(
            record.transaction_id,
            Settlement(
                Status.SUCCESS,
                "0",
                "settled by reconciliation: M-Pesa's statement lists the payment",
                SettledBy.RECONCILIATION,
                receipt=line.receipt,
                paid_at=line.completed_at,
            ),
        )
        self._deps.outbox.announce(settled)
        if settled.changed:
            return Resolution(ResolutionKind.SETTLED, self.kind.value, record.transaction_id, line.receipt)
        if settled.receipt_filled:
            return Resolution(ResolutionKind.RECEIPT_FILLED, self.kind.value, record.transaction_id, line.receipt)
        return Discrepancy(
            DiscrepancyKind.AMBIGUOUS,
            self.kind.value,
            line.receipt,
            f"the statement line could not be applied to the record (it is {settled.record.status.value})",
            record.transaction_id,
            line.amount,
        )

    def close(self, record: Record, window_closed: bool) -> Resolution | Discrepancy | None:
        if record.status is Status.SUCCESS:  # settled by query, and M-Pesa's statement does not list it
            return Discrepancy(
                DiscrepancyKind.NOT_IN_MPESA,
                self.kind.value,
                record.transaction_id,
                "a success confirmed by STK query that M-Pesa's statement does not list",
                record.transaction_id,
                record.amount,
            )
        if not (window_closed and self._fail_absent):
            return _still_unknown(record)
        settled = self._deps.store.settle(
            record.transaction_id,
            Settlement(
                Status.FAILED,
                NOT_IN_STATEMENT,
                "M-Pesa's statement for the closed window does not list this payment: it was never made",
                SettledBy.RECONCILIATION,
            ),
        )
        self._deps.outbox.announce(settled)
        if not settled.changed:
            return _still_unknown(settled.record) if not settled.record.status.is_final else None
        return Resolution(ResolutionKind.FAILED_ABSENT, self.kind.value, record.transaction_id)

    def create_missing(self, line: StatementLine) -> Resolution | None:
        return None  # an STK payment always has its record; lines nobody holds are the C2B flow's


def _still_unknown(record: Record) -> Discrepancy:
    return Discrepancy(
        DiscrepancyKind.STILL_UNKNOWN,
        Kind.STK.value,
        record.transaction_id,
        "M-Pesa's statement does not settle it yet",
        record.transaction_id,
        record.amount,
    )
