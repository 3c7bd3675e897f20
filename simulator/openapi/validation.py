"""Field checks for the OpenAPI ``input_*`` parameters, each failure an ``INS-*`` code.

Order of checks in every operation: all required parameters present (else INS-20, naming none),
then each field in the order of the documented parameter list. The first failure is answered.

* Text fields take a JSON string (code-like fields also a JSON integer); anything else is invalid.
* Amounts are whole Tanzanian shillings: a JSON integer or a string of digits. ``10.5``, ``10.0``
  and ``"10.00"`` are INS-15, as is anything outside ``[openapi_min_amount, openapi_max_amount]``.
  Money is never a float: JSON numbers with a fraction are parsed as ``Decimal`` and refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from simulator.openapi import codes
from simulator.openapi.codes import Ins, OpenApiError
from simulator.openapi.sandbox import SANDBOX_CUSTOMER

Params = Mapping[str, Any]

# Tanzanian mobile numbers: 255, then 6 or 7, then 8 digits (12 digits, no "+").
TANZANIAN_MSISDN = re.compile(r"^255[67]\d{8}$")
WHOLE = re.compile(r"^\d+$")
# A caller's ID: printable ASCII without spaces, as UUIDs and hex strings are.
CALLER_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
MAX_DESCRIPTION = 256


def as_text(value: Any) -> str | None:
    """A string, or an integer given as a JSON number; anything else (bool, Decimal, null) is not text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return None


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def require(params: Params, fields: Sequence[str]) -> None:
    """INS-20 unless every field is present and non-blank."""
    if not all(present(params.get(field)) for field in fields):
        raise OpenApiError(codes.MISSING_PARAMETERS)


def _text(params: Params, field: str, error: Ins) -> str:
    value = as_text(params.get(field))
    if value is None:
        raise OpenApiError(error)
    return value


def amount(params: Params, field: str, *, minimum: int, maximum: int) -> int:
    raw = params.get(field)
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and WHOLE.match(raw.strip()):
        value = int(raw.strip())
    elif isinstance(raw, Decimal):
        value = None  # 10.5, even 10.0: whole shillings only
    if value is None or not minimum <= value <= maximum:
        raise OpenApiError(codes.INVALID_AMOUNT)
    return value


def exact(params: Params, field: str, expected: str, error: Ins) -> str:
    value = _text(params, field, error)
    if value != expected:
        raise OpenApiError(error)
    return value


def msisdn(params: Params, field: str) -> str:
    value = _text(params, field, codes.INVALID_MSISDN)
    if not (TANZANIAN_MSISDN.match(value) or value == SANDBOX_CUSTOMER):
        raise OpenApiError(codes.INVALID_MSISDN)
    return value


def caller_id(params: Params, field: str) -> str:
    """input_ThirdPartyConversationID: 1 to 64 printable characters, no spaces (else INS-21)."""
    value = _text(params, field, codes.VALIDATION_FAILED)
    if not CALLER_ID.match(value):
        raise OpenApiError(codes.VALIDATION_FAILED)
    return value


def transaction_reference(params: Params, field: str) -> str:
    """input_TransactionReference: 1 to 20 characters (INS-17)."""
    value = _text(params, field, codes.INVALID_REFERENCE)
    if not 1 <= len(value) <= 20 or not value.strip():
        raise OpenApiError(codes.INVALID_REFERENCE)
    return value


def description(params: Params, field: str) -> str:
    """input_PurchasedItemsDesc / input_PaymentItemsDesc: 1 to 256 characters (INS-21)."""
    value = _text(params, field, codes.VALIDATION_FAILED)
    if not 1 <= len(value) <= MAX_DESCRIPTION:
        raise OpenApiError(codes.VALIDATION_FAILED)
    return value


def reference(params: Params, field: str, error: Ins) -> str:
    """A TransactionID or query reference: 1 to 64 printable characters, no spaces."""
    value = _text(params, field, error)
    if not CALLER_ID.match(value):
        raise OpenApiError(error)
    return value
