"""The request path under every OpenAPI operation: one path for every call, with its money-safety rules.

Each call: circuit breaker permit → session ID (shared cache; getSession only when needed) → one HTTP
exchange with the retry policy its operation allows, the bearer a fresh encryption of the session ID
→ the JSON object of a success answer (INS-0), or a typed OpenApiError. INS-26 ("not authorised",
and INS-2) on a transaction means the gateway refused the request unprocessed: the session is
replaced and the request sent once more (twice when the replacement was another container's
session, stale too). Whether a failure may have moved money is decided here, once, and in what an
answer means (answers.py; docs/openapi-client.md):

- money-moving operations (C2B single stage, B2C, reversal) retry only failures before sending
  (CONNECT_ONLY): a transport failure after sending is OpenApiOutcomeUnknownError;
- the status query and getSession are safe to repeat (SAFE: connect and read errors, 503/504).

The C2B single stage is synchronous: its answer comes when the customer acts or Vodacom's prompt
times out. It is sent only when the caller's deadline leaves the connect timeout plus the whole C2B
read timeout (`MPESA_TZ_C2B_READ_TIMEOUT_S`), and it alone reads that long. Every answer is read
within MAX_ANSWER_BYTES and parsed by `mpesa.safe_json`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import requests

from mpesa.clock import SYSTEM_CLOCK, Clock, Deadline
from mpesa.credential_cache import DEFAULT_LEASE_S, LEASE_SLACK_S, CachedCredential, Issued
from mpesa.daraja.breaker import CircuitBreaker, CircuitBreakerError, Permit
from mpesa.daraja.transport import RetryPolicy, call_budget, exchange_failure, session_for
from mpesa.openapi.answers import MAX_ANSWER_BYTES, Answer, SessionRejected, check, decode, read_bounded
from mpesa.openapi.crypto import BearerFactory
from mpesa.openapi.errors import (
    OpenApiCircuitOpenError,
    OpenApiDeadlineExceededError,
    OpenApiError,
    OpenApiNotSentError,
    OpenApiOutcomeUnknownError,
    OpenApiResponseError,
    OpenApiTransportError,
    SessionRefusedError,
)
from mpesa.openapi.models import SessionAnswer, parse_answer
from mpesa.openapi.operations import SESSION, Operation
from mpesa.openapi.sessions import SessionProvider
from mpesa.settings import OpenApiSettings

log = logging.getLogger(__name__)

DEFAULT_BUDGET_S = 29.0  # a call without a deadline fits API Gateway's 30 s (never the C2B: it needs one)
MIN_ATTEMPT_S = 0.25  # below this much time left, a request is not started
# B2C and reversal are sent only with connect timeout + this much read time left (or the whole read
# timeout when shorter): started with less, they would most likely end as unknown outcomes.
MIN_READ_WINDOW_S = 10.0
MAX_SESSION_FETCH_S = DEFAULT_LEASE_S - LEASE_SLACK_S  # the refresh lease must outlast every getSession


def _settle(permit: Permit, exc: OpenApiError) -> None:
    """Breaker verdict for a failed call: upstream trouble counts; an answer means the OpenAPI is up."""
    if exc.is_upstream_failure:
        permit.failure()
    elif exc.answered:
        permit.success()
    else:
        permit.release()  # not sent (deadline, session wait, refused session config): no verdict


class OpenApiPipeline:
    """Sends requests to one OpenAPI application's operations under its breaker, session cache and timeouts."""

    def __init__(
        self,
        settings: OpenApiSettings,
        *,
        breaker: CircuitBreaker,
        sessions: SessionProvider,
        bearers: BearerFactory | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retries: int = 3,
        backoff_factor: float = 2.0,
        default_budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        self.settings = settings
        self.breaker = breaker
        self.sessions = sessions
        self.bearers = bearers or BearerFactory(settings.public_key.get_secret_value())
        self._clock = clock
        self._retries = retries
        self._backoff_factor = backoff_factor
        self._default_budget_s = default_budget_s
        self._root = settings.api_root

    # --- time ------------------------------------------------------------------------------------

    def send_window_s(self, op: Operation) -> float:
        """The least time a request is started with: for a C2B the whole wait for the customer."""
        s = self.settings
        if op.waits_for_customer:
            return s.connect_timeout_s + s.c2b_read_timeout_s
        if op.moves_money:
            return s.connect_timeout_s + min(s.read_timeout_s, MIN_READ_WINDOW_S)
        return MIN_ATTEMPT_S

    def _read_timeout_s(self, op: Operation) -> float:
        s = self.settings
        return s.c2b_read_timeout_s if op.waits_for_customer else s.read_timeout_s

    def _require_time(self, op: Operation, deadline: Deadline) -> float:
        """The time left, or OpenApiDeadlineExceededError (nothing sent) when too little is left to start."""
        remaining = deadline.remaining_s()
        needed = self.send_window_s(op)
        if remaining < needed:
            raise OpenApiDeadlineExceededError(
                op.api, f"only {max(remaining, 0):.2f} s left, {needed:.2f} s needed: request not sent"
            )
        return remaining

    # --- one exchange ----------------------------------------------------------------------------

    def exchange(
        self,
        op: Operation,
        params: dict[str, Any] | None,
        credential: str,
        deadline: Deadline,
        third_party_conversation_id: str | None,
    ) -> Answer:
        """One HTTP exchange with the OpenAPI (the session and the breaker are the caller's): the seam
        under the pipeline's rules, which unit tests script."""
        remaining = self._require_time(op, deadline)
        s = self.settings
        connect_s, read_s = s.connect_timeout_s, self._read_timeout_s(op)
        headers = {
            "Authorization": self.bearers.authorization(credential),  # a fresh encryption for every request
            "Origin": s.origin,
            "Content-Type": "application/json",
        }
        query, data = (params, None) if op.method == "GET" else (None, json.dumps(params, separators=(",", ":")))
        policy = RetryPolicy(op.retry, self._retries, self._backoff_factor)
        # Each timeout is cut to the time left; the transport also stops every read at the deadline.
        with call_budget(deadline, connect_s + read_s) as budget:
            try:
                response = session_for(policy).request(
                    op.method,
                    self._root + op.path,
                    params=query,
                    data=data,
                    headers=headers,
                    timeout=(min(connect_s, remaining), min(read_s, remaining)),
                    allow_redirects=False,
                    stream=True,
                )
                try:
                    raw = read_bounded(response, MAX_ANSWER_BYTES)
                finally:
                    response.close()
            except requests.RequestException as exc:
                sent, reason = exchange_failure(exc, budget, "the OpenAPI")
                if op.moves_money and sent:
                    raise OpenApiOutcomeUnknownError(
                        op.api, reason, third_party_conversation_id=third_party_conversation_id or ""
                    ) from exc
                if not sent:
                    raise OpenApiNotSentError(op.api, reason) from exc
                raise OpenApiTransportError(op.api, reason, request_sent=True) from exc
        return decode(response.status_code, raw, resent=budget.retried_after_reaching)

    # --- what an answer means --------------------------------------------------------------------

    def check(self, op: Operation, answer: Answer, third_party_conversation_id: str | None) -> dict[str, Any]:
        """The JSON object of a success answer; otherwise the matching typed error (answers.py)."""
        return check(op, answer, third_party_conversation_id)

    # --- the session -----------------------------------------------------------------------------

    def _create_session(self, deadline: Deadline) -> Issued:
        s = self.settings
        answer = self.exchange(SESSION, None, s.api_key.get_secret_value(), deadline, None)
        payload = self.check(SESSION, answer, None)
        parsed = parse_answer(SESSION.api, SessionAnswer, answer.status, payload)
        if parsed.session_id is None:
            raise OpenApiResponseError(SESSION.api, answer.status, "output_SessionID: missing")
        return Issued(parsed.session_id, s.session_lifetime_s)

    def _session(
        self, op: Operation, limit: Deadline, reject: str | None = None, created: list[bool] | None = None
    ) -> CachedCredential:
        """A session for a request to `op` that must be over by `limit`.

        For a money-moving request the session (waiting for another container's getSession, or our
        own) must leave `send_window_s` for the request itself; for the others, one whole attempt.
        A getSession is bounded by at most MAX_SESSION_FETCH_S, which the refresh lease outlasts.
        """
        s = self.settings
        if op.moves_money:
            fetch_limit = limit.minus(self.send_window_s(op))
            wait_s = fetch_limit.remaining_s()
        else:
            fetch_limit = limit
            wait_s = limit.remaining_s() - s.connect_timeout_s - s.read_timeout_s
        fetch_by = fetch_limit.earliest(Deadline.within(MAX_SESSION_FETCH_S))

        def create() -> Any:
            if created is not None:
                created.append(True)  # this call created the session (not one another container shared)
            return self._create_session(fetch_by)

        credential = self.sessions.credential(create, reject=reject, max_wait_s=wait_s, fetch_deadline=fetch_by)
        self._await_activation(op, credential, limit)
        return credential

    def _await_activation(self, op: Operation, credential: CachedCredential, limit: Deadline) -> None:
        """A new session may be refused for a moment after issue (MPESA_TZ_SESSION_ACTIVATION_DELAY_S)."""
        delay_ms = int(self.settings.session_activation_delay_s * 1000)
        wait_s = (credential.fetched_at_ms + delay_ms - int(self._clock.now() * 1000)) / 1000
        if delay_ms <= 0 or wait_s <= 0:
            return
        if limit.remaining_s() - wait_s < self.send_window_s(op):
            raise OpenApiDeadlineExceededError(op.api, "no time left to wait for the new session to become usable")
        self._clock.sleep(wait_s)

    # --- calls -----------------------------------------------------------------------------------

    def _permit(self, api: str) -> Permit:
        try:
            return self.breaker.acquire()
        except CircuitBreakerError as exc:
            raise OpenApiCircuitOpenError(api, exc) from None

    def _limit(self, deadline: Deadline | None, permit: Permit) -> Deadline:
        limit = deadline if deadline is not None else Deadline.within(self._default_budget_s)
        if permit.trial:  # a half-open trial must report before its claim runs out
            limit = limit.earliest(Deadline.within(self.breaker.max_trial_call_s))
        return limit

    def _under_breaker[T](self, api: str, deadline: Deadline | None, work: Callable[[Deadline], T]) -> T:
        permit = self._permit(api)
        try:
            result = work(self._limit(deadline, permit))
        except OpenApiError as exc:
            _settle(permit, exc)
            log.info("%s failed: %s", api, type(exc).__name__)
            raise
        except BaseException:
            permit.release()
            raise
        permit.success()
        return result

    def call(
        self,
        op: Operation,
        params: dict[str, Any],
        deadline: Deadline | None,
        third_party_conversation_id: str | None,
    ) -> tuple[int, dict[str, Any]]:
        """One operation under the breaker; returns the HTTP status and the success answer's JSON object."""
        return self._under_breaker(
            op.api, deadline, lambda limit: self._send(op, params, limit, third_party_conversation_id)
        )

    def ensure_session(self, deadline: Deadline | None = None) -> None:
        """Make sure a live session is cached (getSession only if none is), under the breaker like any call."""
        self._under_breaker(SESSION.api, deadline, lambda limit: self._session(SESSION, limit))

    def _send(
        self, op: Operation, params: dict[str, Any], limit: Deadline, caller_id: str | None
    ) -> tuple[int, dict[str, Any]]:
        self._require_time(op, limit)  # no session fetched for a request that could not be sent
        session = self._session(op, limit)
        answer = self.exchange(op, params, session.value, limit, caller_id)
        try:
            return answer.status, self.check(op, answer, caller_id)
        except SessionRejected as refused:
            # The gateway refused the bearer before doing anything: a new session, and one more send.
            log.info("%s: session refused (%s), renewing it and sending once more", op.api, refused)
        created: list[bool] = []
        for attempt in (1, 2):  # twice only when the renewal found another container's session, stale too
            session = self._session(op, limit, reject=session.value, created=created)
            answer = self.exchange(op, params, session.value, limit, caller_id)
            try:
                return answer.status, self.check(op, answer, caller_id)
            except SessionRejected as again:
                if attempt == 1 and not created:
                    log.info("%s: the shared session was refused too, creating one", op.api)
                    continue
                raise SessionRefusedError(
                    op.api,
                    again.answer.status,
                    again.answer.code,
                    f"{again.answer.description} (a renewed session was refused too)".strip(),
                    conversation_id=again.answer.conversation_id,
                    third_party_conversation_id=again.answer.echo,
                ) from None
        raise AssertionError("unreachable: the second attempt returns or raises")
