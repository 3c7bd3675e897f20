"""How STK payments are announced (`payment.*` on the bus) and shown (the status API)."""

from __future__ import annotations

from typing import Any

from mpesa.codes import classify
from mpesa.markets import mask_msisdn
from mpesa.records.dynamo import to_jsonable
from mpesa.records.model import Record, Ref, Status
from mpesa.records.store import Announcement

DETAIL_TYPES = {
    Status.SUCCESS: "payment.succeeded",
    Status.FAILED: "payment.failed",
    Status.CANCELLED: "payment.cancelled",
    Status.TIMEOUT: "payment.timed_out",
    Status.UNKNOWN: "payment.outcome_unknown",
}
LATE_SUCCESS = "payment.late_success"
CALLBACK_MISMATCH = "payment.callback_mismatch"


def payment_view(record: Record) -> dict[str, Any]:
    """The public view of a payment, shared by events and the status API (masked phone only)."""
    info = classify(record.result_code) if record.result_code is not None else None
    view: dict[str, Any] = to_jsonable(
        {
            "transaction_id": record.transaction_id,
            "status": record.status.value,
            "outcome": info.outcome.value if info else None,
            "retryable": info.retryable if info else None,
            "retry_after_s": info.retry_after_s if info else None,
            "result_code": record.result_code,
            "result_desc": record.result_desc,
            "receipt": record.receipt,
            "amount": record.amount,
            "currency": record.currency,
            "country": record.country,
            "phone": mask_msisdn(record.msisdn),
            "account_reference": record.details.get("account_reference"),
            "checkout_request_id": record.checkout_request_id,
            "merchant_request_id": record.ref(Ref.MERCHANT_REQUEST_ID),
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "settled_at": record.settled_at,
            "settled_by": record.settled_by.value if record.settled_by else None,
            "paid_at": record.paid_at,
            "flags": list(record.flags),
        }
    )
    # Vodacom's OpenAPI (Tanzania): our ThirdPartyConversationID and its ConversationID (absent in Kenya).
    for ref in (Ref.THIRD_PARTY_CONVERSATION_ID, Ref.CONVERSATION_ID):
        if record.ref(ref) is not None:
            view[ref.value] = record.ref(ref)
    return view


class StkEvents:
    """The EventCatalog of STK payments."""

    def settled(self, record: Record) -> Announcement:
        return Announcement(
            DETAIL_TYPES[record.status], f"{record.transaction_id}:{record.status.value}", payment_view(record)
        )

    def late_success(self, record: Record) -> Announcement:
        return Announcement(LATE_SUCCESS, f"{record.transaction_id}:late_success", payment_view(record))

    def callback_mismatch(self, record: Record, checkout_request_id: str) -> Announcement:
        return Announcement(CALLBACK_MISMATCH, f"mismatch:{checkout_request_id}", payment_view(record))
