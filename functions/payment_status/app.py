"""GET /v1/payments (a Nairobi day's STK payments, newest first), GET /v1/payments/{transaction_id} and
POST /v1/payments/{transaction_id}/query."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from mpesa import runtime
from mpesa.clock import now_utc
from mpesa.edge.http import api_deadline, json_response, new_resolver
from mpesa.edge.listing import DayParam, LimitParam, NextParam, StatusParam, query_params
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry, logger
from mpesa.flows.stk import StkEvents, payment_view
from mpesa.records import Kind
from mpesa.records.listing import DEFAULT_LIMIT, list_day

app = new_resolver(record_noun="payment", id_name="transaction_id")

TransactionId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="as returned by POST /v1/payments/stk-push")]


# The parameters are declared for the OpenAPI document; list_day reads the raw query strictly.
@app.get("/v1/payments", summary="A Nairobi day's STK payments, newest first, a page at a time")
def list_payments(
    day: DayParam = None,
    status: StatusParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: NextParam = None,
) -> Response[str]:
    page = list_day(runtime.store(), Kind.STK, query_params(app), now_utc(), payment_view, StkEvents())
    return json_response(200, page)


@app.get("/v1/payments/<transaction_id>", summary="A payment's status, outcome and receipt")
def get_payment(transaction_id: TransactionId) -> Response[str]:
    logger.append_keys(transaction_id=transaction_id)
    return json_response(200, payment_view(runtime.store().get(transaction_id)))


@app.post(
    "/v1/payments/<transaction_id>/query",
    summary="Ask M-Pesa now (STK query, or the OpenAPI's status query) and apply a final answer",
)
def query_payment(transaction_id: TransactionId) -> Response[str]:
    logger.append_keys(transaction_id=transaction_id)
    record = runtime.store().get(transaction_id)
    result = runtime.stk_payments().query_now(record, deadline=api_deadline(app, reserve_s=2))
    body: dict[str, Any] = payment_view(result.record)
    answer = result.answer
    body["query"] = (
        None
        if answer is None
        else {"result_code": answer.result_code, "result_desc": answer.result_desc, "pending": answer.pending}
    )
    return json_response(200, body)


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
