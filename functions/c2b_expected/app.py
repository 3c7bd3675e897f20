"""POST /v1/c2b/expected and GET /v1/c2b/expected/{reference} (IAM): expected payments (invoices).

An expected payment is registered once per account reference: the same body again answers 200 with
the stored one, other terms answer 409. GET shows its status (open, partial, paid, over, expired) and
the payments that settled it.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from mpesa import runtime
from mpesa.edge.body import precheck_json
from mpesa.edge.caller import principal
from mpesa.edge.http import error, json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, logger
from mpesa.flows.c2b import ExpectedPaymentBody, ExpectedPaymentExistsError, expected_payment_view

app = new_resolver(record_noun="expected payment", id_name="reference")

Reference = Annotated[str, Path(min_length=1, max_length=60, description="the account reference, URL-encoded")]


@app.post(
    "/v1/c2b/expected",
    summary="Expect a C2B payment: an account reference, an amount or range, an expiry",
    responses={
        200: {"description": "Already registered with this very body"},
        201: {"description": "Registered"},
        409: {"description": "The reference is registered with other terms"},
        422: {"description": "A field is invalid"},
    },
)
def create_expected(body: Annotated[ExpectedPaymentBody, Body()]) -> Response[str]:
    caller = principal(app.current_event.raw_event)
    try:
        created, expected = runtime.c2b_payments().expected.create(body, created_by=caller)
    except ExpectedPaymentExistsError as exists:
        return error(
            409,
            "reference_taken",
            "an expected payment with this reference exists with other terms",
            expected_payment=expected_payment_view(exists.existing),
        )
    logger.info("expected payment registered", extra={"reference": expected.reference, "new": created})
    return json_response(201 if created else 200, expected_payment_view(expected))


@app.get("/v1/c2b/expected/<reference>", summary="An expected payment, its status and its payments")
def get_expected(reference: Reference) -> Response[str]:
    return json_response(200, expected_payment_view(runtime.c2b_payments().expected.get(reference)))


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("requestContext", {}).get("http", {}).get("method") == "POST":
        rejected = precheck_json(event)
        if rejected is not None:
            return rejected
    return app.resolve(event, context)
