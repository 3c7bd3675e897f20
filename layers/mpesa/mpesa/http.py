"""HTTP edge helpers shared by the API handlers: strict JSON, error bodies, request limits."""

import base64
import json
from decimal import Decimal
from typing import Any, NoReturn

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from mpesa.daraja.transport import Deadline
from mpesa.errors import ConfigurationError, InputError

logger = Logger(child=True)

MAX_BODY_BYTES = 16 * 1024
_LOCATIONS = ("body", "header", "query", "path")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def strict_json(text: str) -> Any:
    """JSON with exact decimals (never float) and no NaN/Infinity."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


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


API_GATEWAY_BUDGET_S = 26.0  # API Gateway answers 504 at 30 s


def api_deadline(app: APIGatewayHttpResolver, reserve_s: float) -> Deadline:
    """Finish before API Gateway gives up and before the function's own timeout, keeping `reserve_s`
    to record the answer."""
    remaining = Deadline.from_remaining_ms(app.lambda_context.get_remaining_time_in_millis, reserve_s=reserve_s)
    return remaining.earliest(Deadline.within(API_GATEWAY_BUDGET_S))


def new_resolver() -> APIGatewayHttpResolver:
    """A resolver whose errors are clear JSON with the field at fault, and never a stack trace."""
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=strict_json)

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

    @app.exception_handler(ConfigurationError)
    def _configuration(exc: ConfigurationError) -> Response[str]:
        # The operator's problem, not the caller's: name no setting to the caller (the log has them).
        logger.error("configuration error", extra={"settings": sorted(exc.problems)})
        return error(503, "service_misconfigured", "the payment service is not configured; try again later")

    return app


def precheck_json(event: dict[str, Any]) -> dict[str, Any] | None:
    """Before any parsing: 415 for another content type, 413 for an oversized body, 400 for bad JSON.

    Returns an API Gateway (payload v2) response to send as is, or None when the body may be parsed.
    """
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode()
        except (ValueError, UnicodeDecodeError):
            return _proxy(400, "invalid_body", "the body could not be decoded")
    if content_type != "application/json":
        return _proxy(415, "unsupported_media_type", "Content-Type must be application/json")
    if len(body.encode()) > MAX_BODY_BYTES:
        return _proxy(413, "payload_too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = strict_json(body)
    except ValueError:
        return _proxy(400, "invalid_json", "the body is not valid JSON")
    if not isinstance(parsed, dict):
        return _proxy(422, "invalid_request", "body: must be a JSON object")
    return None


def _proxy(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": code, "message": message}),
        "isBase64Encoded": False,
    }
