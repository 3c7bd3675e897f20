"""GET /v1/payments/{transaction_id} and POST /v1/payments/{transaction_id}/query."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from mpesa import runtime
from mpesa.events import payment_detail
from mpesa.http import api_deadline, error, json_response, new_resolver
from mpesa.ledger import TransactionNotFoundError
from mpesa.stk import DarajaUnavailableError

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = new_resolver()

TransactionId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="as returned by POST /v1/payments/stk-push")]


@app.get("/v1/payments/<transaction_id>", summary="A payment's status, outcome and receipt")
def get_payment(transaction_id: TransactionId) -> Response[str]:
    logger.append_keys(transaction_id=transaction_id)
    try:
        txn = runtime.store().get(transaction_id)
    except TransactionNotFoundError:
        return error(404, "not_found", "no payment with this transaction_id")
    return json_response(200, payment_detail(txn))


@app.post(
    "/v1/payments/<transaction_id>/query",
    summary="Ask M-Pesa now (STK query) and apply a final answer",
)
def query_payment(transaction_id: TransactionId) -> Response[str]:
    logger.append_keys(transaction_id=transaction_id)
    payments = runtime.stk_payments()
    try:
        txn = runtime.store().get(transaction_id)
    except TransactionNotFoundError:
        return error(404, "not_found", "no payment with this transaction_id")
    try:
        result = payments.query_now(txn, deadline=api_deadline(app, reserve_s=2))
    except DarajaUnavailableError:
        return error(503, "upstream_unavailable", "M-Pesa could not be reached; try again shortly")
    body: dict[str, Any] = payment_detail(result.transaction)
    answer = result.answer
    body["query"] = (
        None
        if answer is None
        else {
            "result_code": answer.result_code,
            "result_desc": answer.result_desc,
            "pending": answer.is_pending,
        }
    )
    return json_response(200, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
