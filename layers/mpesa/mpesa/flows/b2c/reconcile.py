"""The payout flow's part in the daily reconciliation (mpesa.reconciliation.daily.FlowReconciler).

An open payout is UNKNOWN, or PENDING long past its timeout flow. A payout is never settled from a
statement line alone (a line that merely looks like it would mark money as paid out): the reconciliation
asks Transaction Status by our OriginatorConversationID, on a URL signed for the reconciliation, and that
Result settles the payout `settled_by reconciliation`. A line that may be an open payout is claimed for it
(and so not reported missing from the ledger) while the answer is awaited. An open payout Transaction
Status cannot settle stays UNKNOWN and is reported every day: whether to pay again is a person's call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from mpesa.errors import UnavailableError
from mpesa.flows.b2c import urls
from mpesa.flows.b2c.ports import B2cDeps
from mpesa.flows.b2c.resolve import PayoutResolution
from mpesa.reconciliation.findings import Discrepancy, DiscrepancyKind, Resolution, ResolutionKind
from mpesa.reconciliation.statement import StatementLine
from mpesa.records.model import Kind, Record, Status
from mpesa.telemetry import logger

COMPLETES_WITHIN = timedelta(minutes=30)  # a payout completes this soon after it is sent, or never
EARLY_TOLERANCE = timedelta(minutes=1)  # clocks: M-Pesa's completion time may precede our record's stamp


class PayoutReconciler:
    kind = Kind.B2C

    def __init__(self, deps: B2cDeps, resolution: PayoutResolution) -> None:
        self._deps = deps
        self._resolution = resolution

    def short_codes(self) -> Iterable[str]:
        if self._deps.settings.b2c_short_code:
            yield self._deps.settings.b2c_short_code

    def is_open(self, record: Record, now: datetime) -> bool:
        if record.status is Status.UNKNOWN:
            return True
        horizon = timedelta(seconds=self._deps.timing.horizon_s)
        return record.status is Status.PENDING and record.created + horizon + COMPLETES_WITHIN < now

    def may_be(self, line: StatementLine, record: Record) -> bool:
        created = record.created
        return (
            line.short_code == self._deps.settings.b2c_short_code
            and line.amount == record.amount
            and line.party_may_be(record.msisdn)
            and created - EARLY_TOLERANCE <= line.completed_at <= created + COMPLETES_WITHIN
        )

    def settle_from(self, record: Record, line: StatementLine) -> Resolution | Discrepancy:
        if self._ask(record):
            return Resolution(ResolutionKind.ASKED, self.kind.value, record.transaction_id, line.receipt)
        return _still_unknown(
            record, line.receipt, "M-Pesa lists a payout like it; Transaction Status could not be asked"
        )

    def close(self, record: Record, window_closed: bool) -> Resolution | Discrepancy | None:
        # Asked again every run, and reported every day while it stays open: it may have been paid.
        if self._ask(record):
            return _still_unknown(record, record.transaction_id, "not in M-Pesa's statement; Transaction Status asked")
        return _still_unknown(
            record, record.transaction_id, "not in M-Pesa's statement; Transaction Status could not be asked"
        )

    def create_missing(self, line: StatementLine) -> Resolution | None:
        return None  # a payout always has its record: a line nobody holds is reported, never invented

    def _ask(self, record: Record) -> bool:
        try:
            return self._resolution.ask(record, purpose=urls.RECONCILIATION_STATUS)[1]
        except UnavailableError:  # Daraja unavailable now: the payout is reported, and the next run asks again
            logger.warning("Transaction Status could not be asked", extra={"payout_id": record.transaction_id})
            return False


def _still_unknown(record: Record, reference: str, detail: str) -> Discrepancy:
    return Discrepancy(
        DiscrepancyKind.STILL_UNKNOWN, Kind.B2C.value, reference, detail, record.transaction_id, record.amount
    )
