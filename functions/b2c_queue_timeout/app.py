"""Daraja's QueueTimeOutURL webhook for payouts: a request that timed out in M-Pesa's queue has an
UNKNOWN outcome (never "failed"); Transaction Status resolves it.

Routes: POST /v1/hooks/b2c/timeout/{payout_id}/{signature} (sent with each payout: the payout goes
UNKNOWN), POST /v1/hooks/b2c/status-timeout/{payout_id}/{signature} (a Transaction Status query timed
out: the timeout flow asks again) and POST /v1/hooks/b2c/timeout (MpesaService's default: kept, never
applied by itself). All check the source IP.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from mpesa import runtime
from mpesa.daraja.acks import callback_ack
from mpesa.daraja.callbacks.results import ResultEnvelope
from mpesa.edge.callbacks import delivery
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, metrics
from mpesa.edge.signed_urls import require_signature
from mpesa.flows.b2c import urls

app = new_resolver(webhooks_only=True)


@app.webhook(
    "/v1/hooks/b2c/timeout/<payout_id>/<signature>",
    body=ResultEnvelope,
    summary="B2C queue timeout for one payout: its outcome is unknown",
)
def signed_timeout(payout_id: str, signature: str) -> Response[str]:
    body, peer, allowed = _delivery(urls.QUEUE_TIMEOUT, payout_id, signature)
    result = runtime.b2c_payouts().receive_queue_timeout(
        body, source_ip=peer, source_allowed=allowed, payout_id=payout_id
    )
    if result is not None and result.changed:
        metrics.add_metric(name="PayoutUnknown", unit=MetricUnit.Count, value=1)
    return json_response(200, callback_ack())


@app.webhook(
    "/v1/hooks/b2c/status-timeout/<payout_id>/<signature>",
    body=ResultEnvelope,
    summary="Transaction Status queue timeout: asked again later",
)
def status_timeout(payout_id: str, signature: str) -> Response[str]:
    body, peer, allowed = _delivery(urls.STATUS_TIMEOUT, payout_id, signature)
    runtime.b2c_payouts().receive_status_timeout(body, source_ip=peer, source_allowed=allowed, payout_id=payout_id)
    return json_response(200, callback_ack())


@app.webhook(
    "/v1/hooks/b2c/timeout", body=ResultEnvelope, summary="B2C queue timeout on MpesaService's default route: kept"
)
def default_timeout() -> Response[str]:
    body, peer, allowed = _delivery(None, None, None)
    runtime.b2c_payouts().receive_queue_timeout(body, source_ip=peer, source_allowed=allowed, payout_id=None)
    return json_response(200, callback_ack())


def _delivery(purpose: str | None, payout_id: str | None, signature: str | None) -> tuple[str, str, bool]:
    if purpose is not None and payout_id is not None and signature is not None:
        require_signature(runtime.settings().callback_secret, purpose, payout_id, signature)
    return delivery(app.current_event.raw_event)


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
