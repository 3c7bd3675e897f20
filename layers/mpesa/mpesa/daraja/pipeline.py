"""The request pipeline under every Daraja API: one path for every call, with its money-safety rules.

Each call: circuit breaker permit → access token (shared cache) → one HTTP exchange with the retry
policy its endpoint allows → the JSON object of a 2xx answer, or a typed DarajaError. An "Invalid
Access Token" answer causes one token refresh and one re-send (the gateway rejected the request
unprocessed), and one more when the refresh only found another container's token, stale too. A
money-moving request is sent only with time for a whole attempt left (`send_window_s`); the token
fetch before it is cut short to keep that time. Whether a failure may have moved money is decided
here, once (docs/daraja-client.md).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import requests

from mpesa.clock import Deadline
from mpesa.daraja.breaker import CircuitBreaker, CircuitBreakerError, Permit
from mpesa.daraja.errors import (
    DEFINITE_5XX_CODES,
    DUPLICATE_OCID_CODE,
    CircuitOpenError,
    DarajaApiError,
    DarajaError,
    DarajaResponseError,
    DarajaTransportError,
    DeadlineExceededError,
    InvalidAccessTokenError,
    OutcomeUnknownError,
    api_error,
)
from mpesa.daraja.tokens import DEFAULT_LEASE_S, LEASE_SLACK_S, TokenProvider
from mpesa.daraja.transport import RetryKind, RetryPolicy, call_budget, exchange_failure, session_for

if TYPE_CHECKING:  # the models load with the first answer read: importing the client builds none
    from mpesa.daraja.models import AccessTokenResponse
    from mpesa.daraja.wire import DarajaResponse
    from mpesa.settings import MpesaSettings

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
PULL_REGISTER = Endpoint("pull_register", "/pulltransactions/v1/register", RetryKind.SAFE, False)
PULL_QUERY = Endpoint("pull_query", "/pulltransactions/v1/query", RetryKind.SAFE, False)


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


def _settle(permit: Permit, exc: DarajaError) -> None:
    """Breaker verdict for a failed call: upstream trouble counts; an error answer means Daraja is up."""
    if exc.is_upstream_failure:
        permit.failure()
    elif isinstance(exc, DarajaApiError):
        permit.success()
    else:
        permit.release()  # not sent (deadline, token wait): no verdict


class RequestPipeline:
    """Sends requests to one Daraja app's endpoints under its breaker, token cache and timeouts."""

    def __init__(
        self,
        settings: MpesaSettings,
        *,
        breaker: CircuitBreaker,
        tokens: TokenProvider,
        retries: int = 3,
        backoff_factor: float = 2.0,
        default_budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        self.settings = settings
        self.breaker = breaker
        self.tokens = tokens
        self._retries = retries
        self._backoff_factor = backoff_factor
        self._default_budget_s = default_budget_s
        self._base_url = settings.daraja_base_url

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
                sent, reason = exchange_failure(exc, budget, "Daraja")
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
            from pydantic import ValidationError

            from mpesa.daraja.models import ErrorBody

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

    def parse[M: DarajaResponse](
        self,
        endpoint: Endpoint,
        model: type[M],
        status: int,
        payload: dict[str, Any],
        ocid: str | None = None,
    ) -> M:
        from mpesa.daraja.models import parse_response

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
        from mpesa.daraja.models import AccessTokenResponse, parse_response

        s = self.settings
        pair = f"{s.consumer_key.get_secret_value()}:{s.consumer_secret.get_secret_value()}"
        basic = base64.b64encode(pair.encode()).decode("ascii")
        answer = self._exchange(OAUTH, None, f"Basic {basic}", deadline)
        return parse_response(OAUTH.api, AccessTokenResponse, answer.status, self._check(OAUTH, answer))

    def _token(
        self, endpoint: Endpoint, deadline: Deadline, reject: str | None = None, fetched: list[bool] | None = None
    ) -> str:
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

        def fetch() -> AccessTokenResponse:
            if fetched is not None:
                fetched.append(True)  # this call fetched the token (not one another container shared)
            return self._fetch_token(fetch_by)

        return self.tokens.token(fetch, reject=reject, max_wait_s=wait_s, fetch_deadline=fetch_by)

    def _limit(self, deadline: Deadline | None, permit: Permit) -> Deadline:
        limit = self._deadline(deadline)
        if permit.trial:  # a half-open trial must report before its claim runs out
            limit = limit.earliest(Deadline.within(self.breaker.max_trial_call_s))
        return limit

    def call(
        self, endpoint: Endpoint, body: dict[str, Any], deadline: Deadline | None, ocid: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One API call under the breaker; returns the 2xx status and JSON object."""
        return self._under_breaker(endpoint.api, deadline, lambda limit: self._send(endpoint, body, limit, ocid))

    def access_token(self, deadline: Deadline | None = None) -> str:
        """A valid token (shared cache first), under the breaker like any call."""
        return self._under_breaker(OAUTH.api, deadline, lambda limit: self._token(OAUTH, limit))

    def _under_breaker[T](self, api: str, deadline: Deadline | None, work: Callable[[Deadline], T]) -> T:
        permit = self._permit(api)
        try:
            result = work(self._limit(deadline, permit))
        except DarajaError as exc:
            _settle(permit, exc)
            log.info("%s failed: %s", api, type(exc).__name__)
            raise
        except BaseException:
            permit.release()
            raise
        permit.success()
        return result

    def _send(
        self, endpoint: Endpoint, body: dict[str, Any], limit: Deadline, ocid: str | None
    ) -> tuple[int, dict[str, Any]]:
        self._require_time(endpoint, limit)  # no token fetched for a request that could not be sent
        token = self._token(endpoint, limit)
        answer = self._exchange(endpoint, body, f"Bearer {token}", limit, ocid)
        try:
            return answer.status, self._check(endpoint, answer, ocid)
        except InvalidAccessTokenError:
            log.info("%s: access token rejected, refreshing it", endpoint.api)
        # The gateway refused the token before the request reached M-Pesa: sending again is safe. The
        # token another container shared may be stale too (someone fetched a newer one, which revokes
        # it): then it is rejected in turn, once. A token fetched just now that is refused is raised.
        fetched: list[bool] = []
        token = self._token(endpoint, limit, reject=token, fetched=fetched)
        answer = self._exchange(endpoint, body, f"Bearer {token}", limit, ocid)
        try:
            return answer.status, self._check(endpoint, answer, ocid)
        except InvalidAccessTokenError:
            if fetched:
                raise
            log.info("%s: the shared access token was rejected too, fetching one", endpoint.api)
        token = self._token(endpoint, limit, reject=token)
        answer = self._exchange(endpoint, body, f"Bearer {token}", limit, ocid)
        return answer.status, self._check(endpoint, answer, ocid)

    @staticmethod
    def require_accepted(endpoint: Endpoint, status: int, code: str | None, description: str) -> None:
        if code != "0":
            raise DarajaApiError(endpoint.api, status, code, description or "request not accepted")
