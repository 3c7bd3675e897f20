"""What an OpenAPI answer means: one HTTP answer read within MAX_ANSWER_BYTES (parsed by
`mpesa.safe_json`), then the JSON object of a success (INS-0) or a typed OpenApiError. Whether a failure
may have moved money is decided here, once (docs/openapi-client.md):

- money-moving operations (C2B single stage, B2C, reversal): a success needs HTTP 2xx, INS-0 and our
  ThirdPartyConversationID echoed; a refusal is definite only with a known final/retryable INS code
  on a 4xx (but 408 and 409), INS-16 on a 503, or a 4xx without a code from the gateway; everything
  else is OpenApiOutcomeUnknownError;
- the status query and getSession: a final INS code below HTTP 500 (but 408 and 429), or a gateway
  4xx without a code, is a refusal; an unreadable success is OpenApiResponseError; anything else is
  OpenApiUnavailableError (ask again later).

INS-26 ("not authorised", and INS-2) on a transaction is SessionRejected: the pipeline replaces the
session and sends once more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from mpesa import safe_json
from mpesa.codes import INS_SUCCESS, Disposition, classify_ins
from mpesa.errors import InputError, PayloadTooLargeError
from mpesa.openapi.errors import (
    OpenApiDuplicateError,
    OpenApiMismatchedAnswerError,
    OpenApiOutcomeUnknownError,
    OpenApiRefusedError,
    OpenApiResponseError,
    OpenApiUnavailableError,
    SessionRefusedError,
    TransactionNotFoundError,
)
from mpesa.openapi.models import MAX_DESCRIPTION, as_code, as_optional_text
from mpesa.openapi.operations import SESSION, Operation

MAX_ANSWER_BYTES = 64 * 1024  # an answer is a few hundred bytes
SESSION_REJECTED_CODES = frozenset({"INS-26", "INS-2"})  # the bearer (session) was refused, nothing done
DUPLICATE_CODE = "INS-10"
TIMEOUT_CODE = "INS-9"
OVERLOAD_CODE = "INS-16"
NOT_FOUND_CODE = "INS-18"
# 4xx statuses that do not prove the request was left unprocessed (INS-9 is a 408, INS-10 a 409).
OPEN_4XX = frozenset({408, 409})
TRANSIENT_4XX = frozenset({408, 429})  # for queries: ask again later


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: its status, the JSON object (None when unreadable, with `problem` saying why)."""

    status: int
    payload: dict[str, Any] | None
    problem: str | None = None
    # An earlier attempt of this exchange may have reached the OpenAPI (a 503/504 or a read error that
    # urllib3 retried): the answer speaks for the last attempt only. Never set for CONNECT_ONLY.
    resent: bool = False

    def _text(self, field: str, convert: Callable[[object], object] = as_optional_text) -> str | None:
        value = convert(self.payload.get(field)) if self.payload is not None else None
        return value if isinstance(value, str) and len(value) <= MAX_DESCRIPTION else None

    @property
    def code(self) -> str | None:
        return self._text("output_ResponseCode", as_code)

    @property
    def description(self) -> str:
        return self._text("output_ResponseDesc") or ""

    @property
    def echo(self) -> str | None:
        """The ThirdPartyConversationID the answer names, if any."""
        return self._text("output_ThirdPartyConversationID")

    @property
    def conversation_id(self) -> str | None:
        return self._text("output_ConversationID")


