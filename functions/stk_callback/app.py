"""Daraja's STK Push result callback.

Routes: POST /v1/hooks/stk/{transaction_id}/{signature} (the URL we send with each push: the
signature is an HMAC of the transaction id) and the integration guide's POST /v1/webhooks/mpesa/stkpush
(for portals configured with it; correlated by CheckoutRequestID). Both check the source IP against
the allowlist. Daraja gets its acknowledgement quickly; nothing it sends is dropped.
"""

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mpesa import runtime
from mpesa.callback_auth import SourceAllowlist, verify
from mpesa.daraja.callbacks import MAX_BODY_BYTES, CallbackPayloadError, callback_ack, parse_stk_callback
from mpesa.http import error, json_response, new_resolver

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = new_resolver()


def _allowlist() -> SourceAllowlist:
    return SourceAllowlist.parse(os.environ.get("MPESA_CALLBACK_ALLOWED_IPS"))


@app.post("/v1/hooks/stk/<transaction_id>/<signature>", include_in_schema=False)
def signed_callback(transaction_id: str, signature: str) -> Response[str]:
    secret = runtime.settings().callback_secret
    if secret is None or not verify(secret.get_secret_value(), "stk", transaction_id, signature):
        logger.warning("callback refused: bad URL signature", extra={"source_ip": _source_ip()})
        metrics.add_metric(name="CallbackRefused", unit=MetricUnit.Count, value=1)
        return error(403, "forbidden", "forbidden")
    return _handle(transaction_id, signed=True)


@app.post("/v1/webhooks/mpesa/stkpush", include_in_schema=False)
def seed_route_callback() -> Response[str]:
    return _handle(None, signed=False)


def _handle(transaction_id: str | None, *, signed: bool) -> Response[str]:
    """`signed`: the URL's HMAC proved the sender got it from us. Such a body is kept even when it cannot
    be applied (a source IP missing from a list that changes, a shape we do not know): Daraja does not
    send a callback twice, and it may confirm a payment."""
    source_ip = _source_ip()
    body = app.current_event.decoded_body or ""
    if len(body.encode()) > MAX_BODY_BYTES:
        return error(413, "payload_too_large", "callback body too large")
    if not _allowlist().allows(source_ip):
        logger.warning("callback refused: source IP not allowed", extra={"source_ip": source_ip})
        metrics.add_metric(name="CallbackRefused", unit=MetricUnit.Count, value=1)
        if signed:
            runtime.stk_payments().keep_unapplied(body, source_ip, "signed URL but source IP not allowed")
        return error(403, "forbidden", "forbidden")
    try:
        callback = parse_stk_callback(body)
    except CallbackPayloadError as exc:
        logger.warning("callback refused: invalid payload", extra={"field": exc.field, "problem": exc.message})
        if signed:
            runtime.stk_payments().keep_unapplied(body, source_ip, f"unreadable: {exc.field}: {exc.message}")
        return error(400, "invalid_callback", f"{exc.field}: {exc.message}")
    result = runtime.stk_payments().apply_callback(
        callback, transaction_id=transaction_id, raw_body=body, source_ip=source_ip
    )
    metrics.add_metric(
        name="CallbackApplied" if result is not None and result.changed else "CallbackNoChange",
        unit=MetricUnit.Count,
        value=1,
    )
    return json_response(200, callback_ack())


def _source_ip() -> str:
    # API Gateway's own view of the peer; never a client-supplied header such as X-Forwarded-For.
    return str(app.current_event.request_context.http.source_ip or "")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
