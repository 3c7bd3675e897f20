"""DarajaClient: every Daraja API the backend uses, synchronous, safe to share across invocations.

Each call: circuit breaker permit → access token (shared cache) → one HTTP exchange with the retry
policy its API allows → typed response, or a typed DarajaError. An "Invalid Access Token" answer
causes one forced token refresh and one re-send (the gateway rejected the request unprocessed).
A money-moving request is sent only with time for a whole attempt left (`send_window_s`); the token
fetch before it is cut short to keep that time. See docs/daraja-client.md for the retry rules and the
TIMEOUT (outcome unknown) semantics.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import requests
from pydantic import ValidationError

from mpesa.breaker import CircuitBreaker, CircuitBreakerError, Permit
from mpesa.daraja.auth import DEFAULT_LEASE_S, LEASE_SLACK_S, DynamoTokenStore, TokenProvider, token_cache_key
from mpesa.daraja.aws import dynamodb_client, state_table_name
from mpesa.daraja.clock import SYSTEM_CLOCK, Clock
from mpesa.daraja.credentials import NAIROBI, daraja_timestamp, security_credential, stk_password
from mpesa.daraja.errors import (
    DEFINITE_5XX_CODES,
    DUPLICATE_OCID_CODE,
    CircuitOpenError,
    DarajaApiError,
    DarajaError,
    DarajaResponseError,
    DarajaTransportError,
    DeadlineExceededError,
    DuplicateOriginatorConversationIdError,
    InvalidAccessTokenError,
    OutcomeUnknownError,
    StillProcessingError,
    api_error,
)
from mpesa.daraja.models import (
    AccessTokenResponse,
    AccountBalanceRequest,
    AsyncRequestResponse,
    B2CCommand,
    B2CRequest,
    B2CResponse,
    C2BCommand,
    C2BRegisterUrlRequest,
    C2BRegisterUrlResponse,
    C2BSimulateRequest,
    C2BSimulateResponse,
    DarajaRequest,
    DarajaResponse,
    ErrorBody,
    IdentifierType,
    ReversalRequest,
    StkPushRequest,
    StkPushResponse,
    StkQueryRequest,
    StkQueryResponse,
    TransactionStatusRequest,
    parse_response,
)
from mpesa.daraja.transport import (
    Deadline,
    RetryKind,
    RetryPolicy,
    call_budget,
    describe_transport_error,
    request_not_sent,
    session_for,
)
from mpesa.daraja.urls import validate_callback_url
from mpesa.errors import ConfigurationError, InputError
from mpesa.settings import MpesaSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)

DEFAULT_BUDGET_S = 29.0  # API Gateway answers 504 after 30 s: a call without a deadline fits that
MIN_ATTEMPT_S = 0.25  # below this much time left, a request is not started
# A money-moving request is sent only with connect timeout + this much read time left (or the whole
# read timeout when shorter): started with less, it would most likely end as an unknown outcome.
MIN_READ_WINDOW_S = 10.0
MAX_TOKEN_FETCH_S = DEFAULT_LEASE_S - LEASE_SLACK_S  # the refresh lease must outlast every fetch


@dataclass(frozen=True)
class Endpoint:
    api: str
    path: str
    retry: RetryKind
    moves_money: bool  # an unanswered request may have moved money: OutcomeUnknownError, never re-sent
    method: Literal["GET", "POST"] = "POST"


OAUTH = Endpoint("oauth", "/oauth/v1/generate?grant_type=client_credentials", RetryKind.SAFE, False, "GET")
STK_PUSH = Endpoint("stk_push", "/mpesa/stkpush/v1/processrequest", RetryKind.CONNECT_ONLY, True)
STK_QUERY = Endpoint("stk_query", "/mpesa/stkpushquery/v1/query", RetryKind.SAFE, False)
# B2C v3 may be repeated: Daraja rejects a second request with our OriginatorConversationID.
B2C_PAYMENT = Endpoint("b2c_payment", "/mpesa/b2c/v3/paymentrequest", RetryKind.SAFE, True)
TRANSACTION_STATUS = Endpoint("transaction_status", "/mpesa/transactionstatus/v1/query", RetryKind.SAFE, False)
ACCOUNT_BALANCE = Endpoint("account_balance", "/mpesa/accountbalance/v1/query", RetryKind.SAFE, False)
REVERSAL = Endpoint("reversal", "/mpesa/reversal/v1/request", RetryKind.CONNECT_ONLY, True)


def c2b_register_endpoint(version: str) -> Endpoint:
    return Endpoint("c2b_register_urls", f"/mpesa/c2b/{version}/registerurl", RetryKind.SAFE, False)


def c2b_simulate_endpoint(version: str) -> Endpoint:
    return Endpoint("c2b_simulate", f"/mpesa/c2b/{version}/simulate", RetryKind.CONNECT_ONLY, True)


_NOT_JSON = object()


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: object  # decoded JSON, or _NOT_JSON
    # An attempt of this exchange before the one answered may have reached Daraja (a 503/504 or a
    # read error that urllib3 retried): the answer speaks only for the last attempt.
    resent: bool = False


def _decode(content: bytes) -> object:
    if not content.strip():
        return _NOT_JSON
    try:
        return json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _build[R: DarajaRequest](model: type[R], values: dict[str, Any], renamed: dict[str, str] | None = None) -> R:
    """The request model, or InputError naming the first offending field by the caller's name
    (our snake_case name, or `renamed[name]` for fields derived from another argument)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        field = "request"
        if error["loc"]:
            wire = str(error["loc"][0])
            field = next((name for name, f in model.model_fields.items() if f.alias == wire), wire)
            field = (renamed or {}).get(field, field)
        raise InputError(field, error["msg"]) from None