class SessionRejected(Exception):
    """A signal inside the pipeline (INS-26 on a transaction), never raised out of it."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.code or f"HTTP {answer.status}")
        self.answer = answer


def read_bounded(response: requests.Response, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` bytes (not read further)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=8192):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def decode(status: int, raw: bytes | None, *, resent: bool) -> Answer:
    if raw is None:
        return Answer(status, None, f"body larger than {MAX_ANSWER_BYTES} bytes", resent)
    if not raw.strip():
        return Answer(status, None, "empty body", resent)
    try:
        payload = safe_json.parse(raw, max_bytes=MAX_ANSWER_BYTES)
    except InputError as exc:
        return Answer(status, None, f"body {exc.message}", resent)
    except PayloadTooLargeError:
        return Answer(status, None, f"body larger than {MAX_ANSWER_BYTES} bytes", resent)
    if not isinstance(payload, dict):
        return Answer(status, None, "body is not a JSON object", resent)
    return Answer(status, payload, None, resent)


def check(op: Operation, answer: Answer, third_party_conversation_id: str | None) -> dict[str, Any]:
    """The JSON object of a success answer; otherwise the matching typed error."""
    if op.moves_money:
        return _check_money(op, answer, third_party_conversation_id or "")
    return _check_other(op, answer)


def _check_money(op: Operation, answer: Answer, caller_id: str) -> dict[str, Any]:
    status, code, echo = answer.status, answer.code, answer.echo

    def unknown(reason: str, *, upstream: bool) -> OpenApiOutcomeUnknownError:
        return OpenApiOutcomeUnknownError(
            op.api,
            reason,
            third_party_conversation_id=caller_id,
            http_status=status,
            response_code=code,
            conversation_id=answer.conversation_id,
            upstream_failure=upstream,
        )

    refusable = 400 <= status < 500 and status not in OPEN_4XX and not answer.resent
    if answer.payload is None:
        if refusable:  # the gateway refused it (401, 404, 405, 422...), whatever the body says
            raise OpenApiRefusedError(op.api, status, None, answer.problem or "", third_party_conversation_id=None)
        raise unknown(f"HTTP {status}, {answer.problem}", upstream=True)
    if answer.resent and not (200 <= status < 300 and code == INS_SUCCESS):
        raise unknown(
            f"HTTP {status} {code or ''} on a retry, after an attempt that may have been processed", upstream=True
        )
    if 200 <= status < 300:
        if code != INS_SUCCESS:
            raise unknown(f"HTTP {status} with {code or 'no output_ResponseCode'}", upstream=True)
        if echo != caller_id:
            if echo is None:
                raise unknown("success without our ThirdPartyConversationID", upstream=False)
            raise OpenApiMismatchedAnswerError(
                op.api, third_party_conversation_id=caller_id, answered_with=echo, http_status=status
            )
        return answer.payload
    if 400 <= status < 500 and code in SESSION_REJECTED_CODES:
        raise SessionRejected(answer)
    if echo is not None and echo != caller_id:
        raise OpenApiMismatchedAnswerError(
            op.api, third_party_conversation_id=caller_id, answered_with=echo, http_status=status
        )
    if code is None:
        if refusable:
            raise OpenApiRefusedError(op.api, status, None, "refused without an INS code")
        raise unknown(f"HTTP {status} without an INS code", upstream=status >= 500)
    if code == DUPLICATE_CODE and 400 <= status < 500:
        raise OpenApiDuplicateError(
            op.api,
            "INS-10 duplicate: this ThirdPartyConversationID was used before",
            third_party_conversation_id=caller_id,
            http_status=status,
            response_code=code,
            conversation_id=answer.conversation_id,
            upstream_failure=False,
        )
    info = classify_ins(code)
    ended = info.disposition in (Disposition.FINAL, Disposition.RETRYABLE) and code != INS_SUCCESS
    if ended and (refusable or (status == 503 and code == OVERLOAD_CODE)):
        raise OpenApiRefusedError(
            op.api,
            status,
            code,
            answer.description,
            conversation_id=answer.conversation_id,
            third_party_conversation_id=echo,
        )
    # INS-9 (the customer did not answer in time, or B2C's backend timed out), INS-1, INS-23,
    # an unknown code, a 5xx: the request may have been processed.
    customer_timeout = op.waits_for_customer and code == TIMEOUT_CODE
    upstream = status >= 500 or (code == TIMEOUT_CODE and not customer_timeout)
    raise unknown(f"HTTP {status} {code}", upstream=upstream)


def _check_other(op: Operation, answer: Answer) -> dict[str, Any]:
    status, code = answer.status, answer.code
    if answer.payload is None:
        if 200 <= status < 300:
            raise OpenApiResponseError(op.api, status, answer.problem or "unreadable")
        if 400 <= status < 500 and status not in TRANSIENT_4XX:
            raise _refusal(op, answer, None)
        raise OpenApiUnavailableError(op.api, status, None, answer.problem or "")
    if 200 <= status < 300 and code == INS_SUCCESS:
        return answer.payload
    if op is not SESSION and 400 <= status < 500 and code in SESSION_REJECTED_CODES:
        raise SessionRejected(answer)
    if code is None:
        if 200 <= status < 300:
            raise OpenApiResponseError(op.api, status, "output_ResponseCode: missing")
        if 400 <= status < 500 and status not in TRANSIENT_4XX:
            raise _refusal(op, answer, None)
        raise OpenApiUnavailableError(op.api, status, None, "no INS code")
    if classify_ins(code).disposition is Disposition.FINAL and status < 500 and status not in TRANSIENT_4XX:
        raise _refusal(op, answer, code)
    raise OpenApiUnavailableError(op.api, status, code, answer.description)


def _refusal(op: Operation, answer: Answer, code: str | None) -> OpenApiRefusedError:
    cls: type[OpenApiRefusedError] = OpenApiRefusedError
    if op is SESSION:
        cls = SessionRefusedError
    elif code == NOT_FOUND_CODE:
        cls = TransactionNotFoundError
    return cls(
        op.api,
        answer.status,
        code,
        answer.description or (answer.problem or ""),
        conversation_id=answer.conversation_id,
        third_party_conversation_id=answer.echo,
    )
