"""How C2B payments are announced (`c2b.*` on the bus) and shown (the transactions API).

Each TransID is announced once as `c2b.received`; when an expected payment is involved, also once as
`c2b.matched` (paid, partial or over) or `c2b.unmatched` (expired, payment limit, or no expected payment
while validation requires one). `counted` is false for the C2B confirmation of an STK payment whose
receipt the STK record counts (flag COUNTED_BY_LINKED_RECORD): it is the same money, not new money.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpesa.markets import mask_msisdn
from mpesa.records.dynamo import to_jsonable
from mpesa.records.model import Flag, Record
from mpesa.records.store import Announcement

if TYPE_CHECKING:
    from mpesa.flows.c2b.ports import ListedPayment

RECEIVED = "c2b.received"
MATCHED = "c2b.matched"
UNMATCHED = "c2b.unmatched"
MISMATCH = "c2b.confirmation_mismatch"  # for review: a second confirmation of a TransID that disagrees
_MATCHED_OUTCOMES = {"paid", "partial", "over"}


def shown_msisdn(value: str) -> str:
    """A plain number (v1) is masked; a hash or an already masked value (v2) is shown as given, never
    unmasked (Safaricom hashes with SHA-256: merchants match it against hashes of numbers they know)."""
    digits = value.strip()
    if digits.isdigit() and 9 <= len(digits) <= 15:
        return mask_msisdn(digits)
    return value


def counted(flags: tuple[str, ...]) -> bool:
    return Flag.COUNTED_BY_LINKED_RECORD.value not in flags


def expected_view(record: Record) -> dict[str, Any] | None:
    details = record.details
    if "match" not in details:
        return None
    view: dict[str, Any] = {"reference": details.get("expected_reference"), "match": details["match"]}
    if "expected_status" in details:
        view.update(
            {
                "status": details["expected_status"],
                "amount_min": int(details["expected_amount_min"]),
                "amount_max": int(details["expected_amount_max"]),
                "paid_total": int(details["expected_paid_total"]),
            }
        )
    return view


def payment_view(record: Record, *, full: bool = True) -> dict[str, Any]:
    """The public view of a C2B payment (events omit the payer's name and the organisation's balance)."""
    details = record.details
    view: dict[str, Any] = {
        "trans_id": record.transaction_id,
        "amount": record.amount,
        "currency": record.currency,
        "account_reference": details.get("account_reference", ""),
        "short_code": details.get("short_code"),
        "transaction_type": details.get("transaction_type"),
        "phone": shown_msisdn(record.msisdn),
        "paid_at": record.paid_at,
        "received_at": record.created_at,
        "counted": counted(record.flags),
        "linked_transaction_id": record.linked_transaction_id,
        "expected_payment": expected_view(record),
        "invoice_number": details.get("invoice_number"),
        "third_party_trans_id": details.get("third_party_trans_id"),
        "flags": list(record.flags),
    }
    if full:
        view["payer_name"] = details.get("payer_name")
        view["org_account_balance"] = details.get("org_account_balance")
    result: dict[str, Any] = to_jsonable(view)
    return result


def listing_view(payment: ListedPayment) -> dict[str, Any]:
    """One line of GET /v1/c2b/transactions."""
    details = payment.details
    view = {
        "trans_id": payment.trans_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "account_reference": details.get("account_reference", ""),
        "short_code": details.get("short_code"),
        "phone": shown_msisdn(payment.msisdn),
        "paid_at": payment.paid_at,
        "counted": counted(payment.flags),
        "match": details.get("match"),
        "flags": list(payment.flags),
    }
    result: dict[str, Any] = to_jsonable(view)
    return result


class C2BEvents:
    """The EventCatalog of C2B payments."""

    def settled(self, record: Record) -> list[Announcement]:
        view = payment_view(record, full=False)
        owed = [Announcement(RECEIVED, f"{record.transaction_id}:received", view)]
        match = record.details.get("match")
        if match is not None:
            kind = MATCHED if match in _MATCHED_OUTCOMES else UNMATCHED
            owed.append(Announcement(kind, f"{record.transaction_id}:match", view))
        return owed

    def late_success(self, record: Record) -> Announcement:
        # A C2B payment is final on arrival and never settled again, so it never takes a late success.
        raise LookupError(f"C2B payment {record.transaction_id} has no late success to announce")
