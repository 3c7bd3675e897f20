"""What STK results mean for a record, and what each step of the flow reports back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mpesa.codes import Disposition, classify
from mpesa.daraja.errors import BAD_REQUEST_CODE_PREFIX, RATE_LIMIT_CODES, is_subscriber_locked
from mpesa.records.model import Record, Status

if TYPE_CHECKING:
    from mpesa.daraja.models import StkQueryResponse


def status_for(result_code: str | None) -> Status | None:
    """The final state a result code means, or None when it does not settle the payment."""
    info = classify(result_code)
    if info.code == "0":
        return Status.SUCCESS
    if info.code == "1032":
        return Status.CANCELLED
    if info.code == "1037":
        return Status.TIMEOUT
    if info.disposition in (Disposition.PENDING, Disposition.UNKNOWN):
        return None
    return Status.FAILED


class Upstream(StrEnum):
    """What became of the push at M-Pesa."""

    ACCEPTED = "accepted"  # Daraja accepted the push; the customer has a prompt
    REJECTED = "rejected"  # Daraja refused it; nothing happens on the phone
    NOT_SENT = "not_sent"  # it surely never reached Daraja; safe to try again
    UNKNOWN = "unknown"  # it may have reached Daraja; never re-sent, resolved by callback or reconciliation


@dataclass(frozen=True)
class Initiation:
    """What became of a push. Daraja's refusal, if any, is on the record (result_code/result_desc)."""

    record: Record
    upstream: Upstream


@dataclass(frozen=True)
class QueryResult:
    record: Record
    answer: StkQueryResponse | None  # None when no query could be made (no CheckoutRequestID, final)


@dataclass(frozen=True)
class ResolveStep:
    """One step of the timeout flow."""

    status: Status
    attempt: int  # queries made so far, this one included
    exhausted: bool  # no attempt left: the flow marks the record UNKNOWN

    @property
    def settled(self) -> bool:
        return self.status is not Status.PENDING


def initiation_answer(result: Initiation) -> tuple[int, dict[str, Any]]:
    """The API's answer to an initiation: 202 when a prompt was (or may have been) sent; otherwise the
    refusal, read from the record so that a replay answers exactly as the first request did."""
    record = result.record
    body: dict[str, Any] = {
        "transaction_id": record.transaction_id,
        "checkout_request_id": record.checkout_request_id,
        "status": record.status.value,
    }
    if result.upstream is Upstream.ACCEPTED:
        return 202, body
    if result.upstream is Upstream.UNKNOWN:
        body["detail"] = (
            "M-Pesa did not answer in time. The request was not re-sent; its outcome will arrive by "
            "callback or reconciliation. Do not retry with a new Idempotency-Key."
        )
        return 202, body
    # Rejected by Daraja: the caller's mistake (4xx) or Daraja's trouble (502).
    code, message = record.result_code or "", record.result_desc or ""
    body.update({"error": "rejected_by_mpesa", "mpesa_error_code": code, "message": message})
    status = 502
    if code.startswith(BAD_REQUEST_CODE_PREFIX):
        status = 422
    elif is_subscriber_locked(code, message):
        status, body["error"] = 409, "customer_busy"
    elif code in RATE_LIMIT_CODES:
        status, body["error"] = 429, "mpesa_rate_limited"
    return status, body
