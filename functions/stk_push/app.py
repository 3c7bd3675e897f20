"""POST /v1/payments/stk-push: validate, record PENDING, push the prompt, start the timeout flow."""

import os
from dataclasses import asdict
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from mpesa import runtime
from mpesa.http import api_deadline, error, json_response, new_resolver, precheck_json
from mpesa.markets import Country
from mpesa.money import parse_amount
from mpesa.stk import IdempotencyConflictError, Initiation, StkPaymentRequest, Upstream, validate_request

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = new_resolver()

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
persistence = DynamoDBPersistenceLayer(table_name=os.environ.get("IDEMPOTENCY_TABLE_NAME", "idempotency"))
idempotency = IdempotencyConfig(
    event_key_jmespath="idempotency_key",
    payload_validation_jmespath="payload",
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
)


class StkPushBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number: StrictStr = Field(min_length=1, max_length=32, examples=["0712345678"])
    amount: StrictStr | int = Field(description='whole units, e.g. 1000 or "1000.00"', examples=["10"])
    account_reference: StrictStr = Field(min_length=1, max_length=12, examples=["ORDER1"])
    transaction_desc: StrictStr = Field(min_length=1, max_length=13, examples=["Payment"])
    country: Country = Country.KE

    @field_validator("amount", mode="before")
    @classmethod
    def _whole_amount(cls, value: Any) -> Any:
        parse_amount(value)  # raises InputError (a ValueError) naming the problem; never rounds
        return value


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
    settings = runtime.settings()
    request = validate_request(
        country=body.country.value,
        phone_number=body.phone_number,
        amount=body.amount,
        account_reference=body.account_reference,
        transaction_desc=body.transaction_desc,
        settings=settings,
    )
    caller = _caller(app.current_event.raw_event)
    try:
        stored = initiate(request={"idempotency_key": f"{caller}\n{idempotency_key}", "payload": asdict(request)})
    except (IdempotencyValidationError, IdempotencyConflictError):
        return error(409, "idempotency_key_reused", "this Idempotency-Key was used with a different body")
    except IdempotencyAlreadyInProgressError:
        return error(409, "request_in_progress", "a request with this Idempotency-Key is still being processed")
    except NotSentError as exc:
        return error(503, "upstream_unavailable", exc.message, transaction_id=exc.transaction_id)
    return json_response(int(stored["status_code"]), stored["body"])


class NotSentError(Exception):
    """Nothing reached M-Pesa: raised so the idempotency record is dropped and a retry may try again."""

    def __init__(self, transaction_id: str, message: str) -> None:
        super().__init__(message)
        self.transaction_id = transaction_id
        self.message = message


def _caller(event: dict[str, Any]) -> str:
    """Idempotency keys are the caller's own: two IAM principals may pick the same key."""
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    return str(iam.get("userArn") or iam.get("accountId") or "anonymous")


@idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=idempotency)
def initiate(request: dict[str, Any]) -> dict[str, Any]:
    result = runtime.stk_payments().initiate(
        StkPaymentRequest(**request["payload"]),
        request_key=request["idempotency_key"],
        deadline=api_deadline(app, reserve_s=3),
    )
    metrics.add_metric(name=f"StkPush_{result.upstream.value}", unit=MetricUnit.Count, value=1)
    if result.upstream is Upstream.NOT_SENT:
        raise NotSentError(result.transaction.transaction_id, "M-Pesa could not be reached; nothing was sent")
    return _response(result)


def _response(result: Initiation) -> dict[str, Any]:
    txn = result.transaction
    body: dict[str, Any] = {
        "transaction_id": txn.transaction_id,
        "checkout_request_id": txn.checkout_request_id,
        "status": txn.status.value,
    }
    if result.upstream is Upstream.ACCEPTED:
        return {"status_code": 202, "body": body}
    if result.upstream is Upstream.UNKNOWN:
        body["detail"] = (
            "M-Pesa did not answer in time. The request was not re-sent; its outcome will arrive by "
            "callback or reconciliation. Do not retry with a new Idempotency-Key."
        )
        return {"status_code": 202, "body": body}
    # Rejected by Daraja: the caller's mistake (4xx) or Daraja's trouble (502). Read from the record,
    # so a replay answers exactly as the first request did.
    code, message = txn.result_code or "", txn.result_desc or ""
    body.update({"error": "rejected_by_mpesa", "mpesa_error_code": code, "message": message})
    status = 502
    if code.startswith("400.002"):
        status = 422
    elif code == "500.001.1001" and "lock" in message.lower():
        status, body["error"] = 409, "customer_busy"
    elif code in {"500.003.02", "500.003.03"}:
        status, body["error"] = 429, "mpesa_rate_limited"
    return {"status_code": status, "body": body}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    rejected = precheck_json(event)
    if rejected is not None:
        return rejected
    return app.resolve(event, context)