def _settle(permit: Permit, exc: DarajaError) -> None:
    """Breaker verdict for a failed call: upstream trouble counts; an error answer means Daraja is up."""
    if exc.is_upstream_failure:
        permit.failure()
    elif isinstance(exc, DarajaApiError):
        permit.success()
    else:
        permit.release()  # not sent (deadline, token wait): no verdict


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
        self._retries = retries
        self._backoff_factor = backoff_factor
        self._default_budget_s = default_budget_s
        self._base_url = settings.daraja_base_url
        self._credential: str | None = None
        if state_table_name and dynamodb is None and (tokens is None or breaker is None):
            dynamodb = dynamodb_client()
        if tokens is None:
            key = token_cache_key(settings.consumer_key.get_secret_value(), self._base_url)
            store = DynamoTokenStore(state_table_name, dynamodb) if state_table_name and dynamodb else None
            tokens = TokenProvider(key, store=store, clock=clock)
        self.tokens = tokens
        self.breaker = breaker or CircuitBreaker.shared("daraja", state_table_name, client=dynamodb, clock=clock.now)

    @classmethod
    def from_environment(cls, settings: MpesaSettings | None = None, **options: Any) -> DarajaClient:
        """Settings from `load_settings()` (env vars, or the secret named by MPESA_SECRET_ID) and the
        shared state table from STATE_TABLE_NAME (memory-only when unset)."""
        options.setdefault("state_table_name", state_table_name())
        return cls(settings or load_settings(), **options)

    # --- plumbing --------------------------------------------------------------------------

    def _deadline(self, deadline: Deadline | None) -> Deadline:
        return deadline if deadline is not None else Deadline.within(self._default_budget_s)

    def _permit(self, api: str) -> Permit:
        try:
            return self.breaker.acquire()
        except CircuitBreakerError as exc:
            raise CircuitOpenError(api, exc) from None

    def _policy(self, endpoint: Endpoint) -> RetryPolicy:
        return RetryPolicy(endpoint.retry, self._retries, self._backoff_factor)

    @property
    def send_window_s(self) -> float:
        """The least time a money-moving request is started with: connect timeout + a read window."""
        s = self.settings
        return s.connect_timeout_s + min(s.read_timeout_s, MIN_READ_WINDOW_S)

    def _require_time(self, endpoint: Endpoint, deadline: Deadline) -> float:
        """The time left, or DeadlineExceededError (nothing sent) when too little is left to start."""
        remaining = deadline.remaining_s()
        needed = self.send_window_s if endpoint.moves_money else MIN_ATTEMPT_S
        if remaining < needed:
            raise DeadlineExceededError(
                endpoint.api, f"only {max(remaining, 0):.2f} s left, {needed:.2f} s needed: request not sent"
            )
        return remaining

    def _exchange(
        self,
        endpoint: Endpoint,
        body: dict[str, Any] | None,
        authorization: str,
        deadline: Deadline,
        ocid: str | None = None,
    ) -> _Answer:
        remaining = self._require_time(endpoint, deadline)
        connect_s, read_s = self.settings.connect_timeout_s, self.settings.read_timeout_s
        headers = {"Authorization": authorization}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":")).encode()
        # Each timeout is cut to the time left; the transport also stops every read at the deadline,
        # so one attempt (connect + all its reads) never runs past it.
        with call_budget(deadline, connect_s + read_s) as budget:
            try:
                response = session_for(self._policy(endpoint)).request(
                    endpoint.method,
                    self._base_url + endpoint.path,
                    data=data,
                    headers=headers,
                    timeout=(min(connect_s, remaining), min(read_s, remaining)),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                last_not_sent = request_not_sent(exc)
                # Not sent only if no attempt of this exchange may have reached Daraja, not just the last.
                sent = budget.reached or not last_not_sent
                reason = describe_transport_error(exc)
                if not last_not_sent and deadline.remaining_s() <= 0:
                    reason = f"deadline reached before the whole answer was read ({reason})"
                elif last_not_sent and sent:
                    reason = f"{reason} on a retry, after an attempt that may have reached Daraja"
                if endpoint.moves_money and sent:
                    raise OutcomeUnknownError(endpoint.api, reason, originator_conversation_id=ocid) from exc
                raise DarajaTransportError(endpoint.api, reason, request_sent=sent) from exc
        return _Answer(response.status_code, _decode(response.content), resent=budget.retried_after_reaching)

    def _check(self, endpoint: Endpoint, answer: _Answer, ocid: str | None = None) -> dict[str, Any]:
        """The JSON object of a 2xx answer; otherwise the matching typed error.

        On a money-moving API only a 4xx or a 5xx with a code in DEFINITE_5XX_CODES is a definite
        rejection; any other 5xx is an unknown outcome. After a retry whose earlier attempt may have
        reached Daraja, only an acceptance or B2C's duplicate answer is definite: a rejection of the
        retry says nothing about the first attempt.
        """
        status, payload = answer.status, answer.payload
        unknown = endpoint.moves_money and answer.resent
        if 200 <= status < 300:
            if isinstance(payload, dict):
                if unknown and str(payload.get("ResponseCode", "0")) != "0":
                    raise OutcomeUnknownError(
                        endpoint.api,
                        f"retry not accepted (ResponseCode {payload.get('ResponseCode')}) after an attempt "
                        "that may have been processed",
                        http_status=status,
                        originator_conversation_id=ocid,
                    )
                return payload
            problem = "body is not JSON" if payload is _NOT_JSON else "body is not a JSON object"
            if endpoint.moves_money:
                raise OutcomeUnknownError(endpoint.api, problem, http_status=status, originator_conversation_id=ocid)
            raise DarajaResponseError(endpoint.api, status, problem)
        error = None
        if isinstance(payload, dict) and "errorCode" in payload:
            try:
                error = ErrorBody.model_validate(payload)
            except ValidationError:
                error = None
        code = error.error_code if error is not None else None
        if unknown and code != DUPLICATE_OCID_CODE:
            raise OutcomeUnknownError(
                endpoint.api,
                f"HTTP {status}{' ' + code if code else ''} on a retry, after an attempt that may have been processed",
                http_status=status,
                originator_conversation_id=ocid,
            )
        if endpoint.moves_money and status >= 500 and code not in DEFINITE_5XX_CODES:
            raise OutcomeUnknownError(
                endpoint.api,
                f"HTTP {status}{' ' + code if code else ''}",
                http_status=status,
                originator_conversation_id=ocid,
            )
        if error is not None:
            raise api_error(endpoint.api, status, error.error_code, error.error_message, error.request_id)
        raise DarajaApiError(endpoint.api, status, None, "error status without a Daraja error body")

    def _parse[M: DarajaResponse](
        self,
        endpoint: Endpoint,
        model: type[M],
        status: int,
        payload: dict[str, Any],
        ocid: str | None = None,
    ) -> M:
        try:
            return parse_response(endpoint.api, model, status, payload)
        except DarajaResponseError as exc:
            if endpoint.moves_money:  # it was processed, but we cannot tell how
                raise OutcomeUnknownError(
                    endpoint.api,
                    f"unreadable answer: {exc.problem}",
                    http_status=status,
                    originator_conversation_id=ocid,
                ) from None
            raise

    def _fetch_token(self, deadline: Deadline) -> AccessTokenResponse:
        s = self.settings
        pair = f"{s.consumer_key.get_secret_value()}:{s.consumer_secret.get_secret_value()}"
        basic = base64.b64encode(pair.encode()).decode("ascii")
        answer = self._exchange(OAUTH, None, f"Basic {basic}", deadline)
        return parse_response(OAUTH.api, AccessTokenResponse, answer.status, self._check(OAUTH, answer))

    def _token(self, endpoint: Endpoint, deadline: Deadline, reject: str | None = None) -> str:
        """A token for a request to `endpoint` that must be over by `deadline`.

        For a money-moving request the token (waiting for another container's refresh, or our own
        fetch) must leave `send_window_s` for the request itself; for the others, one whole attempt.
        The fetch is bounded by at most MAX_TOKEN_FETCH_S, which the refresh lease outlasts.
        """
        s = self.settings
        if endpoint.moves_money:
            limit = deadline.minus(self.send_window_s)
            wait_s = limit.remaining_s()
        else:
            limit = deadline
            wait_s = deadline.remaining_s() - s.connect_timeout_s - s.read_timeout_s
        fetch_by = limit.earliest(Deadline.within(MAX_TOKEN_FETCH_S))
        return self.tokens.token(
            lambda: self._fetch_token(fetch_by), reject=reject, max_wait_s=wait_s, fetch_deadline=fetch_by
        )

    def _limit(self, deadline: Deadline | None, permit: Permit) -> Deadline:
        limit = self._deadline(deadline)
        if permit.trial:  # a half-open trial must report before its claim runs out
            limit = limit.earliest(Deadline.within(self.breaker.max_trial_call_s))
        return limit

    def _call(
        self, endpoint: Endpoint, body: dict[str, Any], deadline: Deadline | None, ocid: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One API call under the breaker; returns the 2xx status and JSON object."""
        permit = self._permit(endpoint.api)
        try:
            limit = self._limit(deadline, permit)
            self._require_time(endpoint, limit)  # no token fetched for a request that could not be sent
            token = self._token(endpoint, limit)
            answer = self._exchange(endpoint, body, f"Bearer {token}", limit, ocid)
            try:
                payload = self._check(endpoint, answer, ocid)
            except InvalidAccessTokenError:
                log.info("%s: access token rejected, refreshing it once", endpoint.api)
                token = self._token(endpoint, limit, reject=token)
                answer = self._exchange(endpoint, body, f"Bearer {token}", limit, ocid)
                payload = self._check(endpoint, answer, ocid)
        except DarajaError as exc:
            _settle(permit, exc)
            log.info("%s failed: %s", endpoint.api, type(exc).__name__)
            raise
        except BaseException:
            permit.release()
            raise
        permit.success()
        return answer.status, payload

    @staticmethod
    def _require_accepted(endpoint: Endpoint, status: int, code: str | None, description: str) -> None:
        if code != "0":
            raise DarajaApiError(endpoint.api, status, code, description or "request not accepted")

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
        permit = self._permit(OAUTH.api)
        try:
            token = self._token(OAUTH, self._limit(deadline, permit))
        except DarajaError as exc:
            _settle(permit, exc)
            raise
        except BaseException:
            permit.release()
            raise
        permit.success()
        return token

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
        s = self.settings
        password, timestamp = self._password()
        party_b = s.business_short_code
        if s.transaction_type == "CustomerBuyGoodsOnline":
            if s.till_number is None:
                raise ConfigurationError({"MPESA_TILL_NUMBER": "is required for CustomerBuyGoodsOnline"})
            party_b = s.till_number
        request = _build(
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
                "account_reference": account_reference,
                "transaction_desc": transaction_desc,
            },
            renamed={} if party_a else {"party_a": "phone_number"},
        )
        status, payload = self._call(STK_PUSH, request.wire(), deadline)
        response = self._parse(STK_PUSH, StkPushResponse, status, payload)
        self._require_accepted(STK_PUSH, status, response.response_code, response.response_description)
        return response

    def stk_query(self, checkout_request_id: str, *, deadline: Deadline | None = None) -> StkQueryResponse:
        """The STK push's state; `is_pending` covers both ResultCode 4999 and the 500.001.1001 answer."""
        s = self.settings
        password, timestamp = self._password()
        request = _build(
            StkQueryRequest,
            {
                "business_short_code": s.business_short_code,
                "password": password,
                "timestamp": timestamp,
                "checkout_request_id": checkout_request_id,
            },
        )
        try:
            status, payload = self._call(STK_QUERY, request.wire(), deadline)
        except StillProcessingError as exc:
            return StkQueryResponse.still_processing(checkout_request_id, exc)
        return self._parse(STK_QUERY, StkQueryResponse, status, payload)

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
        ocid = originator_conversation_id or str(uuid.uuid4())
        initiator, credential = self._initiator()
        request = _build(
            B2CRequest,
            {
                "originator_conversation_id": ocid,
                "initiator_name": initiator,
                "security_credential": credential,
                "command_id": command_id,
                "amount": amount,
                "party_a": self._b2c_short_code(),
                "party_b": phone_number,
                "remarks": remarks,
                "queue_timeout_url": self._callback_url(queue_timeout_url, "queue_timeout_url"),
                "result_url": self._callback_url(result_url, "result_url"),
                "occasion": occasion or None,
            },
        )
        try:
            status, payload = self._call(B2C_PAYMENT, request.wire(), deadline, ocid=ocid)
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
        response = self._parse(B2C_PAYMENT, B2CResponse, status, payload, ocid)
        self._require_accepted(B2C_PAYMENT, status, response.response_code, response.response_description)
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
        endpoint = c2b_register_endpoint(self.settings.c2b_api_version)
        request = _build(
            C2BRegisterUrlRequest,
            {
                "short_code": short_code or self.settings.business_short_code,
                "response_type": response_type,
                "confirmation_url": self._callback_url(confirmation_url, "confirmation_url"),
                "validation_url": self._callback_url(validation_url, "validation_url"),
            },
        )
        status, payload = self._call(endpoint, request.wire(), deadline)
        response = self._parse(endpoint, C2BRegisterUrlResponse, status, payload)
        self._require_accepted(endpoint, status, response.response_code, response.response_description)
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
        if not self.settings.is_sandbox:
            raise ConfigurationError({"MPESA_ENVIRONMENT": "C2B simulate exists only in the sandbox"})
        endpoint = c2b_simulate_endpoint(self.settings.c2b_api_version)
        request = _build(
            C2BSimulateRequest,
            {
                "short_code": short_code or self.settings.business_short_code,
                "command_id": command_id or self.settings.transaction_type,
                "amount": amount,
                "msisdn": msisdn,
                "bill_ref_number": bill_ref_number,
            },
        )
        status, payload = self._call(endpoint, request.wire(), deadline)
        response = self._parse(endpoint, C2BSimulateResponse, status, payload)
        self._require_accepted(endpoint, status, response.response_code, response.response_description)
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
        initiator, credential = self._initiator()
        request = _build(
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
        initiator, credential = self._initiator()
        request = _build(
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
        initiator, credential = self._initiator()
        request = _build(
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
        status, payload = self._call(endpoint, request.wire(), deadline)
        response = self._parse(endpoint, AsyncRequestResponse, status, payload)
        self._require_accepted(endpoint, status, response.response_code, response.response_description)
        return response
