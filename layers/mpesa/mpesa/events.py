"""EventBridge: one event per settled payment, with no secret and no full phone number in it."""

import json
from typing import TYPE_CHECKING, Any

import boto3

from mpesa.codes import classify
from mpesa.ledger import Transaction, TransactionStatus, iso, now_utc, to_jsonable
from mpesa.markets import mask_msisdn

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "mpesa.payments"

DETAIL_TYPES = {
    TransactionStatus.SUCCESS: "payment.succeeded",
    TransactionStatus.FAILED: "payment.failed",
    TransactionStatus.CANCELLED: "payment.cancelled",
    TransactionStatus.TIMEOUT: "payment.timed_out",
    TransactionStatus.UNKNOWN: "payment.outcome_unknown",
}
LATE_SUCCESS = "payment.late_success"
CALLBACK_MISMATCH = "payment.callback_mismatch"


class PublishError(RuntimeError):
    pass


def payment_detail(txn: Transaction) -> dict[str, Any]:
    """The public view of a payment, shared by events and the status API."""
    info = classify(txn.result_code) if txn.result_code is not None else None
    detail: dict[str, Any] = to_jsonable(
        {
            "transaction_id": txn.transaction_id,
            "status": txn.status.value,
            "outcome": info.outcome.value if info else None,
            "result_code": txn.result_code,
            "result_desc": txn.result_desc,
            "receipt": txn.receipt,
            "amount": txn.amount,
            "currency": txn.currency,
            "country": txn.country,
            "phone": mask_msisdn(txn.msisdn),
            "account_reference": txn.account_reference,
            "checkout_request_id": txn.checkout_request_id,
            "merchant_request_id": txn.merchant_request_id,
            "created_at": txn.created_at,
            "updated_at": txn.updated_at,
            "settled_at": txn.settled_at,
            "settled_by": txn.settled_by,
            "paid_at": txn.paid_at,
            "flags": list(txn.flags),
        }
    )
    return detail


class EventPublisher:
    def __init__(self, bus_name: str, *, client: "EventBridgeClient | None" = None) -> None:
        self._bus = bus_name
        self._client = client or boto3.client("events")

    def settled(self, txn: Transaction) -> None:
        self.publish(DETAIL_TYPES[txn.status], txn, event_id=f"{txn.transaction_id}:{txn.status.value}")

    def publish(self, detail_type: str, txn: Transaction, *, event_id: str) -> None:
        # event_id lets consumers drop the rare redelivery (EventBridge and our outbox are at-least-once).
        detail = {"event_id": event_id, "occurred_at": iso(now_utc()), **payment_detail(txn)}
        response = self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":")),
                    "EventBusName": self._bus,
                    "Resources": [],
                }
            ]
        )
        if response.get("FailedEntryCount", 0):
            entry = response["Entries"][0]
            raise PublishError(f"{detail_type} not accepted: {entry.get('ErrorCode')}")
