"""Daraja (Safaricom M-Pesa API): the client, its errors, and the callbacks Daraja sends.

    from mpesa.daraja import DarajaClient
    client = DarajaClient.from_environment()          # settings + STATE_TABLE_NAME
    ack = client.stk_push(phone_number="254708374149", amount=1000, account_reference="ORDER1",
                          transaction_desc="Payment", callback_url="https://pay.example.com/v1/hooks/stk",
                          deadline=Deadline.from_remaining_ms(context.get_remaining_time_in_millis))

Names load on first use: a webhook that only parses callbacks never imports the HTTP client.
"""

from typing import TYPE_CHECKING

from mpesa.lazy import lazy_exports

_EXPORTS = {
    "DarajaClient": "mpesa.daraja.client",
    "DarajaError": "mpesa.daraja.errors",
    "DarajaApiError": "mpesa.daraja.errors",
    "DarajaResponseError": "mpesa.daraja.errors",
    "DarajaTransportError": "mpesa.daraja.errors",
    "OutcomeUnknownError": "mpesa.daraja.errors",
    "CircuitOpenError": "mpesa.daraja.errors",
    "CircuitBreakerError": "mpesa.daraja.breaker",
    "StkPushResponse": "mpesa.daraja.models",
    "StkQueryResponse": "mpesa.daraja.models",
    "B2CResponse": "mpesa.daraja.models",
    "AsyncRequestResponse": "mpesa.daraja.models",
    "CallbackPayloadError": "mpesa.errors",
    "StkCallback": "mpesa.daraja.callbacks.stk",
    "AsyncResult": "mpesa.daraja.callbacks.results",
    "C2BPayload": "mpesa.daraja.callbacks.c2b",
    "parse_stk_callback": "mpesa.daraja.callbacks.stk",
    "parse_async_result": "mpesa.daraja.callbacks.results",
    "parse_queue_timeout": "mpesa.daraja.callbacks.results",
    "parse_c2b_payload": "mpesa.daraja.callbacks.c2b",
    "callback_ack": "mpesa.daraja.acks",
    "c2b_validation_accept": "mpesa.daraja.acks",
    "c2b_validation_reject": "mpesa.daraja.acks",
}

__all__ = [
    "AsyncRequestResponse",
    "AsyncResult",
    "B2CResponse",
    "C2BPayload",
    "CallbackPayloadError",
    "CircuitBreakerError",
    "CircuitOpenError",
    "DarajaApiError",
    "DarajaClient",
    "DarajaError",
    "DarajaResponseError",
    "DarajaTransportError",
    "OutcomeUnknownError",
    "StkCallback",
    "StkPushResponse",
    "StkQueryResponse",
    "c2b_validation_accept",
    "c2b_validation_reject",
    "callback_ack",
    "parse_async_result",
    "parse_c2b_payload",
    "parse_queue_timeout",
    "parse_stk_callback",
]

if TYPE_CHECKING:
    from mpesa.daraja.acks import c2b_validation_accept, c2b_validation_reject, callback_ack
    from mpesa.daraja.breaker import CircuitBreakerError
    from mpesa.daraja.callbacks.c2b import C2BPayload, parse_c2b_payload
    from mpesa.daraja.callbacks.results import AsyncResult, parse_async_result, parse_queue_timeout
    from mpesa.daraja.callbacks.stk import StkCallback, parse_stk_callback
    from mpesa.daraja.client import DarajaClient
    from mpesa.daraja.errors import (
        CircuitOpenError,
        DarajaApiError,
        DarajaError,
        DarajaResponseError,
        DarajaTransportError,
        OutcomeUnknownError,
    )
    from mpesa.daraja.models import AsyncRequestResponse, B2CResponse, StkPushResponse, StkQueryResponse
    from mpesa.errors import CallbackPayloadError


__getattr__ = lazy_exports(__name__, _EXPORTS)
