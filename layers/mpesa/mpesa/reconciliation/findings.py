"""What a reconciliation run finds: discrepancies between M-Pesa's statement and the ledger, and the
resolutions it applied (each is announced once, counted, and listed in the day's report)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from mpesa.records.store import Announcement

DISCREPANCY = "reconciliation.discrepancy"


class DiscrepancyKind(StrEnum):
    MISSING_IN_LEDGER = "missing_in_ledger"  # M-Pesa lists it; no record had it (a C2B record is created)
    NOT_IN_MPESA = "not_in_mpesa"  # the ledger says SUCCESS; M-Pesa's statement does not list it
    AMOUNT_MISMATCH = "amount_mismatch"
    PARTY_MISMATCH = "party_mismatch"
    AMBIGUOUS = "ambiguous"  # a statement line could be several open records: none is settled
    STILL_UNKNOWN = "still_unknown"  # an open record M-Pesa's view cannot resolve yet


@dataclass(frozen=True)
class Discrepancy:
    kind: DiscrepancyKind
    flow: str  # the record's kind, or "mpesa" for a line no record holds
    reference: str  # the receipt, or the transaction id when there is no receipt
    detail: str
    transaction_id: str | None = None
    amount: int | None = None

    def key(self, day: date) -> str:
        return f"recon:{day.isoformat()}:{self.kind.value}:{self.reference}"

    def announcement(self, day: date) -> Announcement:
        detail: dict[str, Any] = {
            "date": day.isoformat(),
            "kind": self.kind.value,
            "flow": self.flow,
            "reference": self.reference,
            "detail": self.detail,
            "transaction_id": self.transaction_id,
            "amount": self.amount,
        }
        return Announcement(DISCREPANCY, self.key(day), detail)


class ResolutionKind(StrEnum):
    SETTLED = "settled"  # an UNKNOWN (or stale PENDING) record settled from the statement
    RECEIPT_FILLED = "receipt_filled"  # a success settled by query got its receipt
    FAILED_ABSENT = "failed_absent"  # an UNKNOWN push M-Pesa's statement does not contain
    CREATED = "created"  # a C2B payment M-Pesa lists and no confirmation brought
    ASKED = "asked"  # a status query sent for a record the statement cannot settle (its answer will)


@dataclass(frozen=True)
class Resolution:
    kind: ResolutionKind
    flow: str
    transaction_id: str
    receipt: str | None = None
