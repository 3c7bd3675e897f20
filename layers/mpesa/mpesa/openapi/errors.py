"""Typed failures of the Vodacom M-Pesa OpenAPI client. Each says whether money may have moved.

The rule for the money-moving operations (C2B single stage, B2C, reversal): **only
`OpenApiOutcomeUnknownError` (a MayHaveMovedError) may have moved money.** Every other error they
raise means the request did not take effect: it was refused (`OpenApiRefusedError`), never sent
(`OpenApiNotSentError`, `OpenApiDeadlineExceededError`, `OpenApiCircuitOpenError`,
`SessionUnavailableError`), or it is about the session fetched before it (`api == "session"`).

- `OpenApiRefusedError`: the OpenAPI answered with a refusal that proves nothing was done (a known
  `INS-*` code whose disposition is final or retryable, on a 4xx, or INS-16 on a 503; or a gateway
  4xx without a code, e.g. 404). `info` is the code in the shared outcome table (`mpesa.codes`).
- `OpenApiOutcomeUnknownError`: a money-moving request may have been processed: INS-9 (the
  customer's prompt timed out), INS-1, an unknown code, any other 5xx, a read timeout or a
  connection lost after sending, an unreadable answer, a success without a TransactionID, an
  answer about another ThirdPartyConversationID (`OpenApiMismatchedAnswerError`) or INS-10
  (`OpenApiDuplicateError`: the ID was used before). Never re-sent: resolve it with
  `query_transaction_status(third_party_conversation_id)`.
- `OpenApiUnavailableError`: a status query or session request got a transient answer (5xx,
  INS-1, INS-9, INS-16, an unknown code): ask again later.
- `OpenApiResponseError`: an answer to a query or session request that cannot be read.
- `OpenApiTransportError`: no answer to a query or session request; `OpenApiNotSentError` when
  surely nothing was sent (every attempt failed to connect).
- `OpenApiAnswerMismatchError`: a status answer about another question (another
  ThirdPartyConversationID or TransactionID): applied to nothing; ask again later.

What these share with the Daraja client's errors is in `mpesa.call_errors`.
"""

from __future__ import annotations

from mpesa.call_errors import (
    CallCircuitOpenError,
    CallError,
    CallOutcomeUnknownError,
    CallResponseError,
    CallTransportError,
)
from mpesa.codes import Disposition, Outcome, ResultCodeInfo, classify_ins
from mpesa.errors import NotSentError, RefusedError, UnavailableError


class OpenApiError(CallError):
    """Base class: every failure of an OpenAPI call. `api` names the operation ("c2b_single_stage", ...);
    `is_upstream_failure` is True when the failure says the OpenAPI is unhealthy."""

    @property
    def answered(self) -> bool:
        """True when the OpenAPI answered (it is up, whatever it said)."""
        return False


def _gateway_info(http_status: int) -> ResultCodeInfo:
    """A refusal without an INS code (the gateway's 404, 405, 429...): nothing was done."""
    return ResultCodeInfo(
        f"HTTP{http_status}", "refused by the gateway without an INS code", Disposition.FINAL, Outcome.FAILED
    )


class OpenApiRefusedError(OpenApiError, RefusedError):
    """The OpenAPI refused the request and did nothing. `response_code` is None for a codeless gateway refusal."""

    def __init__(
        self,
        api: str,
        http_status: int,
        response_code: str | None,
        response_desc: str,
        *,
        conversation_id: str | None = None,
        third_party_conversation_id: str | None = None,
    ) -> None:
        shown = response_code or f"HTTP {http_status}"
        super().__init__(api, f"{shown} {response_desc}".strip())
        self.http_status = http_status
        self.response_code = response_code
        self.response_desc = response_desc
        self.conversation_id = conversation_id
        self.third_party_conversation_id = third_party_conversation_id

    @property
    def info(self) -> ResultCodeInfo:
        """The refusal in the shared outcome table (final or retryable, never unknown)."""
        return classify_ins(self.response_code) if self.response_code else _gateway_info(self.http_status)

    @property
    def is_upstream_failure(self) -> bool:
        return self.http_status >= 500

    @property
    def answered(self) -> bool:
        return True


