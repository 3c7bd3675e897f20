"""The OpenAPI's public paths: ``/{sandbox|openapi}/ipg/v2/{market}/<operation>/`` (trailing slash
required, as in the real API: the same path without it is 404).

| Operation | Method | Path suffix |
|---|---|---|
| session | GET | ``getSession/`` |
| C2B single stage | POST | ``c2bPayment/singleStage/`` |
| B2C | POST | ``b2cPayment/`` |
| status query | GET (query string) | ``queryTransactionStatus/`` |
| reversal | PUT | ``reversal/`` |

Checks, in order: market (INS-998), bearer (INS-2 for getSession, INS-26 for the others),
parameters (JSON object body for POST/PUT, the query string for GET), then the operation's fields.
Every request that reaches a handler is journaled (``GET /simulator/openapi/calls``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Request, Response, request

from simulator import clock, jsonenc
from simulator.faults import Fault
from simulator.openapi import codes
from simulator.openapi.codes import Ins, OpenApiError
from simulator.openapi.control import control_blueprint
from simulator.openapi.service import Answer, RequestContext
from simulator.openapi.sessions import Environment
from simulator.openapi.state import Call
from simulator.openapi.validation import Params, as_text
from simulator.responses import json_response

if TYPE_CHECKING:
    from simulator.core import Simulator

log = logging.getLogger(__name__)

PREFIX = "/<any(sandbox, openapi):environment>/ipg/v2/<market>"
OPENAPI_PATH = re.compile(r"^/(sandbox|openapi)/ipg/v2/")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
OPERATIONS: dict[str, str] = {  # path suffix -> method
    "getSession/": "GET",
    "c2bPayment/singleStage/": "POST",
    "b2cPayment/": "POST",
    "queryTransactionStatus/": "GET",
    "reversal/": "PUT",
}
CALLER_ID_FIELD = "input_ThirdPartyConversationID"

# ``status`` faults on OpenAPI paths: the code for the injected HTTP status (else INS-1 for 5xx,
# INS-21 for 4xx). The HTTP status is always the fault's own.
FAULT_CODES: dict[int, Ins] = {
    400: codes.VALIDATION_FAILED,
    401: codes.NOT_AUTHORISED,
    408: codes.TIMEOUT,
    409: codes.DUPLICATE,
    422: codes.INSUFFICIENT_BALANCE,
    500: codes.INTERNAL_ERROR,
    503: codes.OVERLOADED,
}

Handler = Callable[[RequestContext, Params], Answer]


def is_openapi_path(path: str) -> bool:
    return OPENAPI_PATH.match(path) is not None


def is_session_path(path: str) -> bool:
    return path.endswith("/getSession/")


def error_body(ins: Ins, path: str, *, conversation_id: str = "", third_party_conversation_id: str = "") -> Any:
    """The one error shape: code and description, plus the echo fields on transaction paths."""
    if is_session_path(path):
        return codes.body(ins)
    return codes.transaction_body(
        ins,
        transaction_id="",
        conversation_id=conversation_id,
        third_party_conversation_id=third_party_conversation_id,
    )


def status_fault_response(fault: Fault) -> Response:
    """A ``status`` fault on an OpenAPI path, answered before anything happens (no ConversationID)."""
    spec = fault.spec
    if spec.body is not None:
        return Response(spec.body, status=spec.status, mimetype="text/plain")
    ins = FAULT_CODES.get(spec.status, codes.INTERNAL_ERROR if spec.status >= 500 else codes.VALIDATION_FAILED)
    return json_response(error_body(ins, request.path), spec.status)


def input_params(req: Request) -> dict[str, Any]:
    """GET: the query string. POST/PUT: a JSON object body with a JSON content type. No body is
    INS-20 (no parameter provided); a body that is not a JSON object is INS-21."""
    if req.method == "GET":
        return dict(req.args.items())
    raw = req.get_data(cache=True)
    if not raw.strip():
        raise OpenApiError(codes.MISSING_PARAMETERS)
    if req.mimetype != "application/json":
        raise OpenApiError(codes.VALIDATION_FAILED)
    try:
        parsed = jsonenc.loads(raw)
    except ValueError:
        raise OpenApiError(codes.VALIDATION_FAILED) from None
    if not isinstance(parsed, dict):
        raise OpenApiError(codes.VALIDATION_FAILED)
    return parsed


def echoed_caller_id(req: Request) -> str:
    """The request's ThirdPartyConversationID, for the echo of any answer (even a refusal that
    comes before the parameters are checked); "" if there is none. Never raises."""
    if req.method == "GET":
        return as_text(req.args.get(CALLER_ID_FIELD)) or ""
    try:
        parsed = jsonenc.loads(req.get_data(cache=True) or b"null")
    except ValueError:
        return ""
    return (as_text(parsed.get(CALLER_ID_FIELD)) or "") if isinstance(parsed, dict) else ""


def _environment(value: str) -> Environment:
    return "sandbox" if value == "sandbox" else "openapi"


def openapi_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("openapi", __name__, url_prefix=PREFIX)
    service = sim.openapi

    def journal(
        environment: str,
        market: str,
        operation: Any,
        status: int,
        body: dict[str, Any],
        caller_id: str | None,
        conversation_id: str | None,
    ) -> None:
        service.store.record_call(
            Call(
                time=clock.iso(clock.now_eat()),
                environment=environment,
                market=market,
                operation=operation,
                method=request.method,
                third_party_conversation_id=caller_id,
                conversation_id=conversation_id,
                http_status=status,
                response_code=str(body.get("output_ResponseCode", "")),
            )
        )

    def transaction(operation: str, environment: str, market: str, handler: Handler) -> Response:
        env = _environment(environment)
        ctx = RequestContext(env, market, service.ids.conversation_id())
        caller_id = echoed_caller_id(request)
        try:
            service.check_market(market)
            service.authorise(env, market, request.headers.get("Authorization"))
            status, body = handler(ctx, input_params(request))
        except OpenApiError as error:
            status = error.ins.http_status
            body = codes.transaction_body(
                error.ins,
                transaction_id=error.transaction_id,
                conversation_id=ctx.conversation_id,
                third_party_conversation_id=caller_id,
            )
        journal(env, market, operation, status, body, caller_id or None, ctx.conversation_id)
        return json_response(body, status)

    @bp.get("/getSession/")
    def get_session(environment: str, market: str) -> Response:
        env = _environment(environment)
        try:
            session_id = service.create_session(
                env, market, request.headers.get("Authorization"), request.headers.get("Origin")
            )
            status, body = 200, codes.body(codes.SUCCESS, SessionID=session_id)
        except OpenApiError as error:
            status, body = error.ins.http_status, codes.body(error.ins)
        journal(env, market, "session", status, body, None, None)
        return json_response(body, status)

    @bp.post("/c2bPayment/singleStage/")
    def c2b(environment: str, market: str) -> Response:
        return transaction("c2b", environment, market, service.c2b)

    @bp.post("/b2cPayment/")
    def b2c(environment: str, market: str) -> Response:
        return transaction("b2c", environment, market, service.b2c)

    @bp.get("/queryTransactionStatus/")
    def query(environment: str, market: str) -> Response:
        return transaction("query", environment, market, service.query)

    @bp.put("/reversal/")
    def reversal(environment: str, market: str) -> Response:
        return transaction("reversal", environment, market, service.reversal)

    def not_found(environment: str, market: str, rest: str = "") -> Response:
        """Unknown operation, missing trailing slash, or wrong method: no INS code (the gateway
        answers before the API), so a plain ``{"output_error": ...}`` body."""
        if rest in OPERATIONS:
            return json_response({"output_error": "Method Not Allowed"}, 405)
        return json_response({"output_error": "Resource Not Found"}, 404)

    for suffix in OPERATIONS:  # without the trailing slash: 404, not Flask's redirect to the slashed path
        bp.add_url_rule(
            f"/{suffix.rstrip('/')}", endpoint=f"no_slash_{suffix}", view_func=not_found, methods=ALL_METHODS
        )
    bp.add_url_rule("/<path:rest>", endpoint="not_found", view_func=not_found, methods=ALL_METHODS)

    @bp.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response(error_body(codes.INTERNAL_ERROR, request.path), codes.INTERNAL_ERROR.http_status)

    return bp


def register_openapi(app: Flask, sim: Simulator) -> None:
    """Add the OpenAPI paths and their control API (``/simulator/openapi/...``) to the app."""
    app.register_blueprint(openapi_blueprint(sim))
    app.register_blueprint(control_blueprint(sim))
