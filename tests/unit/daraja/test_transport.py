from typing import Any

import pytest
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry

from mpesa.clock import Deadline
from mpesa.daraja.transport import (
    DeadlineAdapter,
    RetryKind,
    RetryPolicy,
    call_budget,
    describe_transport_error,
    request_not_sent,
    session_for,
)

NO_POOL: Any = None  # urllib3 errors built outside a connection pool


def fail(retry, error):
    return retry.increment(method="POST", url="/x", error=error)


def test_backoff_follows_the_guide_2_4_8_seconds():
    retry = RetryPolicy(RetryKind.SAFE).build()
    delays = []
    for _ in range(3):
        retry = fail(retry, ConnectTimeoutError())
        delays.append(retry.get_backoff_time())
    assert delays == [2.0, 4.0, 8.0]


def test_plain_urllib3_schedule_would_start_at_zero():
    # Why BoundedRetry overrides get_backoff_time: urllib3 2.x gives 0, 4, 8 for backoff_factor=2.
    retry = Retry(total=3, backoff_factor=2)
    retry = retry.increment(method="GET", url="/x", error=ConnectTimeoutError())
    assert retry.get_backoff_time() == 0


def test_three_retries_then_the_error_surfaces():
    retry = RetryPolicy(RetryKind.SAFE).build()
    for _ in range(3):
        retry = fail(retry, ConnectTimeoutError())
    with pytest.raises(MaxRetryError):
        fail(retry, ConnectTimeoutError())


def test_money_moving_policy_never_retries_a_read_error():
    retry = RetryPolicy(RetryKind.CONNECT_ONLY).build()
    with pytest.raises(ReadTimeoutError):
        fail(retry, ReadTimeoutError(NO_POOL, "/x", "read timed out"))
    with pytest.raises(ProtocolError):
        fail(retry, ProtocolError("Connection aborted."))


def test_money_moving_policy_retries_connect_failures_only():
    retry = RetryPolicy(RetryKind.CONNECT_ONLY).build()
    assert fail(retry, NewConnectionError(NO_POOL, "refused")).get_backoff_time() == 2.0
    assert not retry.is_retry("POST", 503)
    assert not retry.is_retry("POST", 504)


def test_safe_policy_retries_read_errors_and_503_504_on_post():
    retry = RetryPolicy(RetryKind.SAFE).build()
    assert fail(retry, ReadTimeoutError(NO_POOL, "/x", "read timed out")).get_backoff_time() == 2.0
    assert retry.is_retry("POST", 503)
    assert retry.is_retry("POST", 504)
    assert not retry.is_retry("POST", 500)
    assert not retry.is_retry("POST", 400)


def test_backoff_factor_is_injectable_for_fast_tests():
    retry = fail(RetryPolicy(RetryKind.SAFE, backoff_factor=0.01).build(), ConnectTimeoutError())
    assert retry.get_backoff_time() == 0.01


def test_no_retry_is_started_that_the_deadline_cannot_fit():
    retry = RetryPolicy(RetryKind.SAFE).build()
    # 2 s backoff + a 23 s attempt needs 25 s; only 20 s are left.
    with call_budget(Deadline.within(20), attempt_s=23.0), pytest.raises(MaxRetryError):
        fail(retry, ConnectTimeoutError())
    # With enough time the same failure is retried.
    with call_budget(Deadline.within(60), attempt_s=23.0):
        assert fail(retry, ConnectTimeoutError()).get_backoff_time() == 2.0


def test_deadline_gate_applies_to_later_retries_too():
    retry = fail(RetryPolicy(RetryKind.SAFE).build(), ConnectTimeoutError())  # next wait would be 4 s
    with call_budget(Deadline.within(26), attempt_s=23.0), pytest.raises(MaxRetryError):
        fail(retry, ConnectTimeoutError())


def test_deadline_from_a_lambda_context_keeps_a_reserve():
    deadline = Deadline.from_remaining_ms(lambda: 10_000, reserve_s=1.0)
    assert 8.5 < deadline.remaining_s() <= 9.0
    assert Deadline.within(5).earliest(Deadline.within(1)).remaining_s() <= 1


