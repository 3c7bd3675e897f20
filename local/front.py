"""The local HTTP front: every HttpApi route of the template, served to its handler as a payload-v2 event.

Routes come from the template only (`StackModel.routes()`); matching follows API Gateway HTTP APIs:
the most specific route wins (literal segments over `{param}`, `{param}` over `{proxy+}`, a method
over `ANY`), `$default` catches the rest, and no match is `404 {"message":"Not Found"}`. A handler
that raises, or returns something API Gateway could not map, gives `502 {"message":"Internal Server
Error"}` to the client and the traceback on this console only.

Besides the template's routes the front serves `/openapi.json` (the merged OpenAPI documents of the
handlers that use a Powertools resolver named `app`), Swagger UI at `/docs` (Powertools' bundled
assets, no CDN), and `/_local/...` (health, routes, schedules).
"""

from __future__ import annotations

import base64
import json
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from local.template import Route
from local.workers import FunctionError, HandlerUnavailable

RESERVED_PREFIXES = ("/_local/", "/docs", "/openapi.json")
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|x-www-form-urlencoded|javascript|.*\+json|.*\+xml))", re.IGNORECASE
)


@dataclass
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str] | None  # None for $default
    params: list[str]
    literal_segments: int
    greedy: bool

    @classmethod
    def compile(cls, route: Route) -> CompiledRoute:
        if route.path == "$default":
            return cls(route, None, [], -1, True)
        params: list[str] = []
        regex = ""
        literal = 0
        greedy = False
        for segment in route.path.strip("/").split("/") if route.path != "/" else []:
            if match := re.fullmatch(r"\{([A-Za-z0-9_.-]+)\+\}", segment):
                params.append(match.group(1))
                regex += f"/(?P<p{len(params) - 1}>.+)"
                greedy = True
            elif match := re.fullmatch(r"\{([A-Za-z0-9_.-]+)\}", segment):
                params.append(match.group(1))
                regex += f"/(?P<p{len(params) - 1}>[^/]+)"
            else:
                regex += "/" + re.escape(segment)
                literal += 1
        return cls(route, re.compile(f"^{regex or '/'}/?$"), params, literal, greedy)

    def sort_key(self) -> tuple[int, int, int, int]:
        return (
            1 if self.pattern is None else 0,
            1 if self.greedy else 0,
            -self.literal_segments,
            1 if self.route.method == "ANY" else 0,
        )

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.route.method not in {"ANY", method}:
            return None
        if self.pattern is None:
            return {}
        found = self.pattern.match(path)
        if found is None:
            return None
        return {name: found.group(f"p{index}") for index, name in enumerate(self.params)}


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = sorted((CompiledRoute.compile(route) for route in routes), key=CompiledRoute.sort_key)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self.routes:
            params = compiled.match(method, path)
            if params is not None:
                return compiled.route, params
        return None


def build_event(request: Request, route: Route, path_params: dict[str, str], api_host: str) -> dict[str, Any]:
    """An API Gateway HTTP API payload-v2 event for `request` (sourceIp = the real peer address)."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    raw_query = request.query_string.decode("latin-1")
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": api_host,
        "domainPrefix": api_host.split(".")[0].split(":")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": request.remote_addr or "",
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if route.authorizer == "AWS_IAM":
        # Locally nothing is signed: the caller is a fixed local identity (see docs/local-stack.md).
        context["authorizer"] = {
            "iam": {
                "accessKey": "LOCALACCESSKEY",
                "accountId": "123456789012",
                "callerId": "LOCALCALLER",
                "principalOrgId": None,
                "userArn": "arn:aws:iam::123456789012:user/local",
                "userId": "LOCALCALLER",
                "cognitoIdentity": None,
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    cookies = request.headers.getlist("Cookie")
    if cookies:
        event["cookies"] = [part.strip() for cookie in cookies for part in cookie.split(";") if part.strip()]
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    body = request.get_data(cache=False)
    if body:
        content_type = request.headers.get("Content-Type", "")
        text = _as_text(body) if (not content_type or _TEXT_TYPES.match(content_type)) else None
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class BadLambdaResponse(Exception):
    pass


def to_response(result: Any) -> Response:
    """Map a handler's return value as API Gateway does for payload v2."""
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            raise BadLambdaResponse("body must be a string")
        raw = base64.b64decode(body) if (body and result.get("isBase64Encoded")) else (body or "").encode()
        response = Response(raw, status=status)
        response.headers.clear()
        for name, value in (result.get("headers") or {}).items():
            response.headers[str(name)] = str(value)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(str(name), str(value))
        for cookie in result.get("cookies") or []:
            response.headers.add("Set-Cookie", str(cookie))
        return response
    # No statusCode: 200 with the value as JSON (the HTTP API v2 rule).
    return Response(json.dumps(result), status=200, content_type="application/json")


