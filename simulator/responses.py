"""HTTP helpers shared by the route modules: JSON in (Decimal-safe) and JSON out (Decimal-exact)."""

from __future__ import annotations

from typing import Any

from flask import Request, Response

from simulator import jsonenc
from simulator.errors import ControlError, DarajaError, bad_payload


def json_response(data: Any, status: int = 200) -> Response:
    return Response(jsonenc.dumps(data), status=status, mimetype="application/json")


def daraja_error_response(error: DarajaError) -> Response:
    return json_response(error.body(), error.status)


def control_error_response(error: ControlError) -> Response:
    return json_response({"error": error.message}, error.status)


def parsed_body(request: Request) -> Any:
    """The JSON body or None (for the request log: never raises)."""
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return jsonenc.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def daraja_body(request: Request) -> dict[str, Any]:
    """A Daraja request body: JSON content type and a JSON object, else ``400.002.05``."""
    if request.mimetype != "application/json":
        raise bad_payload()
    try:
        body = jsonenc.loads(request.get_data(cache=True))
    except ValueError:
        raise bad_payload() from None
    if not isinstance(body, dict):
        raise bad_payload()
    return body


def control_body(request: Request) -> dict[str, Any]:
    """A control API body: a JSON object (an empty body counts as ``{}``)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = jsonenc.loads(raw)
    except ValueError:
        raise ControlError(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body
