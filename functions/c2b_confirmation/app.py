"""Daraja's C2B confirmation: POST /v1/hooks/c2b/{short_code}/{secret}/confirmation. Money has moved.

A wrong path secret is refused with 403 and a log line, and nothing is kept. On our URL, the payment is
recorded once per TransID (an STK payment's confirmation is linked to its STK record, not counted
twice); a source outside the allowlist (403) or a body we cannot read (400) is kept in the inbox, since
Daraja does not send a confirmation twice. Daraja gets its acknowledgement as soon as it is recorded.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from mpesa import runtime
from mpesa.daraja.acks import callback_ack
from mpesa.daraja.callbacks.c2b import C2BPayload
from mpesa.edge.body import MAX_CALLBACK_BYTES, raw_body
from mpesa.edge.callbacks import configured_allowlist, source_ip
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, metrics
from mpesa.errors import CallbackRefusedError, PayloadTooLargeError
from mpesa.flows.c2b import verify_hook

app = new_resolver(webhooks_only=True)


@app.webhook(
    "/v1/hooks/c2b/<short_code>/<secret>/confirmation",
    body=C2BPayload,
    summary="C2B confirmation (money has moved): recorded once per TransID",
)
def confirmation(short_code: str, secret: str) -> Response[str]:
    if not verify_hook(runtime.settings(), short_code, secret):
        raise CallbackRefusedError("bad C2B URL secret")
    body = raw_body(app.current_event.raw_event)
    if len(body) > MAX_CALLBACK_BYTES:
        raise PayloadTooLargeError(MAX_CALLBACK_BYTES)
    peer = source_ip(app.current_event.raw_event)
    result = runtime.c2b_payments().confirmations.receive(
        body, short_code=short_code, source_ip=peer, source_allowed=configured_allowlist().allows(peer)
    )
    metrics.add_metric(name=f"C2BConfirmation_{result.written.value}", unit=MetricUnit.Count, value=1)
    return json_response(200, callback_ack())


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
