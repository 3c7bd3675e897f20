"""Inbound Daraja callbacks: STK result (`.stk`), the async `Result` envelope (`.results`), C2B
validation/confirmation (`.c2b`); what a webhook answers is in mpesa.daraja.acks.

Entry points take the raw request body (str/bytes) and parse JSON with `parse_float=Decimal`, so
`1000.00` never becomes a float. A dict already decoded elsewhere is accepted too (any floats in it
are read through their shortest repr). Every problem raises CallbackPayloadError (an InputError)
naming the field, so a webhook can answer 400 with a log line and no stack trace.

One module per kind of callback, its names exported here lazily: a webhook imports only the models it
parses (the STK callback function builds no B2C or C2B model, and so on).
"""

from typing import TYPE_CHECKING

from mpesa.lazy import lazy_exports

_EXPORTS = {
    "MAX_BODY_BYTES": "mpesa.daraja.callbacks.common",
    "RawValue": "mpesa.daraja.callbacks.common",
    "Value": "mpesa.daraja.callbacks.common",
    "load_json": "mpesa.daraja.callbacks.common",
    "CallbackMetadata": "mpesa.daraja.callbacks.stk",
    "NameValue": "mpesa.daraja.callbacks.stk",
    "StkCallback": "mpesa.daraja.callbacks.stk",
    "StkCallbackEnvelope": "mpesa.daraja.callbacks.stk",
    "parse_stk_callback": "mpesa.daraja.callbacks.stk",
    "AccountBalanceEntry": "mpesa.daraja.callbacks.results",
    "AsyncResult": "mpesa.daraja.callbacks.results",
    "KeyValue": "mpesa.daraja.callbacks.results",
    "ReferenceData": "mpesa.daraja.callbacks.results",
    "ResultEnvelope": "mpesa.daraja.callbacks.results",
    "ResultParameters": "mpesa.daraja.callbacks.results",
    "parse_async_result": "mpesa.daraja.callbacks.results",
    "parse_queue_timeout": "mpesa.daraja.callbacks.results",
    "C2BPayload": "mpesa.daraja.callbacks.c2b",
    "parse_c2b_payload": "mpesa.daraja.callbacks.c2b",
}

__all__ = [
    "MAX_BODY_BYTES",
    "AccountBalanceEntry",
    "AsyncResult",
    "C2BPayload",
    "CallbackMetadata",
    "KeyValue",
    "NameValue",
    "RawValue",
    "ReferenceData",
    "ResultEnvelope",
    "ResultParameters",
    "StkCallback",
    "StkCallbackEnvelope",
    "Value",
    "load_json",
    "parse_async_result",
    "parse_c2b_payload",
    "parse_queue_timeout",
    "parse_stk_callback",
]

if TYPE_CHECKING:
    from mpesa.daraja.callbacks.c2b import C2BPayload, parse_c2b_payload
    from mpesa.daraja.callbacks.common import MAX_BODY_BYTES, RawValue, Value, load_json
    from mpesa.daraja.callbacks.results import (
        AccountBalanceEntry,
        AsyncResult,
        KeyValue,
        ReferenceData,
        ResultEnvelope,
        ResultParameters,
        parse_async_result,
        parse_queue_timeout,
    )
    from mpesa.daraja.callbacks.stk import (
        CallbackMetadata,
        NameValue,
        StkCallback,
        StkCallbackEnvelope,
        parse_stk_callback,
    )


__getattr__ = lazy_exports(__name__, _EXPORTS)
