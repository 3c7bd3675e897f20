"""The Flask application: routes, Daraja-style errors, request logging and fault injection."""

from __future__ import annotations

import logging
import socket
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from simulator import clock
from simulator.errors import (
    INTERNAL_ERROR,
    INVALID_AUTH_HEADER,
    RESOURCE_NOT_FOUND,
    ControlError,
    DarajaError,
)
from simulator.faults import Fault
from simulator.openapi.routes import is_openapi_path, register_openapi
from simulator.openapi.routes import status_fault_response as openapi_status_fault_response
from simulator.phone import phone_blueprint
from simulator.responses import control_error_response, daraja_error_response, json_response, parsed_body
from simulator.routes_control import control_blueprint
from simulator.routes_customers import customers_blueprint
from simulator.routes_daraja import daraja_blueprint

if TYPE_CHECKING:
    from simulator.core import Simulator

log = logging.getLogger(__name__)

INCAPSULA_PAGE = (
    '<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW">'
    '<meta name="viewport" content="initial-scale=1.0"></head><body style="margin:0px;height:100%">'
    '<iframe id="main-iframe" src="/_Incapsula_Resource?CWUDNSAI=9&amp;incident_id=000000000000000000-'
    '000000000000000000" frameborder=0 width="100%" height="100%" marginheight="0px" marginwidth="0px">'
    "Request unsuccessful. Incapsula incident ID: 000000000000000000-000000000000000000"
    "</iframe></body></html>"
)
STATUS_FAULT_CODES = {
    500: ("500.003.1001", "Internal Server Error"),
    429: ("500.003.02", "Spike Arrest Violation"),
    502: ("502.001.01", "Bad Gateway"),
    503: ("503.001.01", "Service Unavailable"),
    504: ("504.001.01", "Gateway Timeout"),
}
CHANGING_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
MALFORMED_UNPROCESSED = "<html><body><h1>OK</h1><p>Request received</p></body></html>"


def is_daraja_path(path: str) -> bool:
    return not (path == "/phone" or path == "/simulator" or path.startswith("/simulator/"))


def status_fault_response(fault: Fault) -> Response:
    """``status`` fault: 503 is Incapsula's HTML page; other statuses a Daraja-looking error body."""
    spec = fault.spec
    if spec.body is not None:
        return Response(spec.body, status=spec.status, mimetype="text/plain")
    if spec.status == 503:
        return Response(INCAPSULA_PAGE, status=503, mimetype="text/html")
    default = (
        f"{spec.status}.000.00",
        HTTPStatus(spec.status).phrase if spec.status in HTTPStatus else "Error",
    )
    code, message = STATUS_FAULT_CODES.get(spec.status, default)
    return json_response(DarajaError(spec.status, code, message).body(), spec.status)


def fault_view(fault: Fault | None) -> dict[str, Any] | None:
    """The fault a request consumed, as the request log shows it (its body replacement left out)."""
    if fault is None:
        return None
    return {"id": fault.id, **fault.spec.model_dump(exclude={"path", "count", "body"})}


def malformed_body(fault: Fault, response: Response | None) -> str:
    """``malformed`` fault: the given body, else the real answer cut in half, else an HTML page."""
    if fault.spec.body is not None:
        return fault.spec.body
    if response is not None:
        text = response.get_data(as_text=True)
        return text[: max(1, len(text) // 2)]
    return MALFORMED_UNPROCESSED


def drop_connection() -> None:
    """Shut the client's socket: it sees the connection close with no HTTP response."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            log.debug("socket already closed")


def guard_control_request() -> Response | None:
    """The control API has no authentication, so keep browsers from driving it cross-site.

    A changing request (POST/PATCH/PUT/DELETE) with a body, or with any Content-Type, must be
    ``application/json`` (else 415): a plain HTML form or a ``text/plain`` fetch cannot send that
    without a CORS preflight, which this server never grants. A bodyless request (``POST /reset``
    from a test) needs no content type, but a browser marks every cross-origin POST with an
    ``Origin`` header, so one whose Origin is not this server's own is refused (403).
    """
    if request.method not in CHANGING_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
        return control_error_response(ControlError(403, "cross-origin requests to the control API are refused"))
    has_body = bool(request.get_data(cache=True))
    if (has_body or request.headers.get("Content-Type")) and request.mimetype != "application/json":
        return control_error_response(ControlError(415, "the control API only accepts Content-Type application/json"))
    return None


def create_app(sim: Simulator) -> Flask:
    app = Flask("simulator")
    app.register_blueprint(daraja_blueprint(sim))
    app.register_blueprint(control_blueprint(sim))
    app.register_blueprint(customers_blueprint(sim))
    app.register_blueprint(phone_blueprint())
    register_openapi(app, sim)

    @app.before_request
    def inject_fault_before() -> Response | None:
        if not is_daraja_path(request.path):
            return guard_control_request()
        fault = sim.faults.take(request.path)
        g.fault = fault
        if fault is None or fault.spec.after_processing:
            return None
        kind = fault.spec.kind
        if kind == "status" and is_openapi_path(request.path):
            return openapi_status_fault_response(fault)
        if kind == "status":
            return status_fault_response(fault)
        if kind == "malformed":
            return Response(malformed_body(fault, None), status=200, mimetype="application/json")
        if kind == "disconnect":
            request.get_data(cache=True)  # read the body while the socket is open: the request log needs it
            drop_connection()
            return Response(b"", status=200)
        return None

    @app.after_request
    def log_and_inject_fault_after(response: Response) -> Response:
        if not is_daraja_path(request.path):
            return response
        fault = g.get("fault")
        fault = fault if isinstance(fault, Fault) else None
        dropped = fault is not None and fault.spec.kind == "disconnect"
        sim.requests.record(
            request.method,
            request.path,
            clock.iso(clock.now_eat()),
            None if dropped else response.status_code,
            parsed_body(request),
            fault_view(fault),
        )
        if fault is None:
            return response
        kind = fault.spec.kind
        if kind == "slow":
            time.sleep(fault.spec.delay_s)
        elif kind == "malformed" and fault.spec.after_processing:
            response.set_data(malformed_body(fault, response))
            response.status_code = 200
        elif kind == "disconnect" and fault.spec.after_processing:
            drop_connection()
        return response

    @app.errorhandler(DarajaError)
    def daraja_error(error: DarajaError) -> Response:
        return daraja_error_response(error)

    @app.errorhandler(ControlError)
    def control_error(error: ControlError) -> Response:
        return control_error_response(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if not is_daraja_path(request.path):
            return control_error_response(ControlError(status, error.description or error.name))
        if status == 405:
            return daraja_error_response(DarajaError(405, INVALID_AUTH_HEADER, "Invalid Authentication Header"))
        if status == 404:
            return daraja_error_response(DarajaError(404, RESOURCE_NOT_FOUND, "Resource not found"))
        return daraja_error_response(DarajaError(status, f"{status}.000.00", error.name))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not is_daraja_path(request.path):
            return control_error_response(ControlError(500, f"internal error: {type(error).__name__}"))
        return daraja_error_response(DarajaError(500, INTERNAL_ERROR, "Internal Server Error"))

    return app
