"""Failures every provider's client shares (the Daraja client's and the OpenAPI client's errors
subclass these): each names its operation (`api`) and says whether it shows the provider unhealthy
(`is_upstream_failure`, which the circuit breaker counts).

- `CallResponseError`: an answer that cannot be read; `problem` says why (never a value).
- `CallTransportError`: no answer after the allowed retries; `request_sent` is False only when surely
  not sent.
- `CallOutcomeUnknownError`: a money-moving request may have been processed. Never re-sent: resolve it
  by query. Its `error_code` is "TIMEOUT", the integration guide's word for "unknown".
- `CallCircuitOpenError`: the provider's circuit is open (or half-open with its one trial taken):
  nothing was sent. It is also a `CircuitBreakerError`, so either `except` catches it.
"""

from __future__ import annotations

from mpesa.daraja.breaker import CircuitBreakerError
from mpesa.errors import MayHaveMovedError, MpesaError, NotSentError, UnavailableError

TIMEOUT_ERROR_CODE = "TIMEOUT"


class CallError(MpesaError):
    """Base class: every failure of a call to a provider's API. `api` names the operation."""

    def __init__(self, api: str, message: str) -> None:
        super().__init__(f"{api}: {message}")
        self.api = api

    @property
    def is_upstream_failure(self) -> bool:
        """True when this failure says the provider is unhealthy (counts towards the circuit breaker)."""
        return False


class CallResponseError(CallError, UnavailableError):
    """An answer that cannot be read; `problem` says why (never a value)."""

    def __init__(self, api: str, http_status: int, problem: str) -> None:
        super().__init__(api, f"unreadable answer (HTTP {http_status}): {problem}")
        self.http_status = http_status
        self.problem = problem

    @property
    def is_upstream_failure(self) -> bool:
        return True


class CallTransportError(CallError, UnavailableError):
    """No answer after the allowed retries. `request_sent` is False only when surely not sent."""

    def __init__(self, api: str, reason: str, *, request_sent: bool) -> None:
        super().__init__(api, reason)
        self.reason = reason
        self.request_sent = request_sent

    @property
    def is_upstream_failure(self) -> bool:
        return True


class CallOutcomeUnknownError(CallError, MayHaveMovedError):
    """A money-moving request may have been processed. Never re-send it: query its status."""

    error_code = TIMEOUT_ERROR_CODE

    def __init__(self, api: str, reason: str, *, http_status: int | None = None) -> None:
        super().__init__(api, f"outcome unknown ({reason}); not re-sent, resolve by query")
        self.reason = reason
        self.http_status = http_status


class CallCircuitOpenError(CallError, NotSentError, CircuitBreakerError):
    """The provider's circuit is open (or half-open with its one trial taken): nothing was sent."""

    def __init__(self, api: str, cause: CircuitBreakerError) -> None:
        Exception.__init__(self, f"{api}: {cause}")  # both bases' __init__ would chain into each other
        self.api = api
        self.name = cause.name
        self.retry_after_s = cause.retry_after_s
