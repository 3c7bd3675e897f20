"""Daraja's C2B validation request: POST /v1/hooks/c2b/{short_code}/{secret}/validation.

Daraja waits about 8 s for the answer, then applies the registered ResponseType. We answer from the
rules (mpesa.flows.c2b.validation) with one read at most and no call to Daraja: `{"ResultCode": "0"}`
accepts, `C2B00011`..`C2B00016` reject. A wrong path secret or a source outside the allowlist is
refused with 403 and a log line; a body that is not a C2B request gets 4xx (Daraja then applies the
ResponseType). Nothing has moved yet, so nothing refused here is kept.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from mpesa import runtime
from mpesa.daraja.callbacks.c2b import C2BPayload, parse_c2b_payload
from mpesa.edge.body import MAX_CALLBACK_BYTES, precheck_json, raw_body
from mpesa.edge.callbacks import configured_allowlist, source_ip
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, metrics
from mpesa.errors import CallbackPayloadError, CallbackRefusedError, InputError
from mpesa.flows.c2b import check_trans_id, verify_hook

app = new_resolver(webhooks_only=True)


@app.webhook(
    "/v1/hooks/c2b/<short_code>/<secret>/validation",
    body=C2BPayload,
    summary="C2B validation: accept or refuse a Pay Bill / Buy Goods payment",
)
def validation(short_code: str, secret: str) -> Response[str]:
    if not verify_hook(runtime.settings(), short_code, secret):
        raise CallbackRefusedError("bad C2B URL secret")
    if not configured_allowlist().allows(source_ip(app.current_event.raw_event)):
        raise CallbackRefusedError("source IP not allowed")
    rejected = precheck_json(app.current_event.raw_event, MAX_CALLBACK_BYTES)
    if rejected is not None:
        return Response(rejected["statusCode"], rejected["headers"]["Content-Type"], rejected["body"])
    payload = parse_c2b_payload(raw_body(app.current_event.raw_event))
    try:
        check_trans_id(payload.trans_id)
    except InputError as exc:
        raise CallbackPayloadError(exc.field, exc.message) from None
    decision = runtime.c2b_payments().validation.validate(payload, short_code=short_code)
    outcome = "accepted" if decision.accepted else decision.result_code
    metrics.add_metric(name=f"C2BValidation_{outcome}", unit=MetricUnit.Count, value=1)
    return json_response(200, decision.answer())


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
