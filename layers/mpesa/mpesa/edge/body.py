"""Request bodies, read one way on every route: content type, byte cap, strict UTF-8, bounded JSON.

Every refusal is a 4xx with a clear message and nothing written: 415 (not JSON), 413 (over the cap),
400 (not UTF-8, not JSON, too deep, a number too long), 422 (JSON, but not an object).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import content_types

from mpesa import safe_json
from mpesa.errors import InputError, PayloadTooLargeError

MAX_BODY_BYTES = 16 * 1024  # merchant API requests
MAX_CALLBACK_BYTES = 64 * 1024  # what M-Pesa posts to the webhooks


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The body's bytes as API Gateway delivered them (payload v2: text, or base64 for binary)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            raise safe_json.JsonBodyError("could not be decoded from base64") from None
    return str(body).encode("utf-8", "surrogatepass")


def json_body(text: str) -> Any:
    """The resolver's deserializer: the same bounds as `precheck_json`."""
    return safe_json.parse(text, max_bytes=MAX_BODY_BYTES)


def precheck_json(event: Mapping[str, Any], max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any] | None:
    """Before any handler logic: the body must be a JSON object within the bounds.

    Returns an API Gateway (payload v2) response to send as is, or None when the body may be parsed.
    """
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return proxy_error(415, "unsupported_media_type", "Content-Type must be application/json")
    try:
        parsed = safe_json.parse(raw_body(event), max_bytes=max_bytes)
    except PayloadTooLargeError as exc:
        return proxy_error(413, "payload_too_large", str(exc))
    except InputError as exc:
        return proxy_error(400, "invalid_json", f"the body {exc.message}")
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


def callback_text(event: Mapping[str, Any], max_bytes: int = MAX_CALLBACK_BYTES) -> str:
    """A webhook's body as text: at most `max_bytes` (else 413) of strict UTF-8 (else 400)."""
    return safe_json.decode(raw_body(event), max_bytes=max_bytes)
