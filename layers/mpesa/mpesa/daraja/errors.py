"""Typed Daraja failures. Each says whether Daraja answered, and whether money may have moved. What
they share with the OpenAPI client's errors is in `mpesa.call_errors`.

- `DarajaApiError`: Daraja answered with an error (`{requestId, errorCode, errorMessage}`, or an
  error status without that body). The request was rejected; code and message are kept. For a
  money-moving API only a 4xx or a 5xx with a code in DEFINITE_5XX_CODES is reported this way.
- `DarajaResponseError`: Daraja answered something we cannot read (not JSON, a required field missing).
- `DarajaTransportError`: no answer (connection refused, timeout, reset), after the allowed retries.
- `OutcomeUnknownError`: a money-moving request may have been processed but we cannot tell
  (read timeout, any 5xx but the definite ones, reset or unreadable answer after sending, or any
  failure of a retry after an attempt that may have reached Daraja). It is never re-sent; resolve it
  by query. Its `error_code` is "TIMEOUT", as in the integration guide.
- `DeadlineExceededError`: not enough time was left to start the request; nothing was sent.
- `TokenUnavailableError`: another container holds the token-refresh lease and did not finish in time.
- `CircuitOpenError`: the circuit breaker is open; nothing was sent. It is both a DarajaError and
  the seed's `CircuitBreakerError`, so either `except` catches it.
"""

from __future__ import annotations

from mpesa.call_errors import (
    CallCircuitOpenError,
    CallError,
    CallOutcomeUnknownError,
    CallResponseError,
    CallTransportError,
)
from mpesa.errors import NotSentError, RefusedError, UnavailableError

INVALID_TOKEN_CODES = frozenset({"404.001.03", "400.003.01", "401.002.01"})
STILL_PROCESSING_CODE = "500.001.1001"
DUPLICATE_OCID_CODE = "500.002.1001"
URLS_REGISTERED_CODE = "500.003.1001"  # also plain "Internal Server Error": the message decides
SPIKE_ARREST_CODE = "500.003.02"
QUOTA_VIOLATION_CODE = "500.003.03"
# The only 5xx answers that prove a money-moving request was not (or not again) processed:
# 500.001.1001 merchant does not exist / wrong credentials / unable to lock subscriber,
# 500.002.1001 duplicate OriginatorConversationID (B2C: accepted earlier), and the gateway's
# spike arrest and quota refusals. Any other 5xx on a money-moving API is an unknown outcome.
DEFINITE_5XX_CODES = frozenset({STILL_PROCESSING_CODE, DUPLICATE_OCID_CODE, SPIKE_ARREST_CODE, QUOTA_VIOLATION_CODE})
# 5xx codes that are answers about the request (business outcomes), not signs of an unhealthy Daraja.
BUSINESS_5XX_CODES = frozenset({STILL_PROCESSING_CODE, DUPLICATE_OCID_CODE})
_BUSINESS_500_003_PHRASES = ("already registered", "duplicate notification")
_STILL_PROCESSING_PHRASES = ("being processed", "still under processing")


class DarajaError(CallError):
    """Base class: every failure of a Daraja call. `api` names the operation ("stk_push", ...);
    `is_upstream_failure` is True when the failure says Daraja is unhealthy."""


class DarajaApiError(DarajaError, RefusedError):
    """Daraja rejected the request. `error_code` is None when the error status carried no Daraja body."""

    def __init__(
        self,
        api: str,
        http_status: int,
        error_code: str | None,
        error_message: str,
        request_id: str | None = None,
    ) -> None:
        shown = error_code or f"HTTP {http_status}"
        super().__init__(api, f"{shown} {error_message}".strip())
        self.http_status = http_status
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id

    @property
    def is_invalid_token(self) -> bool:
        return self.error_code in INVALID_TOKEN_CODES

    @property
    def is_still_processing(self) -> bool:
        """STK query's pending answer; 500.001.1001 also means other things, so the message decides."""
        message = self.error_message.lower()
        return self.error_code == STILL_PROCESSING_CODE and any(p in message for p in _STILL_PROCESSING_PHRASES)

    @property
    def is_duplicate_originator_conversation_id(self) -> bool:
        return self.error_code == DUPLICATE_OCID_CODE

    @property
    def is_upstream_failure(self) -> bool:
        if self.http_status < 500 or self.error_code in BUSINESS_5XX_CODES:
            return False
        message = self.error_message.lower()
        return not (self.error_code == URLS_REGISTERED_CODE and any(p in message for p in _BUSINESS_500_003_PHRASES))


class InvalidAccessTokenError(DarajaApiError):
    """404.001.03 / 400.003.01 / 401.002.01: the token expired or was revoked (one forced refresh)."""


class StillProcessingError(DarajaApiError):
    """500.001.1001 "The transaction is being processed": pending, keep polling."""


class DuplicateOriginatorConversationIdError(DarajaApiError):
    """500.002.1001: this OriginatorConversationID was accepted before; its outcome is pending."""


def api_error(
    api: str, http_status: int, error_code: str | None, error_message: str, request_id: str | None
) -> DarajaApiError:
    """The most specific DarajaApiError for an error answer."""
    probe = DarajaApiError(api, http_status, error_code, error_message, request_id)
    cls: type[DarajaApiError] = DarajaApiError
    if probe.is_invalid_token:
        cls = InvalidAccessTokenError
    elif probe.is_still_processing:
        cls = StillProcessingError
    elif probe.is_duplicate_originator_conversation_id:
        cls = DuplicateOriginatorConversationIdError
    return cls(api, http_status, error_code, error_message, request_id)


class DarajaResponseError(DarajaError, CallResponseError):
    """The answer could not be read: `problem` names what is wrong (never the token or a full MSISDN)."""


class DarajaTransportError(DarajaError, CallTransportError):
    """No answer from Daraja after the allowed retries. `request_sent` is False only when surely not sent."""


class AnswerMismatchError(DarajaError, UnavailableError):
    """Daraja answered about another request than the one asked (another CheckoutRequestID): the answer is
    not applied to anything; ask again later. Never carries personal data."""

    def __init__(self, api: str, asked: str, answered: str) -> None:
        super().__init__(api, "the answer names another request than the one asked")
        self.asked = asked
        self.answered = answered


class OutcomeUnknownError(DarajaError, CallOutcomeUnknownError):
    """A money-moving request may have been processed. Never re-send it: query its status.

    `originator_conversation_id` is set for B2C (query Transaction Status with it); STK push has no
    identifier to query until a callback arrives, so its ledger record goes to UNKNOWN for reconciliation.
    """

    def __init__(
        self,
        api: str,
        reason: str,
        *,
        http_status: int | None = None,
        originator_conversation_id: str | None = None,
    ) -> None:
        super().__init__(api, reason, http_status=http_status)
        self.originator_conversation_id = originator_conversation_id

    @property
    def is_upstream_failure(self) -> bool:
        return True


class DeadlineExceededError(DarajaError, NotSentError):
    """Too little time was left to start the request within the caller's deadline; nothing was sent."""


class TokenUnavailableError(DarajaError, NotSentError):
    """Another container is refreshing the OAuth token and did not finish within our wait."""


class CircuitOpenError(DarajaError, CallCircuitOpenError):
    """The Daraja circuit is open (or half-open with its one trial taken): nothing was sent."""
