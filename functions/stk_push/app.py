"""POST /v1/payments/stk-push: validate, record PENDING, push the prompt.

The record is the idempotency record: its id is derived from the caller and the Idempotency-Key, so a
replay finds it and answers as the first request did (docs/decisions.md, "The record is the idempotency
record")."""

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.metrics import MetricUnit

from mpesa import runtime
from mpesa.edge.body import precheck_json
from mpesa.edge.caller import principal
from mpesa.edge.http import api_deadline, json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, metrics
from mpesa.errors import NotSentError
from mpesa.flows.stk import StkPushBody, Upstream, initiation_answer, validate_request

app = new_resolver(record_noun="payment", id_name="transaction_id")


@app.post(
    "/v1/payments/stk-push",
    summary="Ask a customer to pay with an M-Pesa prompt (STK Push)",
    responses={
        202: {"description": "Prompt sent (or outcome pending); poll GET /v1/payments/{id} or listen for events"},
        409: {"description": "Same Idempotency-Key with another body, or a request with it still running"},
        422: {"description": "A field is invalid for the market"},
        503: {"description": "M-Pesa could not be reached; nothing was sent; retry with the same key"},
    },
)
def create_stk_push(
    body: Annotated[StkPushBody, Body()],
    idempotency_key: Annotated[str, Header(alias="idempotency-key", min_length=8, max_length=128)],
) -> Response[str]:
    request = validate_request(
        country=body.country.value,
        phone_number=body.phone_number,
        amount=body.amount,
        account_reference=body.account_reference,
        transaction_desc=body.transaction_desc,
        settings=runtime.settings(),
    )
    caller = principal(app.current_event.raw_event)
    started = time.perf_counter()
    result = runtime.stk_payments().initiate(
        request, request_key=f"{caller}\n{idempotency_key}", deadline=api_deadline(app, reserve_s=3)
    )
    # The guide's target is under 2 s; the dashboard shows p50/p95 and an alarm watches p95.
    metrics.add_metric(name="StkPushLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1e3)
    metrics.add_metric(name=f"StkPush_{result.upstream.value}", unit=MetricUnit.Count, value=1)
    if result.upstream is Upstream.NOT_SENT:  # the record says so: a retry with the same key sends it
        raise PushNotSentError(result.record.transaction_id)
    status, answer, headers = initiation_answer(result)
    return json_response(status, answer, headers)


class PushNotSentError(NotSentError):
    """Nothing reached M-Pesa (a 503); the record is replaceable, so a retry with the same key sends it."""

    def __init__(self, transaction_id: str) -> None:
        super().__init__("M-Pesa could not be reached; nothing was sent")
        self.transaction_id = transaction_id


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rejected = precheck_json(event)
    if rejected is not None:
        return rejected
    return app.resolve(event, context)
