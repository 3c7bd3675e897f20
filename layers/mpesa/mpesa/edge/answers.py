"""What the API answers when M-Pesa refused a request outright: one mapping for every flow, from the
one table of codes (mpesa.codes.classify_refusal), so a replay answers exactly as the first request
did (it is read from the record) and the caller learns whether, and when, to try again."""

from __future__ import annotations

from typing import Any

from mpesa.codes import Refusal, classify_refusal

_ANSWERS = {
    Refusal.CALLER_ERROR: (422, "rejected_by_mpesa"),
    Refusal.CUSTOMER_BUSY: (409, "customer_busy"),
    Refusal.RATE_LIMITED: (429, "mpesa_rate_limited"),
    Refusal.UPSTREAM: (502, "rejected_by_mpesa"),
}


def refusal_answer(code: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body fields, headers) for Daraja's refusal `code`/`message` as stored on a record."""
    refusal = classify_refusal(code, message)
    status, error = _ANSWERS[refusal.refusal]
    fields = {
        "error": error,
        "mpesa_error_code": code,
        "message": message,
        "retryable": refusal.retryable,
        "retry_after_s": refusal.retry_after_s,
    }
    headers = {"Retry-After": str(refusal.retry_after_s)} if refusal.retry_after_s else {}
    return status, fields, headers
