"""Daraja's public paths. Every route but OAuth needs ``Authorization: Bearer <token>``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from flask import Blueprint, Response, g, request

from simulator.auth import expires_in_value
from simulator.faults import Fault
from simulator.responses import daraja_body, json_response

if TYPE_CHECKING:
    from simulator.core import Simulator

Handler = Callable[[dict[str, Any]], dict[str, Any] | tuple[int, dict[str, Any]]]


def current_fault() -> Fault | None:
    fault = g.get("fault")
    return fault if isinstance(fault, Fault) else None


def daraja_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("daraja", __name__)

    def protected(handler: Handler) -> Response:
        sim.tokens.require(request.headers.get("Authorization"))
        result = handler(daraja_body(request))
        status, body = result if isinstance(result, tuple) else (200, result)
        return json_response(body, status)

    @bp.get("/oauth/v1/generate")
    def oauth() -> Response:
        config = sim.config
        token = sim.tokens.issue(request.headers.get("Authorization"), request.args.get("grant_type"), config)
        return json_response({"access_token": token.access_token, "expires_in": expires_in_value(token, config)})

    @bp.post("/mpesa/stkpush/v1/processrequest")
    def stk_push() -> Response:
        return protected(sim.stk.push)

    @bp.post("/mpesa/stkpushquery/v1/query")
    def stk_query() -> Response:
        return protected(lambda body: sim.stk.query(body, current_fault()))

    @bp.post("/mpesa/c2b/<any(v1, v2):version>/registerurl")
    def c2b_register(version: str) -> Response:
        chosen: Literal["v1", "v2"] = "v1" if version == "v1" else "v2"
        return protected(lambda body: sim.c2b.register(body, chosen))

    @bp.post("/mpesa/c2b/<any(v1, v2):version>/simulate")
    def c2b_simulate(version: str) -> Response:
        return protected(sim.c2b.simulate)

    @bp.post("/mpesa/b2c/<any(v1, v3):version>/paymentrequest")
    def b2c(version: str) -> Response:
        chosen: Literal["v1", "v3"] = "v1" if version == "v1" else "v3"
        return protected(lambda body: sim.b2c.pay(body, chosen, current_fault()))

    @bp.post("/mpesa/transactionstatus/v1/query")
    def transaction_status() -> Response:
        return protected(lambda body: sim.inquiries.status(body, current_fault()))

    @bp.post("/mpesa/accountbalance/v1/query")
    def account_balance() -> Response:
        return protected(lambda body: sim.inquiries.balance(body, current_fault()))

    @bp.post("/mpesa/reversal/v1/request")
    def reversal() -> Response:
        return protected(lambda body: sim.inquiries.reversal(body, current_fault()))

    @bp.post("/pulltransactions/v1/register")
    def pull_register() -> Response:
        return protected(sim.pull.register)

    @bp.post("/pulltransactions/v1/query")
    def pull_query() -> Response:
        return protected(sim.pull.query)

    return bp
