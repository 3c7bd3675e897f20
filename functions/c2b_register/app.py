"""POST /v1/c2b/register (IAM): register a shortcode's C2B validation and confirmation URLs with Daraja.

The URLs carry the shortcode's path secret; the ResponseType (what Daraja does when validation does not
answer) and the API version (v1/v2) are configured. Repeating the call is safe: 200 `registered` or
`already_registered` (production keeps the first registration), 409 `conflict` when Daraja holds other
URLs for the shortcode (only Safaricom can delete them: docs/operations.md).
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from mpesa import runtime
from mpesa.daraja.errors import DarajaApiError
from mpesa.edge.body import precheck_json
from mpesa.edge.http import api_deadline, error, json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, logger, metrics
from mpesa.flows.c2b import Registered

app = new_resolver()


class RegisterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    short_code: str | None = Field(
        None, pattern=r"^[0-9]{5,7}$", description="one of C2B_SHORT_CODES; the first by default"
    )


@app.post(
    "/v1/c2b/register",
    summary="Register the C2B validation and confirmation URLs with Daraja",
    responses={
        200: {"description": "Registered, or already registered with these very URLs"},
        409: {"description": "Daraja holds other URLs for this shortcode; Safaricom must delete them"},
        502: {"description": "Daraja refused the registration (its error code is in the answer)"},
        503: {"description": "Daraja could not be reached, or the callback URL settings are unusable"},
    },
)
def register(body: Annotated[RegisterBody, Body()]) -> Response[str]:
    registration = runtime.c2b_payments().registration
    try:
        result = registration.register(body.short_code, deadline=api_deadline(app, reserve_s=2))
    except DarajaApiError as exc:
        logger.warning("Daraja refused the C2B registration", extra={"error_code": exc.error_code})
        metrics.add_metric(name="C2BRegister_rejected", unit=MetricUnit.Count, value=1)
        return error(502, "rejected_by_mpesa", exc.error_message, mpesa_error_code=exc.error_code)
    metrics.add_metric(name=f"C2BRegister_{result.outcome.value}", unit=MetricUnit.Count, value=1)
    return json_response(409 if result.outcome is Registered.CONFLICT else 200, result.view())


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rejected = precheck_json(event)
    if rejected is not None:
        return rejected
    return app.resolve(event, context)
