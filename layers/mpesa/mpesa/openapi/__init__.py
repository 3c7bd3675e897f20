"""Vodacom's M-Pesa OpenAPI (Tanzania, market `vodacomTZN` by default): the client and its errors.

    from mpesa.openapi import OpenApiClient, new_conversation_id
    client = OpenApiClient.from_environment()          # MPESA_TZ_* settings + STATE_TABLE_NAME
    caller_id = new_conversation_id()                  # store it with the record first
    paid = client.c2b_single_stage(customer_msisdn="255741234567", amount=1500, transaction_reference="ORDER1",
                                   purchased_items_desc="Order 1", third_party_conversation_id=caller_id,
                                   deadline=Deadline.from_remaining_ms(context.get_remaining_time_in_millis))

Names load on first use. See docs/openapi-client.md.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "OpenApiClient": "mpesa.openapi.client",
    "new_conversation_id": "mpesa.openapi.client",
    "OpenApiError": "mpesa.openapi.errors",
    "OpenApiRefusedError": "mpesa.openapi.errors",
    "SessionRefusedError": "mpesa.openapi.errors",
    "TransactionNotFoundError": "mpesa.openapi.errors",
    "OpenApiUnavailableError": "mpesa.openapi.errors",
    "OpenApiResponseError": "mpesa.openapi.errors",
    "OpenApiTransportError": "mpesa.openapi.errors",
    "OpenApiNotSentError": "mpesa.openapi.errors",
    "OpenApiAnswerMismatchError": "mpesa.openapi.errors",
    "OpenApiOutcomeUnknownError": "mpesa.openapi.errors",
    "OpenApiDuplicateError": "mpesa.openapi.errors",
    "OpenApiMismatchedAnswerError": "mpesa.openapi.errors",
    "OpenApiDeadlineExceededError": "mpesa.openapi.errors",
    "SessionUnavailableError": "mpesa.openapi.errors",
    "OpenApiCircuitOpenError": "mpesa.openapi.errors",
    "TransactionAnswer": "mpesa.openapi.models",
    "TransactionStatusAnswer": "mpesa.openapi.models",
}

__all__ = [
    "OpenApiAnswerMismatchError",
    "OpenApiCircuitOpenError",
    "OpenApiClient",
    "OpenApiDeadlineExceededError",
    "OpenApiDuplicateError",
    "OpenApiError",
    "OpenApiMismatchedAnswerError",
    "OpenApiNotSentError",
    "OpenApiOutcomeUnknownError",
    "OpenApiRefusedError",
    "OpenApiResponseError",
    "OpenApiTransportError",
    "OpenApiUnavailableError",
    "SessionRefusedError",
    "SessionUnavailableError",
    "TransactionAnswer",
    "TransactionNotFoundError",
    "TransactionStatusAnswer",
    "new_conversation_id",
]

if TYPE_CHECKING:
    from mpesa.openapi.client import OpenApiClient, new_conversation_id
    from mpesa.openapi.errors import (
        OpenApiAnswerMismatchError,
        OpenApiCircuitOpenError,
        OpenApiDeadlineExceededError,
        OpenApiDuplicateError,
        OpenApiError,
        OpenApiMismatchedAnswerError,
        OpenApiNotSentError,
        OpenApiOutcomeUnknownError,
        OpenApiRefusedError,
        OpenApiResponseError,
        OpenApiTransportError,
        OpenApiUnavailableError,
        SessionRefusedError,
        SessionUnavailableError,
        TransactionNotFoundError,
    )
    from mpesa.openapi.models import TransactionAnswer, TransactionStatusAnswer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mpesa.openapi' has no attribute {name!r}")
    return getattr(import_module(module), name)
