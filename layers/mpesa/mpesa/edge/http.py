"""The HTTP edge shared by every API handler: one resolver whose errors become statuses in one place.

Handlers raise domain errors (mpesa.errors); the exception handlers here turn each into a clear JSON
answer with the field or reason at fault, never a stack trace:

| error                                   | status | code                      |
|-----------------------------------------|--------|---------------------------|
| request validation, InputError          | 422    | invalid_request           |
| a body that is not bounded JSON         | 400    | invalid_json              |
| LimitExceededError (a payout guard-rail) | 422    | its code (budget_exceeded) |
| NotPermittedError (recipient allowlist)  | 403    | its code                  |
| an unreadable callback                  | 400    | invalid_callback          |
| a callback that fails authentication    | 403    | forbidden                 |
| a body over the route's limit           | 413    | payload_too_large         |
| unauthenticated callbacks over budget   | 429    | too_many_requests         |
| NotFoundError                           | 404    | not_found                 |
| ConflictError, reused Idempotency-Key   | 409    | idempotency_key_reused    |
| the same key still being processed      | 409    | request_in_progress       |
| NotSentError, UnavailableError          | 503    | upstream_unavailable      |
| ConfigurationError                      | 503    | service_misconfigured     |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit

from mpesa.clock import Deadline
from mpesa.edge.body import json_body
from mpesa.edge.callbacks import source_ip
from mpesa.edge.observability import logger, metrics
from mpesa.errors import (
    CallbackPayloadError,
    CallbackRefusedError,
    ConfigurationError,
    ConflictError,
    InputError,
    LimitExceededError,
    NotFoundError,
    NotPermittedError,
    NotSentError,
    PayloadTooLargeError,
    RequestInProgressError,
    TooManyCallbacksError,
    UnavailableError,
)
from mpesa.safe_json import JsonBodyError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mpesa.edge.webhook_docs import WebhookDoc

Route = Callable[..., Any]

_LOCATIONS = ("body", "header", "query", "path")
API_GATEWAY_BUDGET_S = 26.0  # API Gateway answers 504 at 30 s
UPSTREAM_DOWN = "M-Pesa could not be reached; try again shortly"
IN_PROGRESS_RETRY_S = 5


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":"), default=str),
        headers=headers or {},
    )


def error(status: int, code: str, message: str, **extra: Any) -> Response[str]:
    return json_response(status, {"error": code, "message": message, **extra})


def invalid(field: str, message: str) -> Response[str]:
    return json_response(
        422,
        {
            "error": "invalid_request",
            "message": f"{field}: {message}",
            "fields": [{"field": field, "message": message}],
        },
    )


def api_deadline(app: APIGatewayHttpResolver, reserve_s: float) -> Deadline:
    """Finish before API Gateway gives up and before the function's own timeout, keeping `reserve_s`
    to record the answer."""
    remaining = Deadline.from_remaining_ms(app.lambda_context.get_remaining_time_in_millis, reserve_s=reserve_s)
    return remaining.earliest(Deadline.within(API_GATEWAY_BUDGET_S))


class MpesaResolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver, plus webhook routes: hidden from its validation (our bounded
    parser reads their bodies) but documented in its OpenAPI (mpesa.edge.webhook_docs)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._webhooks: list[WebhookDoc] = []

    def webhook(self, rule: str, *, body: type[BaseModel] | None, summary: str) -> Callable[[Route], Route]:
        from mpesa.edge.webhook_docs import WebhookDoc  # only webhook functions document any

        self._webhooks.append(WebhookDoc(rule, body, summary))
        return self.post(rule, include_in_schema=False)

    def get_openapi_json_schema(self, **options: Any) -> str:
        document = json.loads(super().get_openapi_json_schema(**options))
        for webhook in self._webhooks:
            webhook.add_to(document)
        return json.dumps(document)


def new_resolver(*, record_noun: str = "record", id_name: str = "id", webhooks_only: bool = False) -> MpesaResolver:
    """A resolver whose errors are clear JSON with the field at fault, and never a stack trace.

    `record_noun`/`id_name` word the 404 ("no payment with this transaction_id"). `webhooks_only`: every
    route is a webhook (`app.webhook`), whose body our bounded parser reads and whose path parameters are
    plain strings, so the resolver loads no request validation (Powertools' OpenAPI validation middleware
    and the pydantic machinery behind it)."""
    app = MpesaResolver(enable_validation=not webhooks_only, json_body_deserializer=json_body)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[str]:
        fields = []
        for problem in exc.errors():
            location = [str(part) for part in problem.get("loc", ()) if part not in _LOCATIONS]
            fields.append({"field": ".".join(location) or "body", "message": str(problem.get("msg", "invalid"))})
        first = fields[0] if fields else {"field": "body", "message": "invalid"}
        return json_response(
            422,
            {
                "error": "invalid_request",
                "message": f"{first['field']}: {first['message']}",
                "fields": fields,
            },
        )

    @app.exception_handler(InputError)
    def _input(exc: InputError) -> Response[str]:
        return invalid(exc.field, exc.message)

    @app.exception_handler(JsonBodyError)
    def _bad_json(exc: JsonBodyError) -> Response[str]:
        return error(400, "invalid_json", f"the body {exc.message}")

    @app.exception_handler(LimitExceededError)
    def _limit(exc: LimitExceededError) -> Response[str]:
        fields = [{"field": exc.field, "message": exc.message}]
        return json_response(422, {"error": exc.code, "message": f"{exc.field}: {exc.message}", "fields": fields})

    @app.exception_handler(NotPermittedError)
    def _not_permitted(exc: NotPermittedError) -> Response[str]:
        fields = [{"field": exc.field, "message": exc.message}]
        return json_response(403, {"error": exc.code, "message": f"{exc.field}: {exc.message}", "fields": fields})

    @app.exception_handler(CallbackPayloadError)
    def _bad_callback(exc: CallbackPayloadError) -> Response[str]:
        logger.warning("callback refused: invalid payload", extra={"field": exc.field, "problem": exc.message})
        return error(400, "invalid_callback", f"{exc.field}: {exc.message}")

    @app.exception_handler(CallbackRefusedError)
    def _forbidden(exc: CallbackRefusedError) -> Response[str]:
        logger.warning(
            "callback refused", extra={"reason": exc.reason, "source_ip": source_ip(app.current_event.raw_event)}
        )
        metrics.add_metric(name="CallbackRefused", unit=MetricUnit.Count, value=1)
        return error(403, "forbidden", "forbidden")

    @app.exception_handler(TooManyCallbacksError)
    def _too_many(exc: TooManyCallbacksError) -> Response[str]:
        logger.warning("callback refused: rate limited", extra={"source_ip": source_ip(app.current_event.raw_event)})
        return error(429, "too_many_requests", str(exc))

    @app.exception_handler(PayloadTooLargeError)
    def _too_large(exc: PayloadTooLargeError) -> Response[str]:
        return error(413, "payload_too_large", str(exc))

    @app.exception_handler(NotFoundError)
    def _not_found(exc: NotFoundError) -> Response[str]:
        return error(404, "not_found", f"no {record_noun} with this {id_name}")

    @app.exception_handler(RequestInProgressError)
    def _in_progress(exc: RequestInProgressError) -> Response[str]:
        return error(409, "request_in_progress", str(exc), retryable=True, retry_after_s=IN_PROGRESS_RETRY_S)

    @app.exception_handler(ConflictError)
    def _conflict(exc: Exception) -> Response[str]:
        return error(409, "idempotency_key_reused", "this Idempotency-Key was used with a different body")

    @app.exception_handler(NotSentError)
    def _not_sent(exc: NotSentError) -> Response[str]:
        extra = {"transaction_id": exc.transaction_id} if exc.transaction_id else {}
        return error(503, "upstream_unavailable", "M-Pesa could not be reached; nothing was sent", **extra)

    @app.exception_handler(UnavailableError)
    def _unavailable(exc: UnavailableError) -> Response[str]:
        return error(503, "upstream_unavailable", UPSTREAM_DOWN)

    @app.exception_handler(ConfigurationError)
    def _configuration(exc: ConfigurationError) -> Response[str]:
        # The operator's problem, not the caller's: name no setting to the caller (the log has them).
        logger.error("configuration error", extra={"settings": sorted(exc.problems)})
        return error(503, "service_misconfigured", "the payment service is not configured; try again later")

    return app
