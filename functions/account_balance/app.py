"""POST /v1/balance (ask M-Pesa for the shortcode's balances; the Result arrives by webhook) and
GET /v1/balance (the latest balances per shortcode, with their age)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from mpesa import runtime
from mpesa.clock import now_utc
from mpesa.edge.body import precheck_json
from mpesa.edge.http import api_deadline, json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry

app = new_resolver()


class BalanceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    short_code: StrictStr | None = Field(None, pattern=r"^[0-9]{5,7}$", description="default: the B2C shortcode")


@app.post("/v1/balance", summary="Ask M-Pesa for a shortcode's account balances (answered by webhook)")
def request_balance(body: Annotated[BalanceBody | None, Body()] = None) -> Response[str]:
    short_code = body.short_code if body is not None else None
    request = runtime.account_balances().request(short_code, deadline=api_deadline(app, reserve_s=2))
    return json_response(
        202,
        {
            "request_id": request.request_id,
            "short_code": request.short_code,
            "conversation_id": request.conversation_id,
        },
    )


@app.get("/v1/balance", summary="The latest balances per shortcode, with their age in seconds")
def latest_balances() -> Response[str]:
    return json_response(200, {"balances": runtime.account_balances().latest(now_utc())})


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("requestContext", {}).get("http", {}).get("method") == "POST" and event.get("body"):
        rejected = precheck_json(event)
        if rejected is not None:
            return rejected
    return app.resolve(event, context)
