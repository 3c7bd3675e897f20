"""Daraja's B2C Result webhook, and the Result of Transaction Status queries about a payout.

Routes: POST /v1/hooks/b2c/result/{payout_id}/{signature} (the ResultURL sent with each payout: it
settles the payout), POST /v1/hooks/b2c/status/{payout_id}/{signature} (the ResultURL of Transaction
Status about a payout: it settles it too), POST /v1/hooks/b2c/recon-status/{payout_id}/{signature} (the
same, asked by the daily reconciliation: settled by reconciliation), and POST /v1/hooks/b2c/result
(MpesaService's default: no per-record secret, so the body is kept and Transaction Status confirms it
first). All check the source IP.
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
from mpesa.records import SettledBy, SettleResult

app = new_resolver(webhooks_only=True)


@app.webhook(
    "/v1/hooks/b2c/result/<payout_id>/<signature>",
    body=ResultEnvelope,
    summary="B2C Result on the URL signed for one payout: settles it",
)
def signed_result(payout_id: str, signature: str) -> Response[str]:
    body, peer, allowed = _delivery(urls.RESULT, payout_id, signature)
    result = runtime.b2c_payouts().receive_result(body, source_ip=peer, source_allowed=allowed, payout_id=payout_id)
    return _ack(result)


@app.webhook(
    "/v1/hooks/b2c/status/<payout_id>/<signature>",
    body=ResultEnvelope,
    summary="Transaction Status Result about a payout (timeout flow)",
)
def status_result(payout_id: str, signature: str) -> Response[str]:
    body, peer, allowed = _delivery(urls.STATUS_RESULT, payout_id, signature)
    payouts = runtime.b2c_payouts()
    result = payouts.receive_status_result(body, source_ip=peer, source_allowed=allowed, payout_id=payout_id)
    return _ack(result)


@app.webhook(
    "/v1/hooks/b2c/recon-status/<payout_id>/<signature>",
    body=ResultEnvelope,
    summary="Transaction Status Result about a payout (daily reconciliation)",
)
def reconciliation_status_result(payout_id: str, signature: str) -> Response[str]:
    body, peer, allowed = _delivery(urls.RECONCILIATION_STATUS, payout_id, signature)
    result = runtime.b2c_payouts().receive_status_result(
        body, source_ip=peer, source_allowed=allowed, payout_id=payout_id, settled_by=SettledBy.RECONCILIATION
    )
    return _ack(result)


@app.webhook(
    "/v1/hooks/b2c/result",
    body=ResultEnvelope,
    summary="B2C Result on MpesaService's default route: kept until Transaction Status confirms it",
)
def default_result() -> Response[str]:
    body, peer, allowed = _delivery(None, None, None)
    runtime.b2c_payouts().receive_result(body, source_ip=peer, source_allowed=allowed, payout_id=None)
    return _ack(None)


def _delivery(purpose: str | None, payout_id: str | None, signature: str | None) -> tuple[str, str, bool]:
    if purpose is not None and payout_id is not None and signature is not None:
        require_signature(runtime.settings().callback_secret, purpose, payout_id, signature)
    return delivery(app.current_event.raw_event)


def _ack(result: SettleResult | None) -> Response[str]:
    applied = result is not None and result.changed
    metrics.add_metric(name="CallbackApplied" if applied else "CallbackNoChange", unit=MetricUnit.Count, value=1)
    return json_response(200, callback_ack())


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
