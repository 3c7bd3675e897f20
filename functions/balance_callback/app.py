"""Daraja's Account Balance Result and QueueTimeOut webhooks.

Routes: POST /v1/hooks/balance/result/{request_id}/{signature} and
POST /v1/hooks/balance/timeout/{request_id}/{signature} (sent with each balance request), and
MpesaService's defaults POST /v1/hooks/balance/result and /v1/hooks/balance/timeout (applied only when
the ConversationID is one of our requests). All check the source IP.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from mpesa import runtime
from mpesa.daraja.acks import callback_ack
from mpesa.daraja.callbacks.results import ResultEnvelope
from mpesa.edge.callbacks import delivery
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry
from mpesa.edge.signed_urls import require_signature
from mpesa.flows.b2c import urls

app = new_resolver(webhooks_only=True)


@app.webhook(
    "/v1/hooks/balance/result/<request_id>/<signature>",
    body=ResultEnvelope,
    summary="Account Balance Result on the URL signed for one request",
)
def signed_result(request_id: str, signature: str) -> Response[str]:
    return _receive(urls.BALANCE_RESULT, request_id, signature, timed_out=False)


@app.webhook(
    "/v1/hooks/balance/timeout/<request_id>/<signature>",
    body=ResultEnvelope,
    summary="Account Balance queue timeout for one request",
)
def signed_timeout(request_id: str, signature: str) -> Response[str]:
    return _receive(urls.BALANCE_TIMEOUT, request_id, signature, timed_out=True)


@app.webhook("/v1/hooks/balance/result", body=ResultEnvelope, summary="Account Balance Result on the default route")
def default_result() -> Response[str]:
    return _receive(None, None, None, timed_out=False)


@app.webhook(
    "/v1/hooks/balance/timeout", body=ResultEnvelope, summary="Account Balance queue timeout on the default route"
)
def default_timeout() -> Response[str]:
    return _receive(None, None, None, timed_out=True)


def _receive(purpose: str | None, request_id: str | None, signature: str | None, *, timed_out: bool) -> Response[str]:
    if purpose is not None and request_id is not None and signature is not None:
        require_signature(runtime.settings().callback_secret, purpose, request_id, signature)
    body, peer, allowed = delivery(app.current_event.raw_event)
    runtime.account_balances().receive(
        body,
        source_ip=peer,
        source_allowed=allowed,
        request_id=request_id,
        timed_out=timed_out,
    )
    return json_response(200, callback_ack())


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
