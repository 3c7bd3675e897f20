"""What STK results mean for a record, and what each step of the flow reports back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mpesa.edge.answers import refusal_answer
from mpesa.records.model import Record, Ref, Status

if TYPE_CHECKING:
    from mpesa.providers.base import QueryAnswer


class Upstream(StrEnum):
    """What became of the push at M-Pesa."""

    ACCEPTED = "accepted"  # Daraja accepted the push; the customer has a prompt
    REJECTED = "rejected"  # Daraja refused it; nothing happens on the phone
    NOT_SENT = "not_sent"  # it surely never reached Daraja; safe to try again
    UNKNOWN = "unknown"  # it may have reached Daraja; never re-sent, resolved by callback or reconciliation
    QUEUED = "queued"  # the prompt flow sends it (a provider whose prompt waits for the customer)


@dataclass(frozen=True)
class Initiation:
    """What became of a push. Daraja's refusal, if any, is on the record (result_code/result_desc)."""

    record: Record
    upstream: Upstream


@dataclass(frozen=True)
class QueryResult:
    record: Record
    answer: QueryAnswer | None  # None when no query could be made (no ID to ask by, final) or none was applied


@dataclass(frozen=True)
class ResolveStep:
    """One step of the timeout flow."""

    status: Status
    attempt: int  # queries made so far, this one included
    exhausted: bool  # no attempt left: the flow marks the record UNKNOWN

    @property
    def settled(self) -> bool:
        return self.status is not Status.PENDING


def initiation_answer(result: Initiation) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The API's answer to an initiation (status, body, headers): 202 when a prompt was (or may have
    been) sent; otherwise the refusal, read from the record so that a replay answers exactly as the
    first request did, with `retryable` and, where Daraja gives a wait, `Retry-After`."""
    record = result.record
    body: dict[str, Any] = {
        "transaction_id": record.transaction_id,
        "checkout_request_id": record.checkout_request_id,
        "status": record.status.value,
    }
    caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    if caller_id is not None:
        body["third_party_conversation_id"] = caller_id
    if result.upstream in (Upstream.ACCEPTED, Upstream.QUEUED):
        return 202, body, {}
    if result.upstream is Upstream.UNKNOWN:
        body["detail"] = (
            "M-Pesa did not answer in time. The request was not re-sent; its outcome will arrive by "
            "callback or reconciliation. Do not retry with a new Idempotency-Key."
        )
        return 202, body, {}
    status, fields, headers = refusal_answer(record.result_code or "", record.result_desc or "")
    return status, {**body, **fields}, headers
