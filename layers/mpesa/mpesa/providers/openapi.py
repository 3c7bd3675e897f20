"""Vodacom's M-Pesa OpenAPI (Tanzania) as a provider: C2B single stage, B2C and the status query.

The OpenAPI answers a money-moving request with its outcome: the C2B prompt only once the customer
acted or the prompt timed out (so the STK flow runs it in the prompt state machine, never behind
API Gateway), B2C at once. Every request carries our ThirdPartyConversationID, stored on the record
before the call; an unknown outcome (INS-9, a timeout, a 5xx) is learned by querying with it, never
by sending again. Which errors leave money open is the client's rule (mpesa.openapi.errors): only
OpenApiOutcomeUnknownError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from mpesa.clock import Deadline, iso, now_utc
from mpesa.codes import Disposition, Outcome
from mpesa.errors import ConfigurationError, ProviderUnavailableError
from mpesa.openapi.client import SESSION_ALLOWANCE_S, new_conversation_id
from mpesa.openapi.errors import (
    OpenApiAnswerMismatchError,
    OpenApiError,
    OpenApiOutcomeUnknownError,
    OpenApiRefusedError,
    TransactionNotFoundError,
)
from mpesa.providers.base import (
    Accepted,
    Mismatched,
    NotSent,
    PayoutReplies,
    QueryAnswer,
    QueryOutcome,
    QueryRefused,
    Refused,
    SendOutcome,
    Unknown,
    status_for,
)
from mpesa.providers.registry import OPENAPI
from mpesa.records.model import Kind, Record, Ref, SettledBy, Settlement, Status

if TYPE_CHECKING:
    from mpesa.flows.b2c.request import PayoutRequest
    from mpesa.openapi.models import TransactionAnswer, TransactionStatusAnswer
    from mpesa.settings import MpesaSettings

REFERENCE_MAX = 20  # input_TransactionReference: 1 to 20 characters (INS-17)


class OpenApiGateway(Protocol):
    """What the provider needs from mpesa.openapi.OpenApiClient."""

    def c2b_single_stage(
        self,
        *,
        customer_msisdn: str,
        amount: int,
        transaction_reference: str,
        purchased_items_desc: str,
        third_party_conversation_id: str,
        deadline: Deadline,
    ) -> TransactionAnswer: ...

    def b2c_payment(
        self,
        *,
        customer_msisdn: str,
        amount: int,
        transaction_reference: str,
        payment_items_desc: str,
        third_party_conversation_id: str,
        deadline: Deadline | None = None,
    ) -> TransactionAnswer: ...

    def query_transaction_status(
        self,
        query_reference: str,
        *,
        third_party_conversation_id: str | None = None,
        expected_transaction_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> TransactionStatusAnswer: ...


def _conversation(conversation_id: str | None) -> dict[Ref, str]:
    return {Ref.CONVERSATION_ID: conversation_id} if conversation_id else {}


def _sent_outcome(exc: OpenApiError, *, prompt: bool) -> SendOutcome:
    if isinstance(exc, OpenApiOutcomeUnknownError):
        return Unknown(str(exc), _conversation(exc.conversation_id))
    if isinstance(exc, OpenApiRefusedError):
        info = exc.info
        declined = prompt and info.outcome is Outcome.CANCELLED
        return Refused(info.code, exc.response_desc, Status.CANCELLED if declined else Status.FAILED)
    return NotSent(str(exc), type(exc).__name__)  # the client's rule: no other error moved money


def _paid(answer: TransactionAnswer, *, payout: bool) -> Accepted:
    refs = _conversation(answer.conversation_id)
    now = now_utc()
    return Accepted(
        refs,
        Settlement(
            Status.SUCCESS,
            answer.response_code,
            answer.response_desc,
            SettledBy.ANSWER,
            refs=refs,
            receipt=answer.transaction_id,
            paid_at=now,
            details={"completed_at": iso(now)} if payout else {},  # as a B2C Result reports it
        ),
    )


class OpenApiProvider:
    name = OPENAPI
    prompt_waits_for_customer = True  # C2B single stage answers once the customer acted
    refuses_duplicates = False  # Vodacom documents no duplicate check: each send is claimed once

    def __init__(self, settings: MpesaSettings, client: Callable[[], OpenApiGateway]) -> None:
        self._settings = settings
        self._client = client

    def _caller_id(self, record: Record) -> str:
        caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
        if caller_id is None:
            raise ConfigurationError({"third_party_conversation_id": "the record was not made for the OpenAPI"})
        return caller_id

    # --- the customer prompt (C2B single stage) ----------------------------------------------------

    def prompt_wait_s(self) -> float:
        s = self._settings
        return s.tz_connect_timeout_s + s.tz_c2b_read_timeout_s + SESSION_ALLOWANCE_S

    def prompt_refs(self) -> dict[Ref, str]:
        return {Ref.THIRD_PARTY_CONVERSATION_ID: new_conversation_id()}

    def prompt(self, record: Record, *, callback_url: str | None, deadline: Deadline | None) -> SendOutcome:
        try:
            answer = self._client().c2b_single_stage(
                customer_msisdn=record.msisdn,
                amount=record.amount,
                transaction_reference=record.details["account_reference"],
                purchased_items_desc=record.details["transaction_desc"],
                third_party_conversation_id=self._caller_id(record),
                deadline=deadline or Deadline.within(self.prompt_wait_s()),
            )
        except OpenApiError as exc:
            return _sent_outcome(exc, prompt=True)
        return _paid(answer, payout=False)

    def can_query(self, record: Record) -> bool:
        return record.ref(Ref.THIRD_PARTY_CONVERSATION_ID) is not None

    def query_prompt(self, record: Record, *, deadline: Deadline | None) -> QueryOutcome:
        return self._query(record, deadline)

    # --- payouts (B2C) ----------------------------------------------------------------------------

    def payout_account(self) -> str:
        code = self._settings.tz_service_provider_code
        if code is None:
            raise ConfigurationError({"MPESA_TZ_SERVICE_PROVIDER_CODE": "is required to pay out in Tanzania"})
        return code

    def payout_refs(self) -> dict[Ref, str]:
        return {Ref.THIRD_PARTY_CONVERSATION_ID: new_conversation_id()}

    def payout(
        self, record: Record, request: PayoutRequest, *, replies: PayoutReplies, deadline: Deadline | None
    ) -> SendOutcome:
        try:
            answer = self._client().b2c_payment(
                customer_msisdn=request.msisdn,
                amount=request.amount,
                transaction_reference=record.transaction_id[:REFERENCE_MAX],  # hex: valid, and ours alone
                payment_items_desc=request.remarks,
                third_party_conversation_id=self._caller_id(record),
                deadline=deadline,
            )
        except OpenApiError as exc:
            return _sent_outcome(exc, prompt=False)
        return _paid(answer, payout=True)

    def query_payout(self, record: Record, *, replies: PayoutReplies, deadline: Deadline | None) -> QueryOutcome:
        return self._query(record, deadline)

    # --- the status query ---------------------------------------------------------------------------

    def _query(self, record: Record, deadline: Deadline | None) -> QueryOutcome:
        caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
        if caller_id is None:
            return QueryRefused(None)
        try:
            answer = self._client().query_transaction_status(caller_id, deadline=deadline)
        except TransactionNotFoundError as exc:
            # Right after a lost answer this is evidence, not proof: the request stays open.
            return QueryAnswer(exc.response_code, exc.response_desc)
        except OpenApiAnswerMismatchError:
            return Mismatched()
        except OpenApiRefusedError as exc:
            return QueryRefused(exc.info.code)
        except OpenApiError as exc:
            raise ProviderUnavailableError(str(exc)) from exc
        info = answer.status_info
        status = status_for(info.code) if info.final else None
        if status is not None and record.kind is Kind.B2C and status is not Status.SUCCESS:
            status = Status.FAILED  # a payout ends paid or not paid
        return QueryAnswer(
            info.code,
            f"Transaction status: {answer.transaction_status or 'none'}",
            pending=info.disposition is Disposition.PENDING,
            status=status,
            refs={},
            receipt=answer.transaction_id if status is Status.SUCCESS else None,
        )
