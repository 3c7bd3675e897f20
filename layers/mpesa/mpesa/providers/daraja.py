"""Safaricom's Daraja (Kenya) as a provider: STK Push and its query, B2C v3 and Transaction Status.

Daraja answers a push or a payout at once and tells the outcome later (the STK callback, the B2C
Result), so an `Accepted` carries Daraja's identifiers and no settlement. Which errors leave money
open is decided here, once: an OutcomeUnknownError, or a 5xx that is not a definite refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from mpesa.clock import Deadline
from mpesa.daraja.errors import (
    DEFINITE_5XX_CODES,
    AnswerMismatchError,
    DarajaApiError,
    DarajaError,
    OutcomeUnknownError,
)
from mpesa.errors import ConfigurationError, DarajaUnavailableError
from mpesa.providers.base import (
    Accepted,
    AskedLater,
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
from mpesa.providers.registry import DARAJA
from mpesa.records.model import Kind, Record, Ref
from mpesa.telemetry import logger

if TYPE_CHECKING:
    from mpesa.flows.b2c.ports import B2cGateway
    from mpesa.flows.b2c.request import PayoutRequest
    from mpesa.flows.stk.ports import StkGateway
    from mpesa.settings import MpesaSettings

STATUS_REMARKS = "Payout status"


def _sent_outcome(exc: DarajaError) -> SendOutcome:
    """What a failed money-moving request means: unknown, refused, or surely not sent."""
    if isinstance(exc, OutcomeUnknownError):
        return Unknown(str(exc))
    if isinstance(exc, DarajaApiError):
        if exc.http_status >= 500 and exc.error_code not in DEFINITE_5XX_CODES:
            return Unknown(str(exc))  # may have been processed: never re-sent
        return Refused(exc.error_code or f"HTTP{exc.http_status}", exc.error_message)
    return NotSent(str(exc), type(exc).__name__)


def _query_refused(exc: DarajaError) -> QueryRefused:
    """A query that failed: refused by Daraja (nothing learned), or transient trouble, raised as
    DarajaUnavailableError for the state machines to retry."""
    if isinstance(exc, DarajaApiError) and not exc.is_upstream_failure:
        return QueryRefused(exc.error_code)
    raise DarajaUnavailableError(str(exc)) from exc


class DarajaProvider:
    name = DARAJA
    prompt_waits_for_customer = False
    refuses_duplicates = True  # a reused OriginatorConversationID is refused: 500.002.1001

    def __init__(
        self,
        settings: MpesaSettings,
        *,
        stk: Callable[[], StkGateway] | None = None,
        b2c: Callable[[], B2cGateway] | None = None,
    ) -> None:
        self._settings = settings
        self._stk = stk
        self._b2c = b2c

    def _stk_gateway(self) -> StkGateway:
        if self._stk is None:
            raise ConfigurationError({"daraja": "no STK gateway was given to the provider"})
        return self._stk()

    def _b2c_gateway(self) -> B2cGateway:
        if self._b2c is None:
            raise ConfigurationError({"daraja": "no B2C gateway was given to the provider"})
        return self._b2c()

    # --- STK Push ----------------------------------------------------------------------------

    def prompt_wait_s(self) -> float:
        return 0.0

    def prompt_refs(self) -> dict[Ref, str]:
        return {}  # the CheckoutRequestID comes with Daraja's answer

    def prompt(self, record: Record, *, callback_url: str | None, deadline: Deadline | None) -> SendOutcome:
        if callback_url is None:
            raise ConfigurationError({"MPESA_CALLBACK_BASE_URL": "an STK push needs its callback URL"})
        try:
            accepted = self._stk_gateway().stk_push(
                phone_number=record.msisdn,
                amount=record.amount,
                account_reference=record.details["account_reference"],
                transaction_desc=record.details["transaction_desc"],
                callback_url=callback_url,
                deadline=deadline,
            )
        except DarajaError as exc:
            return _sent_outcome(exc)
        return Accepted(
            {
                Ref.CHECKOUT_REQUEST_ID: accepted.checkout_request_id,
                Ref.MERCHANT_REQUEST_ID: accepted.merchant_request_id,
            }
        )

    def can_query(self, record: Record) -> bool:
        ref = Ref.ORIGINATOR_CONVERSATION_ID if record.kind is Kind.B2C else Ref.CHECKOUT_REQUEST_ID
        return record.ref(ref) is not None

    def query_prompt(self, record: Record, *, deadline: Deadline | None) -> QueryOutcome:
        checkout_request_id = record.checkout_request_id
        if checkout_request_id is None:
            return QueryRefused(None)
        try:
            answer = self._stk_gateway().stk_query(checkout_request_id, deadline=deadline)
        except AnswerMismatchError:
            return Mismatched()
        except DarajaError as exc:
            return _query_refused(exc)
        open_ = answer.is_pending or answer.result_code is None
        return QueryAnswer(
            answer.result_code,
            answer.result_desc,
            pending=answer.is_pending,
            status=None if open_ else status_for(answer.result_code),
            refs={Ref.CHECKOUT_REQUEST_ID: checkout_request_id},
        )

    # --- B2C -----------------------------------------------------------------------------------

    def payout_account(self) -> str:
        short_code = self._settings.b2c_short_code
        if short_code is None:
            raise ConfigurationError({"MPESA_B2C_SHORT_CODE": "is required to pay out"})
        return short_code

    def payout_refs(self) -> dict[Ref, str]:
        return {Ref.ORIGINATOR_CONVERSATION_ID: str(uuid.uuid4())}

    def payout(
        self, record: Record, request: PayoutRequest, *, replies: PayoutReplies, deadline: Deadline | None
    ) -> SendOutcome:
        try:
            accepted = self._b2c_gateway().b2c_payment(
                phone_number=request.msisdn,
                amount=request.amount,
                command_id=request.command_id,
                remarks=request.remarks,
                occasion=request.occasion,
                originator_conversation_id=record.ref(Ref.ORIGINATOR_CONVERSATION_ID),
                result_url=replies.result_url(),
                queue_timeout_url=replies.queue_timeout_url(),
                deadline=deadline,
            )
        except DarajaError as exc:
            return _sent_outcome(exc)
        # No ConversationID: Daraja had this OCID already (accepted earlier, never paid twice).
        return Accepted({Ref.CONVERSATION_ID: accepted.conversation_id} if accepted.conversation_id else {})

    def query_payout(self, record: Record, *, replies: PayoutReplies, deadline: Deadline | None) -> QueryOutcome:
        """Transaction Status by our OriginatorConversationID; its Result arrives on the signed URL."""
        ocid = record.ref(Ref.ORIGINATOR_CONVERSATION_ID)
        if ocid is None:
            return QueryRefused(None)
        try:
            answer = self._b2c_gateway().transaction_status(
                originator_conversation_id=ocid,
                party_a=self._settings.b2c_short_code,
                identifier_type="4",
                result_url=replies.status_result_url(),
                queue_timeout_url=replies.status_timeout_url(),
                remarks=STATUS_REMARKS,
                deadline=deadline,
            )
        except DarajaError as exc:
            return _query_refused(exc)
        logger.info("Transaction Status asked", extra={"status_conversation_id": answer.conversation_id})
        return AskedLater(answer.conversation_id)
