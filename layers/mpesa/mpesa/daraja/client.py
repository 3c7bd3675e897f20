"""DarajaClient: a façade of per-API methods over one request pipeline (`mpesa.daraja.pipeline`).

Each method builds its request model (pydantic, wire names), sends it through the pipeline (breaker,
shared token, retry policy, deadlines, money safety) and returns the typed answer, or raises a typed
DarajaError. Synchronous and safe to share across invocations. See docs/daraja-client.md for the retry
rules and the TIMEOUT (outcome unknown) semantics.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from mpesa import rules
from mpesa.clock import NAIROBI, SYSTEM_CLOCK, Clock, Deadline
from mpesa.daraja.aws import dynamodb_client, state_table_name
from mpesa.daraja.breaker import CircuitBreaker
from mpesa.daraja.credentials import daraja_timestamp, security_credential, stk_password
from mpesa.daraja.errors import AnswerMismatchError, DuplicateOriginatorConversationIdError, StillProcessingError
from mpesa.daraja.pipeline import (
    ACCOUNT_BALANCE,
    B2C_PAYMENT,
    DEFAULT_BUDGET_S,
    REVERSAL,
    STK_PUSH,
    STK_QUERY,
    TRANSACTION_STATUS,
    Endpoint,
    RequestPipeline,
    c2b_register_endpoint,
    c2b_simulate_endpoint,
)
from mpesa.daraja.tokens import DynamoTokenStore, TokenProvider, token_cache_key
from mpesa.daraja.urls import validate_callback_url
from mpesa.errors import ConfigurationError
from mpesa.request_models import build_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    # Each API's models load with its first call (pydantic included), the settings with the caller's
    # own: importing the client builds no model.
    from mpesa.daraja.models import (
        AsyncRequestResponse,
        B2CCommand,
        B2CResponse,
        C2BCommand,
        C2BRegisterUrlResponse,
        C2BSimulateResponse,
        IdentifierType,
        StkPushResponse,
        StkQueryResponse,
    )
    from mpesa.daraja.pull import PullTransactionsApi
    from mpesa.daraja.wire import DarajaRequest
    from mpesa.settings import MpesaSettings

log = logging.getLogger(__name__)


class DarajaClient:
    """Daraja for one app (consumer key) and shortcode set, as configured by MpesaSettings."""

    def __init__(
        self,
        settings: MpesaSettings,
        *,
        state_table_name: str | None = None,
        dynamodb: DynamoDBClient | None = None,
        breaker: CircuitBreaker | None = None,
        tokens: TokenProvider | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retries: int = 3,
        backoff_factor: float = 2.0,
        default_budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._credential: str | None = None
        if state_table_name and dynamodb is None and (tokens is None or breaker is None):
            dynamodb = dynamodb_client()
        if tokens is None:
            key = token_cache_key(settings.consumer_key.get_secret_value(), settings.daraja_base_url)
            store = DynamoTokenStore(state_table_name, dynamodb) if state_table_name and dynamodb else None
            tokens = TokenProvider(key, store=store, clock=clock)
        self.pipeline = RequestPipeline(
            settings,
            breaker=breaker or CircuitBreaker.shared("daraja", state_table_name, client=dynamodb, clock=clock.now),
            tokens=tokens,
            retries=retries,
            backoff_factor=backoff_factor,
            default_budget_s=default_budget_s,
        )
        self.tokens = tokens
        self.breaker = self.pipeline.breaker

    @cached_property
    def pull(self) -> PullTransactionsApi:
        """Pull Transactions (the daily reconciliation's view); its models load on first use."""
        from mpesa.daraja.pull import PullTransactionsApi

        return PullTransactionsApi(self.pipeline, self.settings.business_short_code)

    @classmethod
    def from_environment(cls, settings: MpesaSettings | None = None, **options: Any) -> DarajaClient:
        """Settings from `load_settings()` (env vars, or the secret named by MPESA_SECRET_ID) and the
        shared state table from STATE_TABLE_NAME (memory-only when unset)."""
        from mpesa.settings import load_settings

        options.setdefault("state_table_name", state_table_name())
        return cls(settings or load_settings(), **options)

    @property
    def send_window_s(self) -> float:
        """The least time a money-moving request is started with: connect timeout + a read window."""
        return self.pipeline.send_window_s

    def _callback_url(self, url: str, field: str) -> str:
        return validate_callback_url(url, field=field, require_https=not self.settings.is_sandbox)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), tz=NAIROBI)

    def _password(self) -> tuple[str, str]:
        timestamp = daraja_timestamp(self._now())
        s = self.settings
        return stk_password(s.business_short_code, s.passkey.get_secret_value(), timestamp), timestamp

    def _initiator(self) -> tuple[str, str]:
        """Initiator name and SecurityCredential (computed once per client from the certificate)."""
        name, password = self.settings.require_initiator()
        if self._credential is None:
            self._credential = security_credential(password.get_secret_value(), self.settings.certificate())
        return name, self._credential

    def _b2c_short_code(self) -> str:
        if self.settings.b2c_short_code is None:
            raise ConfigurationError({"MPESA_B2C_SHORT_CODE": "is required for this API"})
        return self.settings.b2c_short_code

    # --- APIs ------------------------------------------------------------------------------

    def access_token(self, *, deadline: Deadline | None = None) -> str:
        """A valid token (shared cache first). Mostly for diagnostics: every API call gets its own."""
        return self.pipeline.access_token(deadline)

    def stk_push(
        self,
        *,
        phone_number: str,
        amount: int,
        account_reference: str,
        transaction_desc: str,
        callback_url: str,
        party_a: str | None = None,
        deadline: Deadline | None = None,
    ) -> StkPushResponse:
        """M-Pesa Express. `phone_number` is already normalised (12 digits, 2547…), `amount` whole units.

        Raises OutcomeUnknownError (error_code "TIMEOUT") when the push may have been created but
        no readable answer came back: it is never re-sent.
        """
        from mpesa.daraja.models import StkPushRequest, StkPushResponse

        s = self.settings
        password, timestamp = self._password()
        party_b = s.business_short_code
        if s.transaction_type == "CustomerBuyGoodsOnline":
            if s.till_number is None:
                raise ConfigurationError({"MPESA_TILL_NUMBER": "is required for CustomerBuyGoodsOnline"})
            party_b = s.till_number
        request = build_request(
            StkPushRequest,
            {
                "business_short_code": s.business_short_code,
                "password": password,
                "timestamp": timestamp,
                "transaction_type": s.transaction_type,
                "amount": amount,
                "party_a": party_a or phone_number,
                "party_b": party_b,
                "phone_number": phone_number,
                "call_back_url": self._callback_url(callback_url, "callback_url"),
                "account_reference": rules.account_reference(account_reference),
                "transaction_desc": rules.transaction_desc(transaction_desc),
            },
            renamed={} if party_a else {"party_a": "phone_number"},
        )
        status, payload = self.pipeline.call(STK_PUSH, request.wire(), deadline)
        response = self.pipeline.parse(STK_PUSH, StkPushResponse, status, payload)
        self.pipeline.require_accepted(STK_PUSH, status, response.response_code, response.response_description)
        return response

    def stk_query(self, checkout_request_id: str, *, deadline: Deadline | None = None) -> StkQueryResponse:
        """The STK push's state; `is_pending` covers both ResultCode 4999 and the 500.001.1001 answer.

        An answer naming another CheckoutRequestID raises AnswerMismatchError: it is about another payment."""
        from mpesa.daraja.models import StkQueryRequest, StkQueryResponse

        s = self.settings
        password, timestamp = self._password()
        request = build_request(
            StkQueryRequest,
            {
                "business_short_code": s.business_short_code,
                "password": password,
                "timestamp": timestamp,
                "checkout_request_id": checkout_request_id,
            },
        )
        try:
            status, payload = self.pipeline.call(STK_QUERY, request.wire(), deadline)
        except StillProcessingError as exc:
            return StkQueryResponse.still_processing(checkout_request_id, exc)
        answer = self.pipeline.parse(STK_QUERY, StkQueryResponse, status, payload)
        if answer.checkout_request_id != checkout_request_id:
            raise AnswerMismatchError(STK_QUERY.api, checkout_request_id, answer.checkout_request_id)
        return answer

    def b2c_payment(
        self,
        *,
        phone_number: str,
        amount: int,
        command_id: B2CCommand,
        remarks: str,
        result_url: str,
        queue_timeout_url: str,
        occasion: str | None = None,
        originator_conversation_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> B2CResponse:
        """B2C v3. Pass the OriginatorConversationID you stored before calling (a uuid4 is made otherwise).

        Retried like a query: a repeat cannot pay twice. Daraja's duplicate answer (500.002.1001)
        comes back as `accepted_earlier=True` (outcome pending). OutcomeUnknownError carries the OCID:
        resolve with transaction_status(originator_conversation_id=...) or re-send with the same OCID.
        """
        from mpesa.daraja.models import B2CRequest, B2CResponse

        ocid = originator_conversation_id or str(uuid.uuid4())
        initiator, credential = self._initiator()
        request = build_request(
            B2CRequest,
            {
                "originator_conversation_id": ocid,
                "initiator_name": initiator,
                "security_credential": credential,
                "command_id": command_id,
                "amount": amount,
                "party_a": self._b2c_short_code(),
                "party_b": phone_number,
                "remarks": rules.remarks(remarks),
                "queue_timeout_url": self._callback_url(queue_timeout_url, "queue_timeout_url"),
                "result_url": self._callback_url(result_url, "result_url"),
                "occasion": rules.occasion(occasion),
            },
        )
        try:
            status, payload = self.pipeline.call(B2C_PAYMENT, request.wire(), deadline, ocid=ocid)
        except DuplicateOriginatorConversationIdError as exc:
            log.info("b2c_payment: OriginatorConversationID already accepted; outcome pending")
            return B2CResponse(
                conversation_id=None,
                originator_conversation_id=ocid,
                response_code=None,
                response_description=exc.error_message,
                accepted_earlier=True,
            )
        payload.setdefault("OriginatorConversationID", ocid)
        response = self.pipeline.parse(B2C_PAYMENT, B2CResponse, status, payload, ocid)
        self.pipeline.require_accepted(B2C_PAYMENT, status, response.response_code, response.response_description)
        if response.originator_conversation_id != ocid:
            log.warning("b2c_payment: Daraja echoed a different OriginatorConversationID; keeping ours")
            response = response.model_copy(update={"originator_conversation_id": ocid})
        return response

    def c2b_register_urls(
        self,
        *,
        confirmation_url: str,
        validation_url: str,
        response_type: Literal["Completed", "Cancelled"] = "Completed",
        short_code: str | None = None,
        deadline: Deadline | None = None,
    ) -> C2BRegisterUrlResponse:
        """Register URL, v1 or v2 per MPESA_C2B_API_VERSION (it must match the app's C2B product)."""
        from mpesa.daraja.models import C2BRegisterUrlRequest, C2BRegisterUrlResponse

        endpoint = c2b_register_endpoint(self.settings.c2b_api_version)
        request = build_request(
            C2BRegisterUrlRequest,
            {
                "short_code": short_code or self.settings.business_short_code,
                "response_type": response_type,
                "confirmation_url": self._callback_url(confirmation_url, "confirmation_url"),
                "validation_url": self._callback_url(validation_url, "validation_url"),
            },
        )
        status, payload = self.pipeline.call(endpoint, request.wire(), deadline)
        response = self.pipeline.parse(endpoint, C2BRegisterUrlResponse, status, payload)
        self.pipeline.require_accepted(endpoint, status, response.response_code, response.response_description)
        return response

    def c2b_simulate(
        self,
        *,
        amount: int,
        msisdn: str,
        bill_ref_number: str | None = None,
        command_id: C2BCommand | None = None,
        short_code: str | None = None,
        deadline: Deadline | None = None,
    ) -> C2BSimulateResponse:
        """Sandbox only: makes Daraja send a C2B validation/confirmation as if a customer paid."""
        from mpesa.daraja.models import C2BSimulateRequest, C2BSimulateResponse

        if not self.settings.is_sandbox:
            raise ConfigurationError({"MPESA_ENVIRONMENT": "C2B simulate exists only in the sandbox"})
        endpoint = c2b_simulate_endpoint(self.settings.c2b_api_version)
        request = build_request(
            C2BSimulateRequest,
            {
                "short_code": short_code or self.settings.business_short_code,
                "command_id": command_id or self.settings.transaction_type,
                "amount": amount,
                "msisdn": msisdn,
                "bill_ref_number": bill_ref_number,
            },
        )
        status, payload = self.pipeline.call(endpoint, request.wire(), deadline)
        response = self.pipeline.parse(endpoint, C2BSimulateResponse, status, payload)
        self.pipeline.require_accepted(endpoint, status, response.response_code, response.response_description)
        return response

    def transaction_status(
        self,
        *,
        result_url: str,
        queue_timeout_url: str,
        transaction_id: str | None = None,
        originator_conversation_id: str | None = None,
        party_a: str | None = None,
        identifier_type: IdentifierType = "4",
        remarks: str = "Transaction status",
        occasion: str | None = None,
        deadline: Deadline | None = None,
    ) -> AsyncRequestResponse:
        """Status by receipt (`transaction_id`) or by our OCID; the result is POSTed to ResultURL."""
        from mpesa.daraja.models import TransactionStatusRequest

        initiator, credential = self._initiator()
        request = build_request(
            TransactionStatusRequest,
            {
                "initiator": initiator,
                "security_credential": credential,
                "transaction_id": transaction_id,
                "original_conversation_id": originator_conversation_id,
                "party_a": party_a or self.settings.b2c_short_code or self.settings.business_short_code,
                "identifier_type": identifier_type,
                "result_url": self._callback_url(result_url, "result_url"),
                "queue_timeout_url": self._callback_url(queue_timeout_url, "queue_timeout_url"),
                "remarks": remarks,
                "occasion": occasion or None,
            },
        )
        return self._async_request(TRANSACTION_STATUS, request, deadline)

    def account_balance(
        self,
        *,
        result_url: str,
        queue_timeout_url: str,
        party_a: str | None = None,
        identifier_type: IdentifierType = "4",
        remarks: str = "Account balance",
        deadline: Deadline | None = None,
    ) -> AsyncRequestResponse:
        """Ask for the shortcode's balances (B2C shortcode by default); the result arrives at ResultURL."""
        from mpesa.daraja.models import AccountBalanceRequest

        initiator, credential = self._initiator()
        request = build_request(
            AccountBalanceRequest,
            {
                "initiator": initiator,
                "security_credential": credential,
                "party_a": party_a or self.settings.b2c_short_code or self.settings.business_short_code,
                "identifier_type": identifier_type,
                "remarks": remarks,
                "result_url": self._callback_url(result_url, "result_url"),
                "queue_timeout_url": self._callback_url(queue_timeout_url, "queue_timeout_url"),
            },
        )
        return self._async_request(ACCOUNT_BALANCE, request, deadline)

    def reversal(
        self,
        *,
        transaction_id: str,
        amount: int,
        result_url: str,
        queue_timeout_url: str,
        receiver_party: str | None = None,
        remarks: str = "Reversal",
        occasion: str | None = None,
        deadline: Deadline | None = None,
    ) -> AsyncRequestResponse:
        """Reverse a receipt (RecieverIdentifierType "11"). Moves money: never re-sent after sending."""
        from mpesa.daraja.models import ReversalRequest

        initiator, credential = self._initiator()
        request = build_request(
            ReversalRequest,
            {
                "initiator": initiator,
                "security_credential": credential,
                "transaction_id": transaction_id,
                "amount": amount,
                "receiver_party": receiver_party or self.settings.business_short_code,
                "result_url": self._callback_url(result_url, "result_url"),
                "queue_timeout_url": self._callback_url(queue_timeout_url, "queue_timeout_url"),
                "remarks": remarks,
                "occasion": occasion or None,
            },
        )
        return self._async_request(REVERSAL, request, deadline)

    def _async_request(
        self, endpoint: Endpoint, request: DarajaRequest, deadline: Deadline | None
    ) -> AsyncRequestResponse:
        from mpesa.daraja.models import AsyncRequestResponse

        status, payload = self.pipeline.call(endpoint, request.wire(), deadline)
        response = self.pipeline.parse(endpoint, AsyncRequestResponse, status, payload)
        self.pipeline.require_accepted(endpoint, status, response.response_code, response.response_description)
        return response
