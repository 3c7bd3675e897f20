"""GET /v1/payouts (a Nairobi day's payouts, newest first) and GET /v1/payouts/{payout_id}: a payout's
status, outcome, receipt and what its Result reported."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from mpesa import runtime
from mpesa.clock import now_utc
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.listing import DayParam, LimitParam, NextParam, StatusParam, query_params
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, logger
from mpesa.errors import NotFoundError
from mpesa.flows.b2c import B2cEvents, payout_view
from mpesa.records import Kind
from mpesa.records.listing import DEFAULT_LIMIT, list_day

app = new_resolver(record_noun="payout", id_name="payout_id")

PayoutId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="as returned by POST /v1/payouts")]


# The parameters are declared for the OpenAPI document; list_day reads the raw query strictly.
@app.get("/v1/payouts", summary="A Nairobi day's payouts, newest first, a page at a time")
def list_payouts(
    day: DayParam = None,
    status: StatusParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: NextParam = None,
) -> Response[str]:
    page = list_day(runtime.store(), Kind.B2C, query_params(app), now_utc(), payout_view, B2cEvents())
    return json_response(200, page)


@app.get("/v1/payouts/<payout_id>", summary="A payout's status, outcome, receipt and reported balances")
def get_payout(payout_id: PayoutId) -> Response[str]:
    logger.append_keys(payout_id=payout_id)
    record = runtime.store().get(payout_id)
    if record.kind is not Kind.B2C:
        raise NotFoundError(payout_id)  # a payment's id is not a payout's
    return json_response(200, payout_view(record))


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
