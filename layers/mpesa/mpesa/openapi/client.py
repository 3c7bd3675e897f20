"""OpenApiClient: Vodacom's M-Pesa OpenAPI (Tanzania by default), a façade over one request pipeline.

Each method builds its request model (pydantic, `input_*` wire names), sends it through the
pipeline (breaker, shared session, retry policy, deadline, money safety; `mpesa.openapi.pipeline`)
and returns the typed answer, or raises a typed OpenApiError. Synchronous and safe to share across
invocations. See docs/openapi-client.md.

Money-moving methods (`c2b_single_stage`, `b2c_payment`, `reversal`) take the caller's
ThirdPartyConversationID: store it before calling, because it is how an unknown outcome is resolved
(`query_transaction_status(third_party_conversation_id)`), never by sending again.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import TYPE_CHECKING, Any

from mpesa.clock import SYSTEM_CLOCK, Clock, Deadline
from mpesa.daraja.aws import dynamodb_client, state_table_name
from mpesa.daraja.breaker import TRIAL_SECONDS, TRIAL_SLACK_SECONDS, CircuitBreaker, DynamoBreakerStore
from mpesa.errors import InputError
from mpesa.openapi.crypto import BearerFactory
from mpesa.openapi.errors import (
    OpenApiAnswerMismatchError,
    OpenApiOutcomeUnknownError,
    OpenApiResponseError,
)
from mpesa.openapi.models import (
    B2CRequest,
    C2BSingleStageRequest,
    QueryTransactionStatusRequest,
    ReversalRequest,
    TransactionAnswer,
    TransactionStatusAnswer,
    parse_answer,
)
from mpesa.openapi.operations import B2C_PAYMENT, C2B_SINGLE_STAGE, QUERY_TRANSACTION_STATUS, REVERSAL, Operation
from mpesa.openapi.pipeline import DEFAULT_BUDGET_S, OpenApiPipeline
from mpesa.openapi.sessions import DynamoSessionStore, SessionProvider, session_cache_key
from mpesa.request_models import build_request
from mpesa.settings import MpesaSettings, OpenApiSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)

# MSISDN rules per OpenAPI country (input_Country): Tanzanian mobiles are 255, then 6 or 7, then 8 digits.
MSISDN_RULES: dict[str, re.Pattern[str]] = {"TZN": re.compile(r"^255[67][0-9]{8}$")}
SANDBOX_MSISDN = "000000000001"  # the portal's sandbox customer
SESSION_ALLOWANCE_S = 10.0  # time a C2B trial call leaves for a getSession before the prompt


def new_conversation_id() -> str:
    """A fresh ThirdPartyConversationID (32 hex characters)."""
    return uuid.uuid4().hex


def openapi_breaker(
    settings: OpenApiSettings,
    table_name: str | None,
    client: DynamoDBClient | None,
    clock: Clock = SYSTEM_CLOCK,
) -> CircuitBreaker:
    """The OpenAPI's own breaker (`breaker#openapi-<market>`), shared through the state table when given.

    A half-open trial may be a C2B, which waits for the customer: its claim lasts long enough for
    one whole C2B (connect + C2B read timeout, plus time for a session), not Daraja's 30 s.
    """
    trial_s = max(
        TRIAL_SECONDS,
        TRIAL_SLACK_SECONDS + settings.connect_timeout_s + settings.c2b_read_timeout_s + SESSION_ALLOWANCE_S,
    )
    store = DynamoBreakerStore(table_name, client) if table_name and client is not None else None
    return CircuitBreaker(f"openapi-{settings.market}", store=store, trial_seconds=trial_s, clock=clock.now)


class OpenApiClient:
    """The OpenAPI for one application (API key), market and ServiceProviderCode, as configured."""

    def __init__(
        self,
        settings: OpenApiSettings,
        *,
        state_table_name: str | None = None,
        dynamodb: DynamoDBClient | None = None,
        breaker: CircuitBreaker | None = None,
        sessions: SessionProvider | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retries: int = 3,
        backoff_factor: float = 2.0,
        default_budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        self.settings = settings
        bearers = BearerFactory(settings.public_key.get_secret_value())  # a bad key fails here, at start
        if state_table_name and dynamodb is None and (sessions is None or breaker is None):
            dynamodb = dynamodb_client()
        if sessions is None:
            key = session_cache_key(settings.api_root, settings.api_key.get_secret_value())
            store = DynamoSessionStore(state_table_name, dynamodb) if state_table_name and dynamodb else None
            sessions = SessionProvider(key, store=store, clock=clock)
        self.pipeline = OpenApiPipeline(
            settings,
            breaker=breaker or openapi_breaker(settings, state_table_name, dynamodb, clock),
            sessions=sessions,
            bearers=bearers,
            clock=clock,
            retries=retries,
            backoff_factor=backoff_factor,
            default_budget_s=default_budget_s,
        )
        self.sessions = sessions
        self.breaker = self.pipeline.breaker

    @classmethod
    def from_environment(cls, settings: MpesaSettings | OpenApiSettings | None = None, **options: Any) -> OpenApiClient:
        """Settings from `load_settings()` (env vars, or the secret named by MPESA_SECRET_ID) and the
        shared state table from STATE_TABLE_NAME (memory-only when unset)."""
        options.setdefault("state_table_name", state_table_name())
        resolved = settings if settings is not None else load_settings()
        return cls(resolved.openapi() if isinstance(resolved, MpesaSettings) else resolved, **options)

    def c2b_send_window_s(self) -> float:
        """The least time `c2b_single_stage` needs before its deadline: connect + the whole C2B read timeout."""
        return self.pipeline.send_window_s(C2B_SINGLE_STAGE)

    # --- checks ------------------------------------------------------------------------------------

    def _msisdn(self, value: object, field: str = "customer_msisdn") -> str:
        if not isinstance(value, str):
            raise InputError(field, "must be text")
        rule = MSISDN_RULES.get(self.settings.country)
        if value == SANDBOX_MSISDN:
            if not self.settings.is_sandbox:
                raise InputError(field, "the sandbox test number is accepted only in the sandbox")
            return value
        if rule is not None and not rule.match(value):
            raise InputError(field, f"must be a mobile number of {self.settings.country} in international form")
        return value

    @staticmethod
    def _amount(value: object, field: str = "amount") -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(field, "must be a whole number of units (int)")
        return value

    def _money_answer(self, op: Operation, status: int, payload: dict[str, Any], caller_id: str) -> TransactionAnswer:
        """The success answer of a money-moving operation; anything we cannot read is an unknown outcome."""
        try:
            answer = parse_answer(op.api, TransactionAnswer, status, payload)
        except OpenApiResponseError as exc:
            raise OpenApiOutcomeUnknownError(
                op.api,
                f"unreadable success answer: {exc.problem}",
                third_party_conversation_id=caller_id,
                http_status=status,
            ) from None
        if answer.transaction_id is None:
            raise OpenApiOutcomeUnknownError(
                op.api,
                "success without a TransactionID",
                third_party_conversation_id=caller_id,
                http_status=status,
                response_code=answer.response_code,
                conversation_id=answer.conversation_id,
            )
        return answer

    # --- operations ----------------------------------------------------------------------------

    def ensure_session(self, *, deadline: Deadline | None = None) -> None:
        """Create (or find) the shared session now, e.g. before a C2B whose deadline is tight."""
        self.pipeline.ensure_session(deadline)

    def c2b_single_stage(
        self,
        *,
        customer_msisdn: str,
        amount: int,
        transaction_reference: str,
        purchased_items_desc: str,
        third_party_conversation_id: str,
        deadline: Deadline,
    ) -> TransactionAnswer:
        """Prompt the customer for their PIN and wait for the outcome (synchronous).

        `deadline` is required: the answer comes when the customer acts or Vodacom's prompt times out,
        well past 30 s. The request is sent only if the deadline leaves `c2b_send_window_s()`; a
        failure to connect is retried, nothing after sending is. Returns the success answer
        (`transaction_id` is the receipt). Raises OpenApiRefusedError when nothing moved (INS-5
        cancelled, INS-6 failed/wrong PIN, INS-2006, INS-2051, ...: see `.info`), and
        OpenApiOutcomeUnknownError when the customer may have paid (INS-9 timeout, lost answer...):
        resolve it with `query_transaction_status(third_party_conversation_id)`, never by sending again.
        """
        s = self.settings
        request = build_request(
            C2BSingleStageRequest,
            {
                "amount": self._amount(amount),
                "country": s.country,
                "currency": s.currency,
                "customer_msisdn": self._msisdn(customer_msisdn),
                "service_provider_code": s.service_provider_code,
                "third_party_conversation_id": third_party_conversation_id,
                "transaction_reference": transaction_reference,
                "purchased_items_desc": purchased_items_desc,
            },
        )
        caller_id = request.third_party_conversation_id
        status, payload = self.pipeline.call(C2B_SINGLE_STAGE, request.wire(), deadline, caller_id)
        return self._money_answer(C2B_SINGLE_STAGE, status, payload, caller_id)

    def b2c_payment(
        self,
        *,
        customer_msisdn: str,
        amount: int,
        transaction_reference: str,
        payment_items_desc: str,
        third_party_conversation_id: str,
        deadline: Deadline | None = None,
    ) -> TransactionAnswer:
        """Pay a customer. Sent once (connect failures excepted); OpenApiRefusedError when nothing was paid
        (INS-2006 insufficient balance, ...), OpenApiOutcomeUnknownError when it may have been:
        resolve it by query. A repeated ThirdPartyConversationID is OpenApiDuplicateError (query the first)."""
        s = self.settings
        request = build_request(
            B2CRequest,
            {
                "amount": self._amount(amount),
                "country": s.country,
                "currency": s.currency,
                "customer_msisdn": self._msisdn(customer_msisdn),
                "service_provider_code": s.service_provider_code,
                "third_party_conversation_id": third_party_conversation_id,
                "transaction_reference": transaction_reference,
                "payment_items_desc": payment_items_desc,
            },
        )
        caller_id = request.third_party_conversation_id
        status, payload = self.pipeline.call(B2C_PAYMENT, request.wire(), deadline, caller_id)
        return self._money_answer(B2C_PAYMENT, status, payload, caller_id)

    def reversal(
        self,
        *,
        transaction_id: str,
        amount: int,
        third_party_conversation_id: str,
        deadline: Deadline | None = None,
    ) -> TransactionAnswer:
        """Reverse a completed transaction (its TransactionID) for `amount`. Moves money: sent once;
        the answer's `transaction_id` is the reversal's own."""
        s = self.settings
        request = build_request(
            ReversalRequest,
            {
                "reversal_amount": self._amount(amount),
                "country": s.country,
                "service_provider_code": s.service_provider_code,
                "third_party_conversation_id": third_party_conversation_id,
                "transaction_id": transaction_id,
            },
            renamed={"reversal_amount": "amount"},
        )
        caller_id = request.third_party_conversation_id
        status, payload = self.pipeline.call(REVERSAL, request.wire(), deadline, caller_id)
        return self._money_answer(REVERSAL, status, payload, caller_id)

    def query_transaction_status(
        self,
        query_reference: str,
        *,
        third_party_conversation_id: str | None = None,
        expected_transaction_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> TransactionStatusAnswer:
        """The state of a C2B, B2C or reversal, found by `query_reference`: its ThirdPartyConversationID
        (how an unknown outcome is resolved), TransactionID or ConversationID. Safe to repeat.

        The query carries its own ThirdPartyConversationID (`third_party_conversation_id`, fresh by
        default); an answer naming another one, or a TransactionID other than `expected_transaction_id`
        (when both are known), raises OpenApiAnswerMismatchError: it is applied to nothing.
        `status_info` of the answer is the transaction's state in the shared outcome table;
        TransactionNotFoundError (INS-18) when the reference is unknown.
        """
        own_id = third_party_conversation_id or new_conversation_id()
        s = self.settings
        request = build_request(
            QueryTransactionStatusRequest,
            {
                "query_reference": query_reference,
                "service_provider_code": s.service_provider_code,
                "third_party_conversation_id": own_id,
                "country": s.country,
            },
        )
        status, payload = self.pipeline.call(QUERY_TRANSACTION_STATUS, request.wire(), deadline, None)
        answer = parse_answer(QUERY_TRANSACTION_STATUS.api, TransactionStatusAnswer, status, payload)
        if answer.third_party_conversation_id != own_id:
            raise OpenApiAnswerMismatchError(
                QUERY_TRANSACTION_STATUS.api, own_id, answer.third_party_conversation_id or ""
            )
        if expected_transaction_id and answer.transaction_id and answer.transaction_id != expected_transaction_id:
            raise OpenApiAnswerMismatchError(
                QUERY_TRANSACTION_STATUS.api, expected_transaction_id, answer.transaction_id
            )
        return answer
