"""What each answer means for the money (one table), the session's one refresh, deadlines and the breaker.

The HTTP exchange itself is exercised over loopback in tests/integration/openapi; here `exchange` is
scripted so that every rule is checked on its own.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpesa.clock import Deadline
from mpesa.codes import INS_CODES, Disposition, Outcome
from mpesa.credential_cache import MemoryCredentialCache
from mpesa.daraja.breaker import CircuitBreaker, MemoryBreakerStore
from mpesa.errors import MayHaveMovedError, NotSentError, RefusedError, UnavailableError
from mpesa.openapi.answers import Answer, SessionRejected
from mpesa.openapi.client import openapi_breaker
from mpesa.openapi.errors import (
    OpenApiCircuitOpenError,
    OpenApiDeadlineExceededError,
    OpenApiDuplicateError,
    OpenApiError,
    OpenApiMismatchedAnswerError,
    OpenApiNotSentError,
    OpenApiOutcomeUnknownError,
    OpenApiRefusedError,
    OpenApiResponseError,
    OpenApiUnavailableError,
    SessionRefusedError,
    TransactionNotFoundError,
)
from mpesa.openapi.operations import (
    B2C_PAYMENT,
    C2B_SINGLE_STAGE,
    QUERY_TRANSACTION_STATUS,
    REVERSAL,
    SESSION,
    Operation,
)
from mpesa.openapi.pipeline import OpenApiPipeline
from mpesa.openapi.sessions import SessionProvider
from tests.support.openapi import SIM_API_KEY, openapi_settings

CALLER = "caller-0001"
OTHER = "someone-else"


def body(
    code: str | None, *, echo: str | None = CALLER, tid: str | None = "TX12345678", **extra: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "output_ResponseDesc": "described",
        "output_TransactionID": tid or "",
        "output_ConversationID": "c" * 32,
    }
    if code is not None:
        payload["output_ResponseCode"] = code
    if echo is not None:
        payload["output_ThirdPartyConversationID"] = echo
    payload.update(extra)
    return payload


def answer(status: int, payload: dict[str, Any] | None, problem: str | None = None) -> Answer:
    return Answer(status, payload, problem if payload is None else None)


@pytest.fixture
def pipeline(settings, clock) -> OpenApiPipeline:
    return OpenApiPipeline(
        settings,
        breaker=CircuitBreaker("openapi-unit", store=MemoryBreakerStore(), clock=clock.now),
        sessions=SessionProvider("session#unit", memory=MemoryCredentialCache(), clock=clock),
        clock=clock,
    )


# --- money-moving operations: one table -----------------------------------------------------------

REFUSED, UNKNOWN, DUPLICATE, MISMATCH, SESSION_REJECTED = "refused", "unknown", "duplicate", "mismatch", "session"
MONEY_CASES = [
    # (operation, status, payload, expected, counts as upstream failure)
    (B2C_PAYMENT, 201, body("INS-0"), "ok", None),
    (C2B_SINGLE_STAGE, 200, body("INS-0"), "ok", None),
    (REVERSAL, 201, body("ins-0 "), "ok", None),
    (B2C_PAYMENT, 201, body("INS-0", echo=None), UNKNOWN, False),
    (B2C_PAYMENT, 201, body("INS-0", echo=OTHER), MISMATCH, False),
    (B2C_PAYMENT, 201, body("INS-6"), UNKNOWN, True),
    (B2C_PAYMENT, 200, body("0"), UNKNOWN, True),  # Daraja's success code means nothing here
    (B2C_PAYMENT, 201, None, UNKNOWN, True),
    (C2B_SINGLE_STAGE, 401, body("INS-5", tid=None), REFUSED, False),
    (C2B_SINGLE_STAGE, 401, body("INS-6", tid=None), REFUSED, False),
    (C2B_SINGLE_STAGE, 400, body("INS-2051", tid=None), REFUSED, False),
    (B2C_PAYMENT, 422, body("INS-2006"), REFUSED, False),
    (B2C_PAYMENT, 400, body("INS-21", echo=""), REFUSED, False),
    (REVERSAL, 400, body("INS-15"), REFUSED, False),
    (REVERSAL, 400, body("INS-18"), REFUSED, False),
    (C2B_SINGLE_STAGE, 408, body("INS-9", tid=None), UNKNOWN, False),  # the customer did not answer
    (B2C_PAYMENT, 408, body("INS-9"), UNKNOWN, True),  # B2C's own backend timed out
    (B2C_PAYMENT, 409, body("INS-10"), DUPLICATE, False),
    (B2C_PAYMENT, 409, body("INS-6"), UNKNOWN, False),
    (B2C_PAYMENT, 500, body("INS-1"), UNKNOWN, True),
    (B2C_PAYMENT, 503, body("INS-16"), REFUSED, True),  # overload: refused before processing
    (B2C_PAYMENT, 502, body("INS-16"), UNKNOWN, True),
    (B2C_PAYMENT, 503, None, UNKNOWN, True),  # an HTML page from something in front of the API
    (B2C_PAYMENT, 504, None, UNKNOWN, True),
    (B2C_PAYMENT, 400, body("INS-77"), UNKNOWN, False),  # unknown codes are never final
    (B2C_PAYMENT, 400, body("INS-9"), UNKNOWN, True),
    (B2C_PAYMENT, 400, body("INS-23"), UNKNOWN, False),
    (B2C_PAYMENT, 404, {"output_error": "Resource Not Found"}, REFUSED, False),
    (B2C_PAYMENT, 405, None, REFUSED, False),
    (B2C_PAYMENT, 408, None, UNKNOWN, True),
    (B2C_PAYMENT, 302, None, UNKNOWN, True),
    (B2C_PAYMENT, 401, body("INS-26"), SESSION_REJECTED, None),
    (C2B_SINGLE_STAGE, 401, body("INS-2", echo=""), SESSION_REJECTED, None),
    (C2B_SINGLE_STAGE, 401, body("INS-5", echo=OTHER), MISMATCH, False),
]


@pytest.mark.parametrize(
    ("op", "status", "payload", "expected", "upstream"),
    MONEY_CASES,
    ids=[f"{c[0].api}-{c[1]}-{(c[2] or {}).get('output_ResponseCode', 'nobody')}-{c[3]}" for c in MONEY_CASES],
)
def test_what_a_money_moving_answer_means(pipeline, op, status, payload, expected, upstream):
    given_answer = answer(status, payload, "body is not JSON")
    if expected == "ok":
        assert pipeline.check(op, given_answer, CALLER) is payload
        return
    expected_class = {
        REFUSED: OpenApiRefusedError,
        UNKNOWN: OpenApiOutcomeUnknownError,
        DUPLICATE: OpenApiDuplicateError,
        MISMATCH: OpenApiMismatchedAnswerError,
        SESSION_REJECTED: SessionRejected,
    }[expected]
    with pytest.raises(expected_class) as caught:
        pipeline.check(op, given_answer, CALLER)
    error = caught.value
    if expected == REFUSED:
        assert isinstance(error, RefusedError)
        assert not isinstance(error, MayHaveMovedError)
        assert error.info.final  # a refusal is never an unknown outcome...
        assert error.info.outcome is not Outcome.SUCCESS  # ...nor a success
    elif expected != SESSION_REJECTED:
        assert isinstance(error, OpenApiOutcomeUnknownError)
        assert isinstance(error, MayHaveMovedError)
        assert error.third_party_conversation_id == CALLER
        assert error.error_code == "TIMEOUT"
    if upstream is not None:
        assert error.is_upstream_failure is upstream


def test_refusals_carry_their_code_in_the_outcome_table(pipeline):
    with pytest.raises(OpenApiRefusedError) as cancelled:
        pipeline.check(C2B_SINGLE_STAGE, answer(401, body("INS-5", tid=None)), CALLER)
    assert (cancelled.value.response_code, cancelled.value.info.outcome) == ("INS-5", Outcome.CANCELLED)
    assert cancelled.value.third_party_conversation_id == CALLER
    with pytest.raises(OpenApiRefusedError) as overloaded:
        pipeline.check(B2C_PAYMENT, answer(503, body("INS-16")), CALLER)
    assert (overloaded.value.info.disposition, overloaded.value.info.retry_after_s) == (Disposition.RETRYABLE, 60)
    with pytest.raises(OpenApiRefusedError) as gateway:
        pipeline.check(B2C_PAYMENT, answer(404, {"output_error": "Resource Not Found"}), CALLER)
    assert gateway.value.response_code is None
    assert gateway.value.info.code == "HTTP404"


CODES = st.sampled_from(sorted(INS_CODES)) | st.sampled_from(["INS-77", "0", "", "ins-0", "INS-O"]) | st.none()
ECHOES = st.sampled_from([CALLER, OTHER, "", None])
STATUSES = st.sampled_from([200, 201, 202, 204, 301, 400, 401, 403, 404, 405, 408, 409, 422, 429, 500, 502, 503, 504])
MONEY_OPS = st.sampled_from([C2B_SINGLE_STAGE, B2C_PAYMENT, REVERSAL])


@functools.cache
def checker(public_key: str) -> OpenApiPipeline:
    return OpenApiPipeline(
        openapi_settings(public_key),
        breaker=CircuitBreaker("p", store=MemoryBreakerStore()),
        sessions=SessionProvider("session#p", memory=MemoryCredentialCache()),
    )


@given(op=MONEY_OPS, status=STATUSES, code=CODES, echo=ECHOES, readable=st.booleans())
def test_money_moving_answers_are_definite_only_when_they_prove_it(public_key, op, status, code, echo, readable):
    """Property: success only for 2xx + INS-0 + our ID; a refusal only when it proves nothing was done;
    everything else may have moved money."""
    payload = body(code, echo=echo) if readable else None
    outcome = None
    try:
        checker(public_key).check(op, answer(status, payload, "body is not JSON"), CALLER)
    except (SessionRejected, OpenApiError) as exc:  # anything else fails the test
        outcome = exc
    if outcome is None:
        assert 200 <= status < 300
        assert code is not None
        assert code.strip().upper() == "INS-0"
        assert echo == CALLER
    elif isinstance(outcome, SessionRejected):
        assert 400 <= status < 500
        assert code in {"INS-26", "INS-2"}
    elif isinstance(outcome, OpenApiRefusedError):
        assert (400 <= status < 500 and status not in {408, 409}) or (status == 503 and code == "INS-16")
        assert outcome.info.final
        assert outcome.response_code not in {"INS-0", "INS-1", "INS-9", "INS-10", "INS-23"}
    else:
        assert isinstance(outcome, OpenApiOutcomeUnknownError)
        assert outcome.third_party_conversation_id == CALLER


# --- queries and sessions ---------------------------------------------------------------------------

OTHER_CASES = [
    (QUERY_TRANSACTION_STATUS, 200, body("INS-0"), None),
    (QUERY_TRANSACTION_STATUS, 400, body("INS-18"), TransactionNotFoundError),
    (QUERY_TRANSACTION_STATUS, 400, body("INS-21"), OpenApiRefusedError),
    (QUERY_TRANSACTION_STATUS, 401, body("INS-26"), SessionRejected),
    (QUERY_TRANSACTION_STATUS, 500, body("INS-1"), OpenApiUnavailableError),
    (QUERY_TRANSACTION_STATUS, 503, body("INS-16"), OpenApiUnavailableError),
    (QUERY_TRANSACTION_STATUS, 408, body("INS-9"), OpenApiUnavailableError),
    (QUERY_TRANSACTION_STATUS, 400, body("INS-77"), OpenApiUnavailableError),
    (QUERY_TRANSACTION_STATUS, 200, None, OpenApiResponseError),
    (QUERY_TRANSACTION_STATUS, 200, {"output_ResponseDesc": "no code"}, OpenApiResponseError),
    (QUERY_TRANSACTION_STATUS, 502, None, OpenApiUnavailableError),
    (QUERY_TRANSACTION_STATUS, 404, None, OpenApiRefusedError),
    (QUERY_TRANSACTION_STATUS, 429, None, OpenApiUnavailableError),
    (SESSION, 200, {"output_ResponseCode": "INS-0", "output_SessionID": "s" * 32}, None),
    (SESSION, 401, {"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"}, SessionRefusedError),
    (SESSION, 400, {"output_ResponseCode": "INS-989"}, SessionRefusedError),
    (SESSION, 400, {"output_ResponseCode": "INS-998"}, SessionRefusedError),
    (SESSION, 503, {"output_ResponseCode": "INS-16"}, OpenApiUnavailableError),
]


@pytest.mark.parametrize(("op", "status", "payload", "expected"), OTHER_CASES)
def test_what_a_query_or_session_answer_means(pipeline, op, status, payload, expected):
    given_answer = answer(status, payload, "body is not JSON")
    if expected is None:
        assert pipeline.check(op, given_answer, None) is payload
        return
    with pytest.raises(expected) as caught:
        pipeline.check(op, given_answer, None)
    if isinstance(caught.value, OpenApiError):
        assert not isinstance(caught.value, MayHaveMovedError)  # a query never moves money


# --- one session, one refresh ------------------------------------------------------------------------


class Script:
    """Stands in for `exchange`: answers per operation, in order; records what was sent with which credential."""

    def __init__(self, **answers: list[Answer | Exception]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, str]] = []
        self.sessions_issued = 0

    def __call__(self, op: Operation, params: Any, credential: str, deadline: Deadline, caller: str | None) -> Answer:
        self.sent.append((op.api, credential))
        if op is SESSION and not self.answers.get("session"):
            self.sessions_issued += 1
            return answer(
                200, {"output_ResponseCode": "INS-0", "output_SessionID": f"session-{self.sessions_issued:04d}"}
            )
        queued = self.answers[op.api].pop(0)
        if isinstance(queued, Exception):
            raise queued
        return queued


def scripted(pipeline: OpenApiPipeline, monkeypatch: pytest.MonkeyPatch, **answers: list[Answer | Exception]) -> Script:
    script = Script(**answers)
    monkeypatch.setattr(pipeline, "exchange", script)
    return script


def pay(pipeline: OpenApiPipeline, deadline: Deadline | None = None) -> tuple[int, dict[str, Any]]:
    return pipeline.call(B2C_PAYMENT, {"input_Amount": "10"}, deadline, CALLER)


def test_one_session_serves_every_call(pipeline, monkeypatch):
    script = scripted(pipeline, monkeypatch, b2c_payment=[answer(201, body("INS-0"))] * 3)
    for _ in range(3):
        pay(pipeline)
    assert script.sent == [("session", SIM_API_KEY)] + [("b2c_payment", "session-0001")] * 3


def test_a_refused_session_is_renewed_once_and_the_request_sent_once_more(pipeline, monkeypatch):
    script = scripted(pipeline, monkeypatch, b2c_payment=[answer(401, body("INS-26")), answer(201, body("INS-0"))])
    status, payload = pay(pipeline)
    assert (status, payload["output_TransactionID"]) == (201, "TX12345678")
    assert script.sent == [
        ("session", SIM_API_KEY),
        ("b2c_payment", "session-0001"),
        ("session", SIM_API_KEY),
        ("b2c_payment", "session-0002"),
    ]
    pay_again = scripted(pipeline, monkeypatch, b2c_payment=[answer(201, body("INS-0"))])
    pay(pipeline)
    assert pay_again.sent == [("b2c_payment", "session-0002")]  # the renewed session is the one kept


def test_a_renewed_session_refused_too_is_a_refusal_not_a_third_send(pipeline, monkeypatch):
    script = scripted(pipeline, monkeypatch, b2c_payment=[answer(401, body("INS-26"))] * 2)
    with pytest.raises(SessionRefusedError) as caught:
        pay(pipeline)
    assert isinstance(caught.value, RefusedError)
    assert [api for api, _ in script.sent].count("b2c_payment") == 2


def test_a_session_that_cannot_be_created_sends_nothing(pipeline, monkeypatch):
    script = scripted(pipeline, monkeypatch, session=[answer(401, {"output_ResponseCode": "INS-2"})])
    with pytest.raises(SessionRefusedError) as caught:
        pay(pipeline)
    assert caught.value.api == "session"
    assert script.sent == [("session", SIM_API_KEY)]


def test_a_session_lost_in_transport_sends_nothing(pipeline, monkeypatch):
    script = scripted(pipeline, monkeypatch, session=[OpenApiNotSentError("session", "connection refused")])
    with pytest.raises(OpenApiNotSentError) as caught:
        pay(pipeline)
    assert isinstance(caught.value, NotSentError)
    assert script.sent == [("session", SIM_API_KEY)]


def test_a_c2b_is_not_started_without_time_for_the_customer(pipeline, monkeypatch):
    script = scripted(pipeline, monkeypatch)
    window = pipeline.send_window_s(C2B_SINGLE_STAGE)
    assert window == pytest.approx(1.0 + 5.0)  # connect + the whole C2B read timeout
    with pytest.raises(OpenApiDeadlineExceededError):
        pipeline.call(C2B_SINGLE_STAGE, {}, Deadline.within(window - 0.5), CALLER)
    assert script.sent == []  # not even a session


def test_a_new_session_is_used_only_after_its_activation_delay(public_key, clock, monkeypatch):
    pipeline = OpenApiPipeline(
        openapi_settings(public_key, MPESA_TZ_SESSION_ACTIVATION_DELAY_S=2),
        breaker=CircuitBreaker("openapi-unit", store=MemoryBreakerStore(), clock=clock.now),
        sessions=SessionProvider("session#unit", memory=MemoryCredentialCache(), clock=clock),
        clock=clock,
    )
    scripted(pipeline, monkeypatch, b2c_payment=[answer(201, body("INS-0"))] * 2)
    pay(pipeline)
    assert clock.sleeps == [2.0]
    pay(pipeline)
    assert clock.sleeps == [2.0]  # an active session: no wait


def test_upstream_failures_open_the_breaker_and_then_nothing_is_sent(pipeline, monkeypatch):
    script = scripted(pipeline, monkeypatch, b2c_payment=[answer(500, body("INS-1"))] * 5)
    for _ in range(5):
        with pytest.raises(OpenApiOutcomeUnknownError):
            pay(pipeline)
    sent = len(script.sent)
    with pytest.raises(OpenApiCircuitOpenError) as caught:
        pay(pipeline)
    assert isinstance(caught.value, NotSentError)
    assert len(script.sent) == sent


def test_customers_who_do_not_answer_do_not_open_the_breaker(pipeline, monkeypatch):
    scripted(
        pipeline,
        monkeypatch,
        c2b_single_stage=[answer(408, body("INS-9", tid=None))] * 6 + [answer(201, body("INS-0"))],
    )
    for _ in range(6):
        with pytest.raises(OpenApiOutcomeUnknownError):
            pipeline.call(C2B_SINGLE_STAGE, {}, Deadline.within(60), CALLER)
    assert pipeline.call(C2B_SINGLE_STAGE, {}, Deadline.within(60), CALLER)[0] == 201


def test_refusals_mean_the_api_is_up(pipeline, monkeypatch):
    scripted(pipeline, monkeypatch, b2c_payment=[answer(422, body("INS-2006"))] * 6)
    for _ in range(6):
        with pytest.raises(OpenApiRefusedError):
            pay(pipeline)


def test_a_half_open_trial_c2b_has_time_for_the_customer(settings, public_key):
    breaker = openapi_breaker(settings, None, None)
    assert breaker.name == "openapi-vodacomTZN"
    pipeline = OpenApiPipeline(settings, breaker=breaker, sessions=SessionProvider("session#trial"))
    assert breaker.max_trial_call_s >= pipeline.send_window_s(C2B_SINGLE_STAGE)
    long_wait = openapi_settings(public_key, MPESA_TZ_C2B_READ_TIMEOUT_S=300)
    assert openapi_breaker(long_wait, None, None).max_trial_call_s >= 300


def test_query_errors_never_say_money_moved(pipeline, monkeypatch):
    scripted(pipeline, monkeypatch, query_transaction_status=[answer(500, body("INS-1"))])
    with pytest.raises(OpenApiUnavailableError) as caught:
        pipeline.call(QUERY_TRANSACTION_STATUS, {}, None, None)
    assert isinstance(caught.value, UnavailableError)
    assert caught.value.is_upstream_failure