@pytest.mark.parametrize(
    ("error", "not_sent", "description"),
    [
        (requests.ConnectTimeout("x"), True, "connect timeout"),
        (
            requests.ConnectionError(MaxRetryError(NO_POOL, "/x", NewConnectionError(NO_POOL, "refused"))),
            True,
            "refused",
        ),
        (requests.ReadTimeout("x"), False, "read timeout"),
        (requests.ConnectionError(ProtocolError("Connection aborted.")), False, "ProtocolError"),
        (requests.ConnectionError(MaxRetryError(NO_POOL, "/x", ReadTimeoutError(NO_POOL, "/x", "t"))), False, "read"),
    ],
)
def test_only_connection_establishment_failures_count_as_not_sent(error, not_sent, description):
    assert request_not_sent(error) is not_sent
    assert description in describe_transport_error(error)


def test_one_session_per_policy_per_container_with_a_user_agent():
    policy = RetryPolicy(RetryKind.SAFE, backoff_factor=0.5)
    session = session_for(policy)
    assert session is session_for(RetryPolicy(RetryKind.SAFE, backoff_factor=0.5))
    assert session is not session_for(RetryPolicy(RetryKind.CONNECT_ONLY, backoff_factor=0.5))
    assert str(session.headers["User-Agent"]).startswith("mpesa-serverless/0.1 (+https://github.com/")


# --- an attempt that may have reached Daraja is remembered across retries ---------------------


def status_answer(status):
    return HTTPResponse(body=b"", status=status, preload_content=False)


def test_a_retried_answer_marks_the_exchange_as_possibly_sent_even_if_the_retry_cannot_connect():
    retry = RetryPolicy(RetryKind.SAFE, backoff_factor=0.0).build()
    with call_budget(Deadline.within(60), attempt_s=3.0) as budget:
        retry = retry.increment(method="POST", url="/x", response=status_answer(503))
        assert budget.reached
        fail(retry, NewConnectionError(NO_POOL, "refused"))  # the retry never connected ...
        assert budget.reached  # ... but the first attempt may have been processed
        assert budget.retried_after_reaching


def test_a_503_that_cannot_be_retried_in_time_is_the_final_answer_not_a_retry():
    retry = RetryPolicy(RetryKind.SAFE).build()
    with call_budget(Deadline.within(5), attempt_s=23.0) as budget, pytest.raises(MaxRetryError):
        retry.increment(method="POST", url="/x", response=status_answer(503))
    assert not budget.retried_after_reaching  # the 503 handed back is the only attempt


def test_a_read_error_marks_the_exchange_as_possibly_sent():
    with call_budget(Deadline.within(60), attempt_s=3.0) as budget:
        fail(RetryPolicy(RetryKind.SAFE).build(), ReadTimeoutError(NO_POOL, "/x", "read timed out"))
    assert budget.reached
    with call_budget(Deadline.within(60), attempt_s=3.0) as budget, pytest.raises(ProtocolError):
        fail(RetryPolicy(RetryKind.CONNECT_ONLY).build(), ProtocolError("Connection aborted."))
    assert budget.reached


def test_connect_failures_alone_leave_the_exchange_unsent():
    retry = RetryPolicy(RetryKind.SAFE, backoff_factor=0.0).build()
    with call_budget(Deadline.within(60), attempt_s=3.0) as budget:
        retry = fail(retry, NewConnectionError(NO_POOL, "refused"))
        fail(retry, ConnectTimeoutError())
    assert not budget.reached


def test_sessions_stop_reading_at_the_deadline():
    adapter = session_for(RetryPolicy(RetryKind.CONNECT_ONLY, backoff_factor=0.25)).get_adapter("https://x.test")
    assert isinstance(adapter, DeadlineAdapter)
    assert set(adapter.poolmanager.pool_classes_by_scheme) == {"http", "https"}
