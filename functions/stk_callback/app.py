"""Daraja's STK Push result callback.

Routes: POST /v1/hooks/stk/{transaction_id}/{signature}, the URL we send with each push (the signature
is an HMAC of the transaction id): its callbacks settle their record. POST /v1/webhooks/mpesa/stkpush
(the integration guide's route) and POST /v1/hooks/stk (MpesaService's default CallBackURL) carry no
per-record secret: their callbacks are kept and compared with the outcome, never applied by themselves.
All check the source IP against the allowlist. Daraja gets its acknowledgement quickly; nothing it
sends is dropped.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from mpesa import runtime
from mpesa.daraja.acks import callback_ack
from mpesa.daraja.callbacks.stk import StkCallbackEnvelope
from mpesa.edge.body import MAX_CALLBACK_BYTES, raw_body
from mpesa.edge.callbacks import configured_allowlist, source_ip
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, metrics
from mpesa.edge.signed_urls import require_signature
from mpesa.errors import PayloadTooLargeError

app = new_resolver(webhooks_only=True)


@app.webhook(
    "/v1/hooks/stk/<transaction_id>/<signature>",
    body=StkCallbackEnvelope,
    summary="STK Push result callback on the URL signed for one payment: settles it",
)
def signed_callback(transaction_id: str, signature: str) -> Response[str]:
    require_signature(runtime.settings().callback_secret, "stk", transaction_id, signature)
    return _receive(transaction_id)


@app.webhook(
    "/v1/webhooks/mpesa/stkpush",
    body=StkCallbackEnvelope,
    summary="STK Push result callback on the integration guide's route: kept and confirmed by STK query",
)
def guide_route_callback() -> Response[str]:
    return _receive(None)


@app.webhook(
    "/v1/hooks/stk",
    body=StkCallbackEnvelope,
    summary="STK Push result callback on MpesaService's default route: kept and confirmed by STK query",
)
def default_route_callback() -> Response[str]:
    return _receive(None)


def _receive(transaction_id: str | None) -> Response[str]:
    body = raw_body(app.current_event.raw_event)
    if len(body) > MAX_CALLBACK_BYTES:
        raise PayloadTooLargeError(MAX_CALLBACK_BYTES)
    peer = source_ip(app.current_event.raw_event)
    result = runtime.stk_payments().receive_callback(
        body, source_ip=peer, source_allowed=configured_allowlist().allows(peer), transaction_id=transaction_id
    )
    applied = result is not None and result.changed
    metrics.add_metric(name="CallbackApplied" if applied else "CallbackNoChange", unit=MetricUnit.Count, value=1)
    return json_response(200, callback_ack())


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