def api_error(status: HTTPStatus, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=int(status), content_type="application/json")


def merge_openapi(documents: Iterable[dict[str, Any]], server_url: str, title: str) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "local"},
        "servers": [{"url": server_url}],
        "paths": {},
        "components": {},
    }
    for document in documents:
        merged["openapi"] = document.get("openapi", merged["openapi"])
        for path, operations in (document.get("paths") or {}).items():
            merged["paths"].setdefault(path, {}).update(operations)
        for section, entries in (document.get("components") or {}).items():
            merged["components"].setdefault(section, {}).update(entries)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    return merged


SWAGGER_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}: Swagger UI (local)</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui">Loading...</div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"}});
</script></body></html>
"""


def _swagger_asset(name: str) -> bytes:
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as swagger_ui

    return (Path(swagger_ui.__file__).parent / name).read_bytes()


REDACTED_PREFIXES = ("/v1/hooks/",)  # callback routes end in a signature, a credential


def loggable_path(request: Request) -> str:
    """The path and query for the console, with a callback route's last segment (its signature) redacted."""
    path, separator, query = request.full_path.rstrip("?").partition("?")
    if path.startswith(REDACTED_PREFIXES):
        head, _, last = path.rpartition("/")
        if last:
            path = f"{head}/***"
    return path + separator + query


class Front:
    """The WSGI application; `invoke(logical_id, event)` runs a handler (local.lambdas)."""

    def __init__(
        self,
        routes: list[Route],
        invoke: Callable[[str, dict[str, Any]], Any],
        *,
        openapi: Callable[[], list[dict[str, Any]]] = list,
        local_routes: dict[str, Callable[[Request], Response]] | None = None,
        title: str = "Local API",
        log: Callable[[str], None] = print,
    ) -> None:
        self.router = Router(routes)
        self._invoke = invoke
        self._openapi = openapi
        self._local_routes = local_routes or {}
        self.title = title
        self._log = log

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.monotonic()
        response = self.dispatch(request)
        if not request.path.startswith(("/docs", "/_local/health")):
            elapsed = (time.monotonic() - started) * 1000
            self._log(f"api    {request.method} {loggable_path(request)} -> {response.status_code} ({elapsed:.0f} ms)")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/openapi.json" and request.method == "GET":
            document = merge_openapi(self._openapi(), request.host_url.rstrip("/"), self.title)
            return Response(json.dumps(document), content_type="application/json")
        if path in {"/docs", "/docs/"} and request.method == "GET":
            return Response(SWAGGER_HTML.format(title=self.title), content_type="text/html; charset=utf-8")
        if path == "/docs/swagger-ui.css":
            return Response(_swagger_asset("swagger-ui.min.css"), content_type="text/css")
        if path == "/docs/swagger-ui-bundle.js":
            return Response(_swagger_asset("swagger-ui-bundle.min.js"), content_type="application/javascript")
        for prefix, handler in self._local_routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return handler(request)
        matched = self.router.match(request.method, path)
        if matched is None:
            return api_error(HTTPStatus.NOT_FOUND, "Not Found")
        route, params = matched
        event = build_event(request, route, params, request.host)
        try:
            result = self._invoke(route.function, event)
            return to_response(result)
        except (FunctionError, HandlerUnavailable) as exc:  # the worker printed the traceback
            self._log(f"[{route.function}] {route.route_key} failed; the client gets 502: {exc}")
        except Exception:  # noqa: BLE001 (any handler error is a 502, as on API Gateway)
            self._log(f"[{route.function}] {route.route_key} failed; the client gets 502:\n{traceback.format_exc()}")
        return api_error(HTTPStatus.BAD_GATEWAY, "Internal Server Error")
