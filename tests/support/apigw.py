"""API Gateway HTTP API (payload v2.0) events for calling handlers directly, and a tiny HTTP front.

The front serves the callback routes of template.yaml to their handler over real HTTP, so the Daraja
simulator can deliver callbacks to an in-process moto stack.
"""

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from local.serving import HttpServer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class Context:
    function_name: str = "test-fn"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-fn"
    aws_request_id: str = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    route = route or path
    if body is None:
        raw = None
    elif isinstance(body, str | bytes):
        raw = body.decode() if isinstance(body, bytes) else body
    else:
        raw = json.dumps(body)
    hdrs = {"content-type": "application/json"} if raw is not None else {}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    return {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": hdrs,
        "pathParameters": path_parameters(route, path),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "t"},
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "26/Nov/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": raw,
        "isBase64Encoded": False,
    }


def path_parameters(route: str, path: str) -> dict[str, str]:
    pattern = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route) + "$"
    match = re.match(pattern, path)
    return match.groupdict() if match else {}


def call(handler: Handler, event: dict[str, Any]) -> tuple[int, Any]:
    response = handler(event, Context())
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return int(response["statusCode"]), (json.loads(body) if body else None)


def call_route(
    handler: Handler, method: str, path: str, *, route: str | None = None, **options: Any
) -> tuple[int, Any]:
    """Call `handler` as API Gateway would for `path` on `route`; `query` (a dict) is the query string."""
    query = options.pop("query", None)
    event = http_event(method, path, route=route, **options)
    if query is not None:
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
        event["queryStringParameters"] = dict(query)
    return call(handler, event)


class CallbackFront:
    """Serves POST routes (template-style `{param}` paths) to handlers on 127.0.0.1."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self._routes = [(re.compile(_regex(r)), r, h) for r, h in routes.items()]
        self._server = HttpServer("127.0.0.1", 0, self._app, "callback-front", request_handler=WSGIRequestHandler)
        self.url = self._server.url

    def start(self) -> "CallbackFront":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        for regex, route, handler in self._routes:
            if regex.match(request.path):
                event = http_event(
                    request.method,
                    request.path,
                    route=route,
                    body=request.get_data(as_text=True),
                    headers=dict(request.headers),
                    source_ip=request.remote_addr or "",
                )
                result = handler(event, Context())
                response = Response(result.get("body") or "", status=int(result["statusCode"]))
                response.headers["Content-Type"] = "application/json"
                return response(environ, start_response)
        return Response("not found", status=404)(environ, start_response)


def _regex(route: str) -> str:
    return "^" + re.sub(r"\{(\w+)\}", r"[^/]+", route) + "$"
