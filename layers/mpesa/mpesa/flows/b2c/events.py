"""How payouts are announced (`payout.*` on the bus) and shown (the status API)."""

from __future__ import annotations

from typing import Any

from mpesa.codes import classify
from mpesa.markets import mask_msisdn
from mpesa.records.dynamo import to_jsonable
from mpesa.records.model import Record, Ref, Status
from mpesa.records.store import Announcement

DETAIL_TYPES = {
    Status.SUCCESS: "payout.succeeded",
    Status.FAILED: "payout.failed",
    Status.UNKNOWN: "payout.outcome_unknown",
}
LATE_SUCCESS = "payout.late_success"
RESULT_MISMATCH = "payout.result_mismatch"
# What a Result reported beyond the outcome, kept in the record's details (settlement facts).
RESULT_FACTS = (
    "completed_at",
    "recipient_registered",
    "utility_account_balance",
    "working_account_balance",
    "charges_paid_account_balance",
)


def payout_view(record: Record) -> dict[str, Any]:
    """The public view of a payout, shared by events and the status API (masked phone only)."""
    info = classify(record.result_code) if record.result_code is not None else None
    details = record.details
    registered = details.get("recipient_registered")
    view: dict[str, Any] = to_jsonable(
        {
            "payout_id": record.transaction_id,
            "status": record.status.value,
            "outcome": info.outcome.value if info and record.status.is_final else None,
            "result_code": record.result_code,
            "result_desc": record.result_desc,
            "receipt": record.receipt,
            "amount": record.amount,
            "currency": record.currency,
            "country": record.country,
            "phone": mask_msisdn(record.msisdn),
            "command_id": details.get("command_id"),
            "remarks": details.get("remarks"),
            "occasion": details.get("occasion"),
            "originator_conversation_id": record.ref(Ref.ORIGINATOR_CONVERSATION_ID),
            "conversation_id": record.ref(Ref.CONVERSATION_ID),
            "completed_at": details.get("completed_at"),
            "recipient_registered": None if registered is None else registered == "Y",
            "balances": {
                name: details[f"{name}_account_balance"]
                for name in ("utility", "working", "charges_paid")
                if f"{name}_account_balance" in details
            },
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "settled_at": record.settled_at,
            "settled_by": record.settled_by.value if record.settled_by else None,
            "flags": list(record.flags),
        }
    )
    caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)  # Vodacom's OpenAPI (Tanzania) only
    if caller_id is not None:
        view["third_party_conversation_id"] = caller_id
    return view


class B2cEvents:
    """The EventCatalog of payouts."""

    def settled(self, record: Record) -> Announcement:
        detail_type = DETAIL_TYPES.get(record.status, f"payout.{record.status.value.lower()}")
        return Announcement(detail_type, f"{record.transaction_id}:{record.status.value}", payout_view(record))

    def late_success(self, record: Record) -> Announcement:
        return Announcement(LATE_SUCCESS, f"{record.transaction_id}:late_success", payout_view(record))

    def result_mismatch(self, record: Record, problem: str, digest: str) -> Announcement:
        """One per distinct disagreeing body (`digest`), so a redelivery is not announced twice."""
        detail = {**payout_view(record), "problem": problem}
        return Announcement(RESULT_MISMATCH, f"{record.transaction_id}:mismatch:{digest}", detail)
