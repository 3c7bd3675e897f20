"""The record of one money movement, for every flow: what was asked, where it stands, how it ended.

A record leaves PENDING (or UNKNOWN) for a final state at most once; final states are immutable. A
success that arrives after another final state is kept beside the record (`late_success`), flagged,
and announced, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mpesa.errors import ConflictError, MpesaError, NotFoundError


class Kind(StrEnum):
    """The flow a record belongs to; also the name of its partition of the pending index."""

    STK = "stk"
    B2C = "b2c"
    C2B = "c2b"

    @property
    def record_type(self) -> str:
        return _RECORD_TYPES[self]


_RECORD_TYPES = {Kind.STK: "stk_push", Kind.B2C: "b2c_payout", Kind.C2B: "c2b_payment"}


class Status(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN = "UNKNOWN"  # we could not learn the outcome in time: reconciliation resolves it

    @property
    def is_final(self) -> bool:
        return self not in {Status.PENDING, Status.UNKNOWN}


class Flag(StrEnum):
    LATE_SUCCESS = "LATE_SUCCESS"  # M-Pesa confirmed a payment after we recorded another ending
    ANSWER_MISMATCH = "ANSWER_MISMATCH"  # a query answer named another request: not applied
    CALLBACK_MISMATCH = "CALLBACK_MISMATCH"  # a callback disagreed with the record (amount/phone/ID)
    DUPLICATE_RECEIPT = "DUPLICATE_RECEIPT"  # the receipt is already claimed by another record
    OUTCOME_UNKNOWN_AT_INITIATION = "OUTCOME_UNKNOWN_AT_INITIATION"  # M-Pesa did not answer the request
    # One receipt, two records of different flows (an STK payment also delivered as a C2B confirmation):
    # `linked_transaction_id` names the other record, and the receipt claim names the one that counts.
    COUNTED_BY_LINKED_RECORD = "COUNTED_BY_LINKED_RECORD"  # not new money: the linked record counts it
    DOUBLE_COUNT = "DOUBLE_COUNT"  # both records were announced as the money before the link was found


class SettledBy(StrEnum):
    """What told us the outcome."""

    INITIATION = "initiation"  # M-Pesa refused the request outright, or it never left
    ANSWER = "answer"  # the request's own answer told the outcome (the OpenAPI answers C2B and B2C with it)
    CALLBACK = "callback"
    QUERY = "query"
    RECONCILIATION = "reconciliation"


class Ref(StrEnum):
    """M-Pesa's identifiers of a request, stored as attributes of the same names."""

    CHECKOUT_REQUEST_ID = "checkout_request_id"
    MERCHANT_REQUEST_ID = "merchant_request_id"
    ORIGINATOR_CONVERSATION_ID = "originator_conversation_id"
    CONVERSATION_ID = "conversation_id"
    THIRD_PARTY_CONVERSATION_ID = "third_party_conversation_id"  # ours, for the Vodacom OpenAPI


NOT_SENT = "NOT_SENT"  # result code of a request that surely never reached M-Pesa


@dataclass(frozen=True)
class Record:
    kind: Kind
    transaction_id: str
    status: Status
    country: str
    currency: str
    amount: int
    msisdn: str
    created_at: str
    updated_at: str
    details: Mapping[str, str] = field(default_factory=dict)  # what the flow asked for (e.g. account_reference)
    refs: Mapping[Ref, str] = field(default_factory=dict)
    result_code: str | None = None
    result_desc: str | None = None
    receipt: str | None = None
    paid_at: str | None = None
    settled_at: str | None = None
    settled_by: SettledBy | None = None
    flags: tuple[str, ...] = ()
    late_success: Mapping[str, Any] | None = None
    event_published: bool = False
    late_event_published: bool = True
    linked_transaction_id: str | None = None  # the other flow's record sharing this receipt (see Flag)
    # When the request was claimed for sending (`RecordStore.claim_send`): a claimed request is never sent
    # again, whoever runs the task next; its outcome is learned by query.
    send_claimed_at: str | None = None
    # The pending index's partition the record is in (its kind while the sweep watches it, OUTBOX while an
    # event is owed), or None: most records never enter it (mpesa.reconciliation.stragglers).
    pending_bucket: str | None = None

    def ref(self, name: Ref) -> str | None:
        return self.refs.get(name)

    @property
    def checkout_request_id(self) -> str | None:
        return self.refs.get(Ref.CHECKOUT_REQUEST_ID)

    @property
    def created(self) -> datetime:
        """When the record was created (a stored record always says; ValueError for a placeholder)."""
        return datetime.fromisoformat(self.created_at)

    @classmethod
    def placeholder(cls, kind: Kind, transaction_id: str, refs: Mapping[Ref, str] | None = None) -> Record:
        """What an answer can say when the record cannot be read back: it exists and is pending."""
        return cls(kind, transaction_id, Status.PENDING, "", "", 0, "", "", "", refs=dict(refs or {}))


@dataclass(frozen=True)
class NewRecord:
    """A record to create PENDING, before M-Pesa is asked anything."""

    kind: Kind
    transaction_id: str
    country: str
    currency: str
    amount: int
    msisdn: str
    details: Mapping[str, str]
    # When the sweep looks at the record through the pending index; None: only once its flow's wait is over
    # (the sweep's pass over the day index, mpesa.reconciliation.stragglers), the cheap path of most records.
    next_check_at: datetime | None
    refs: Mapping[Ref, str] = field(default_factory=dict)  # identifiers we choose before the call


@dataclass(frozen=True)
class Settlement:
    """A final answer about a record, from a callback, a query or reconciliation.

    `refs` must agree with the record's: a ref the record lacks is stored, one it holds must match.
    """

    status: Status
    result_code: str
    result_desc: str
    source: SettledBy
    refs: Mapping[Ref, str] = field(default_factory=dict)
    receipt: str | None = None
    paid_at: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)  # facts of the answer, added to the record's


@dataclass(frozen=True)
class SettleResult:
    record: Record
    changed: bool  # True only for the one writer that moved the record to a final state
    late_success: bool = False  # a success arrived after another final state: stored and flagged
    receipt_filled: bool = False  # a receipt arrived for a success that had none (query-settled)
    # The answer contradicts the record's final state (another outcome, another receipt, a receipt that
    # pays another record): nothing changed, and the answer must be kept and announced for review.
    contradicts: bool = False


class RecordNotFoundError(NotFoundError):
    """No record with this transaction id."""


class RecordExistsError(ConflictError):
    """A record with this transaction id exists already (a replayed request)."""

    def __init__(self, record: Record) -> None:
        super().__init__(record.transaction_id)
        self.record = record


class RefMismatchError(MpesaError):
    """M-Pesa named this record with another identifier than the one stored."""

    def __init__(self, ref: Ref, stored: str | None, received: str) -> None:
        super().__init__(f"the record already carries another {ref.value}")
        self.ref = ref
        self.stored = stored
        self.received = received
