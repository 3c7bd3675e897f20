"""Control API for the customer's side: scripted customers and the simulator's truth per customer and
per payout, and Pull registrations.

Same rules as ``routes_control`` (JSON, under ``/simulator/``, same-origin only: see ``app``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request
from pydantic import ValidationError

from simulator.customers import CustomerTruth, script_view
from simulator.errors import ControlError
from simulator.pull import pull_registration_view
from simulator.responses import control_body, json_response
from simulator.state import CustomerScript

if TYPE_CHECKING:
    from simulator.core import Simulator

CUSTOMER_MSISDN = re.compile(r"^254\d{9}$")


def _msisdn(value: str) -> str:
    if not CUSTOMER_MSISDN.match(value):
        raise ControlError(400, f"not an MSISDN (254 and 9 digits): {value}")
    return value


def customers_blueprint(sim: Simulator) -> Blueprint:
    bp = Blueprint("customers", __name__, url_prefix="/simulator")
    truth = CustomerTruth(sim)

    # --- scripted customers and the simulator's truth ------------------------------------------
    @bp.get("/customers")
    def customers() -> Response:
        return json_response(truth.customers())

    @bp.get("/customers/<msisdn>")
    def customer(msisdn: str) -> Response:
        return json_response(truth.customer(_msisdn(msisdn)))

    @bp.put("/customers/<msisdn>")
    def script_customer(msisdn: str) -> Response:
        number = _msisdn(msisdn)
        try:
            script = CustomerScript.model_validate(control_body(request))
        except ValidationError as error:
            detail = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors())
            raise ControlError(400, detail) from None
        sim.store.set_script(number, script)
        return json_response(script_view(number, script))

    @bp.delete("/customers/<msisdn>")
    def unscript_customer(msisdn: str) -> Response:
        number = _msisdn(msisdn)
        sim.store.set_script(number, None)
        return json_response(script_view(number, None))

    @bp.get("/payouts")
    def payouts() -> Response:
        return json_response(truth.payouts(request.args.get("originator_conversation_id")))

    @bp.get("/pull/registrations")
    def pull_registrations() -> Response:
        return json_response([pull_registration_view(r) for r in sim.store.list_pull_registrations()])

    return bp
