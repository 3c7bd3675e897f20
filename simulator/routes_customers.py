"""Control API for the customer's side: scripted customers, the simulator's truth per customer and
per payout, Pull registrations, and the virtual phone's Pay Bill / Buy Goods screen.

Same rules as ``routes_control`` (JSON, under ``/simulator/``, same-origin only: see ``app``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from pydantic import ValidationError

from simulator.c2b import C2BOutcome
from simulator.customers import CustomerTruth, script_view
from simulator.errors import ControlError, DarajaError
from simulator.pull import pull_registration_view
from simulator.responses import control_body, json_response
from simulator.state import CustomerScript

if TYPE_CHECKING:
    from simulator.core import Simulator

CUSTOMER_MSISDN = re.compile(r"^254\d{9}$")
PAYBILL_TYPES = {"paybill": "CustomerPayBillOnline", "buygoods": "CustomerBuyGoodsOnline"}
# The phone's words for the c2b/simulate fields it fills.
PHONE_FIELDS = {
    "ShortCode": "business number",
    "BillRefNumber": "account number",
    "Amount": "amount",
    "Msisdn": "phone number",
    "CommandID": "payment type",
}


def _msisdn(value: str) -> str:
    if not CUSTOMER_MSISDN.match(value):
        raise ControlError(400, f"not an MSISDN (254 and 9 digits): {value}")
    return value


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ControlError(400, f"{key} must be a string")
    return str(value)


def paybill_view(outcome: C2BOutcome, amount: int, shortcode: str) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "receipt": outcome.trans_id if outcome.status == "completed" else None,
        "amount": amount,
        "currency": "KES",
        "shortcode": shortcode,
        "urls_registered": outcome.registered,
        "result_code": outcome.result_code,
        "result_desc": outcome.result_desc,
    }


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

    # --- the virtual phone's Pay Bill / Buy Goods screen ---------------------------------------
    @bp.post("/phone/paybill")
    def phone_paybill() -> Response:
        """The customer pays a business from the phone: the same C2B flow as ``c2b/simulate``
        (validation if enabled, then confirmation), run now so the phone can show the outcome.
        A wrong PIN is refused on the phone: nothing is sent."""
        body = control_body(request)
        kind = body.get("type", "paybill")
        if not isinstance(kind, str) or kind not in PAYBILL_TYPES:
            raise ControlError(400, "type must be paybill or buygoods")
        fields = {
            "ShortCode": body.get("shortcode"),
            "CommandID": PAYBILL_TYPES[kind],
            "Amount": body.get("amount"),
            "Msisdn": body.get("msisdn"),
            "BillRefNumber": body.get("account") or None,
        }
        try:
            payment = sim.c2b.parse_payment(fields)
        except DarajaError as error:
            field = error.message.rsplit("Invalid ", 1)[-1]
            raise ControlError(400, f"invalid {PHONE_FIELDS.get(field, field)}") from None
        pin = _text(body, "pin")
        if pin is None:
            raise ControlError(400, "pin is required")
        if pin != sim.config.customer_pin:
            return json_response(
                {
                    "status": "wrong_pin",
                    "receipt": None,
                    "amount": payment.amount,
                    "currency": "KES",
                    "shortcode": payment.shortcode,
                    "result_code": None,
                    "result_desc": "Wrong PIN: nothing was sent",
                }
            )
        return json_response(paybill_view(sim.c2b.pay(payment), payment.amount, payment.shortcode))

    return bp