class SessionRefusedError(OpenApiRefusedError):
    """getSession was refused (INS-2 invalid API key, INS-989 origin, INS-998 market...): a configuration
    problem; or a transaction's bearer was refused again with a session fetched for it."""


class TransactionNotFoundError(OpenApiRefusedError):
    """The status query found nothing under this reference (INS-18). Asked right after a request whose
    answer was lost, it is evidence, not proof, that the request never arrived: ask again later."""


class OpenApiUnavailableError(OpenApiError, UnavailableError):
    """A query or session request got a transient answer (5xx, INS-1, INS-9, INS-16, unknown code)."""

    def __init__(self, api: str, http_status: int, response_code: str | None, response_desc: str) -> None:
        shown = response_code or "no INS code"
        super().__init__(api, f"HTTP {http_status} {shown} {response_desc}".strip())
        self.http_status = http_status
        self.response_code = response_code
        self.response_desc = response_desc

    @property
    def is_upstream_failure(self) -> bool:
        return self.http_status >= 500

    @property
    def answered(self) -> bool:
        return True


class OpenApiResponseError(OpenApiError, CallResponseError):
    """An answer to a query or session request that cannot be read; `problem` says why (no values)."""


class OpenApiTransportError(OpenApiError, CallTransportError):
    """No answer after the allowed retries. `request_sent` is False only when surely not sent."""


class OpenApiNotSentError(OpenApiTransportError, NotSentError):
    """Every attempt failed before sending (connection refused, unreachable, connect timeout)."""

    def __init__(self, api: str, reason: str) -> None:
        super().__init__(api, reason, request_sent=False)


class OpenApiAnswerMismatchError(OpenApiError, UnavailableError):
    """A status answer about another question than the one asked: applied to nothing; ask again later.
    `asked` and `answered_with` are identifiers we chose or Vodacom issued, never personal data."""

    def __init__(self, api: str, asked: str, answered_with: str) -> None:
        super().__init__(api, "the answer names another request than the one asked")
        self.asked = asked
        self.answered_with = answered_with

    @property
    def answered(self) -> bool:
        return True


class OpenApiOutcomeUnknownError(OpenApiError, CallOutcomeUnknownError):
    """A money-moving request may have been processed. Never re-send it: query its status with
    `third_party_conversation_id` (it is always set)."""

    def __init__(
        self,
        api: str,
        reason: str,
        *,
        third_party_conversation_id: str,
        http_status: int | None = None,
        response_code: str | None = None,
        conversation_id: str | None = None,
        upstream_failure: bool = True,
    ) -> None:
        super().__init__(api, reason, http_status=http_status)
        self.third_party_conversation_id = third_party_conversation_id
        self.response_code = response_code
        self.conversation_id = conversation_id
        self._upstream_failure = upstream_failure

    @property
    def is_upstream_failure(self) -> bool:
        return self._upstream_failure

    @property
    def answered(self) -> bool:
        return self.http_status is not None


class OpenApiDuplicateError(OpenApiOutcomeUnknownError):
    """INS-10: this ThirdPartyConversationID was used before. This request did nothing, but the first
    one may have moved money: its outcome decides (query it)."""


class OpenApiMismatchedAnswerError(OpenApiOutcomeUnknownError):
    """A money-moving request was answered about another ThirdPartyConversationID: ours may have been
    processed, the answer is applied to nothing."""

    def __init__(self, api: str, *, third_party_conversation_id: str, answered_with: str, http_status: int) -> None:
        super().__init__(
            api,
            "the answer names another ThirdPartyConversationID",
            third_party_conversation_id=third_party_conversation_id,
            http_status=http_status,
            upstream_failure=False,
        )
        self.answered_with = answered_with


class OpenApiDeadlineExceededError(OpenApiError, NotSentError):
    """Too little time was left to start the request within the caller's deadline; nothing was sent."""


class SessionUnavailableError(OpenApiError, NotSentError):
    """Another container is creating the session and did not finish within our wait; nothing was sent."""


class OpenApiCircuitOpenError(OpenApiError, CallCircuitOpenError):
    """The OpenAPI circuit is open (or half-open with its one trial taken): nothing was sent."""
