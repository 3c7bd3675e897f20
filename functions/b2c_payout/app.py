"""POST /v1/payouts: validate, guard-rails, record PENDING with our OriginatorConversationID, pay out
(B2C v3). The record is the idempotency record: a replay finds it by the caller and Idempotency-Key and
answers as the first request did (docs/decisions.md, "The record is the idempotency record")."""

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
from mpesa.flows.b2c import PayoutBody, Upstream, initiation_answer, validate_request

app = new_resolver(record_noun="payout", id_name="payout_id")


@app.post(
    "/v1/payouts",
    summary="Pay a customer (B2C): at most once per Idempotency-Key",
    responses={
        202: {"description": "Payout accepted (or outcome pending); GET /v1/payouts/{id} or listen for events"},
        403: {"description": "The recipient is not on the deployment's allowlist; nothing was sent"},
        409: {"description": "Same Idempotency-Key with another body, or a request with it still running"},
        422: {"description": "A field is invalid, or a guard-rail (maximum, daily budget) refused; nothing sent"},
        503: {"description": "M-Pesa could not be reached; nothing was sent; retry with the same key"},
    },
)
def create_payout(
    body: Annotated[PayoutBody, Body()],
    idempotency_key: Annotated[str, Header(alias="idempotency-key", min_length=8, max_length=128)],
) -> Response[str]:
    request = validate_request(
        country=body.country.value,
        phone_number=body.phone_number,
        amount=body.amount,
        command_id=body.command_id,
        remarks=body.remarks,
        occasion=body.occasion,
        settings=runtime.settings(),
    )
    caller = principal(app.current_event.raw_event)
    result = runtime.b2c_payouts().initiate(
        request, request_key=f"{caller}\n{idempotency_key}", deadline=api_deadline(app, reserve_s=3)
    )
    metrics.add_metric(name=f"Payout_{result.upstream.value}", unit=MetricUnit.Count, value=1)
    if result.upstream is Upstream.NOT_SENT:  # the record says so: a retry with the same key sends it
        raise PayoutNotSentError(result.record.transaction_id)
    status, answer, headers = initiation_answer(result)
    return json_response(status, answer, headers)


class PayoutNotSentError(NotSentError):
    """Nothing reached M-Pesa (a 503); the record is replaceable, so a retry with the same key sends it."""

    def __init__(self, payout_id: str) -> None:
        super().__init__("M-Pesa could not be reached; nothing was sent")
        self.transaction_id = payout_id


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rejected = precheck_json(event)
    if rejected is not None:
        return rejected
    return app.resolve(event, context)
