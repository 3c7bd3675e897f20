"""What B2C and Transaction Status results mean for a payout, and what the flow's steps report back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mpesa.edge.answers import refusal_answer
from mpesa.records.model import Record, Ref, Status

STATUS_NOT_FOUND = "2032"  # Transaction Status: "the transaction receipt number does not exist" (or still queued)
# TransactionStatus values that settle a payout. Others (Reversed, Pending, ...) are kept for a person.
COMPLETED = "completed"


class Upstream(StrEnum):
    """What became of the payout request at M-Pesa."""

    ACCEPTED = "accepted"  # Daraja accepted it (or had it already: the duplicate answer)
    REJECTED = "rejected"  # Daraja refused it; nothing was paid
    NOT_SENT = "not_sent"  # it surely never reached Daraja; the same Idempotency-Key may try again
    UNKNOWN = "unknown"  # it may have reached Daraja; never re-sent, resolved by Transaction Status


@dataclass(frozen=True)
class Initiation:
    record: Record
    upstream: Upstream


@dataclass(frozen=True)
class ResolveStep:
    """One step of the timeout flow."""

    status: Status
    attempt: int  # Transaction Status queries sent so far
    exhausted: bool  # no query left and still open: the flow marks the payout UNKNOWN

    @property
    def settled(self) -> bool:
        return self.status.is_final


def initiation_answer(result: Initiation) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The API's answer (status, body, headers): 202 when the payout was (or may have been) accepted;
    otherwise Daraja's refusal, read from the record so that a replay answers exactly as the first
    request did, with `retryable` and, where Daraja gives a wait, `Retry-After`."""
    record = result.record
    body: dict[str, Any] = {
        "payout_id": record.transaction_id,
        "status": record.status.value,
        "conversation_id": record.ref(Ref.CONVERSATION_ID),
        "originator_conversation_id": record.ref(Ref.ORIGINATOR_CONVERSATION_ID),
    }
    caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)  # Vodacom's OpenAPI (Tanzania) only
    if caller_id is not None:
        body["third_party_conversation_id"] = caller_id
    if result.upstream is Upstream.ACCEPTED:
        return 202, body, {}
    if result.upstream is Upstream.UNKNOWN:
        body["detail"] = (
            "M-Pesa's answer to this payout is not known (none came in time, or it was lost). The payout is "
            "not re-sent; Transaction Status will tell its outcome. Do not retry with a new Idempotency-Key."
        )
        return 202, body, {}
    status, fields, headers = refusal_answer(record.result_code or "", record.result_desc or "")
    return status, {**body, **fields}, headers
