"""Reading request bodies before any handler sees them: content type, size, and strict JSON."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

from aws_lambda_powertools.event_handler import content_types

MAX_BODY_BYTES = 16 * 1024


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def strict_json(text: str) -> Any:
    """JSON with exact decimals (never float) and no NaN/Infinity."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def precheck_json(event: Mapping[str, Any]) -> dict[str, Any] | None:
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
            return proxy_error(400, "invalid_body", "the body could not be decoded")
    if content_type != "application/json":
        return proxy_error(415, "unsupported_media_type", "Content-Type must be application/json")
    if len(body.encode()) > MAX_BODY_BYTES:
        return proxy_error(413, "payload_too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = strict_json(body)
    except ValueError:
        return proxy_error(400, "invalid_json", "the body is not valid JSON")
    if not isinstance(parsed, dict):
        return proxy_error(422, "invalid_request", "body: must be a JSON object")
    return None


def proxy_error(status: int, code: str, message: str) -> dict[str, Any]:
    """An API Gateway (payload v2) error response, for answers given before the resolver runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": code, "message": message}),
        "isBase64Encoded": False,
    }
